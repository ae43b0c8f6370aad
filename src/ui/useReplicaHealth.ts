import { useSyncExternalStore } from 'react';
import type { PeerService, ReplicaHealth } from '../net/index.ts';
import { listen, TypedEventEmitter } from '../wire/index.ts';
import { watchPeerService } from './usePeerNode.ts';

/**
 * Replica health for every row comes from one subscription to this tab's peer service (the
 * leader's replicator, mirrored to follower tabs). The service hands out a new map only when
 * some item's health changed, and keeps the other entries as they were, so a row re-renders
 * only when its own item's health changes.
 */
let replicas: ReadonlyMap<string, ReplicaHealth> = new Map();
const changed = new TypedEventEmitter<{ change: CustomEvent<void> }>();
let stopWatching: (() => void) | undefined;

function follow(): () => void {
  let following: PeerService | undefined;
  let unfollow = () => {};
  const unwatch = watchPeerService((service) => {
    if (service === following) return;
    unfollow();
    following = service;
    const update = () => {
      const next = service.replicas();
      if (next === replicas) return;
      replicas = next;
      changed.safeDispatchEvent('change');
    };
    service.addEventListener('change', update);
    unfollow = () => service.removeEventListener('change', update);
    update();
  });
  return () => {
    unwatch();
    unfollow();
  };
}

function subscribe(listener: () => void): () => void {
  const unsubscribe = listen(changed, 'change', listener);
  stopWatching ??= follow();
  return () => {
    unsubscribe();
    if (changed.listenerCount('change') > 0) return;
    stopWatching?.();
    stopWatching = undefined;
  };
}

/** How many peers hold a copy of `hash`; undefined for items this browser does not replicate. */
export function useReplicaHealth(hash: string): ReplicaHealth | undefined {
  return useSyncExternalStore(subscribe, () => replicas.get(hash));
}
