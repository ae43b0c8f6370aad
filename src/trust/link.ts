/**
 * Keeps the trust layer told what this browser holds and where it can be dialled: the tab
 * that runs the node calls {@link linkTrust} once. Every item others may receive (everything
 * but `private`) is announced when it is stored and withdrawn when it is removed; shards kept
 * for others (rs-4-7 spreads them over peers) are announced as `shard_serving` for their
 * blob's hash, so a fetcher finds them too; the
 * node's dialable addresses follow it; on the first connection the library is reconciled with
 * what the trust layer already lists, so items stored while the doorway was away are announced.
 * When the person works offline, everything is marked offline (nobody should dial a peer that
 * refuses every connection) and announced again when they come back.
 */
import type { ContentChange, ContentStore } from '../content/index.ts';
import { listen } from '../wire/index.ts';
import type { TrustClient } from './types.ts';

/** Capabilities of a content-location record: the whole blob, or some of its shards. */
export const BLOB_SERVING = 'blob_serving';
export const SHARD_SERVING = 'shard_serving';

/** What the link needs of the node: its dialable addresses, and `change` when they move. */
export interface AddressSource extends EventTarget {
  snapshot(): { dialAddrs: string[]; workingOffline?: boolean };
}

export interface TrustLinkOptions {
  /** The name other people see for this agent. */
  displayName: string;
  /** Reports what could not be announced (the outbox keeps retrying what it can). */
  onError?: (error: unknown) => void;
}

/** Starts the link; the returned function stops it. */
export function linkTrust(
  trust: TrustClient,
  node: AddressSource,
  store: ContentStore,
  { displayName, onError = () => {} }: TrustLinkOptions,
): () => void {
  /** How this browser serves `hash` now: the blob, some shards of it, or nothing. */
  const serving = async (hash: string): Promise<string | undefined> => {
    const manifest = await store.manifest(hash);
    if (manifest) return manifest.reach === 'private' ? undefined : BLOB_SERVING;
    const holding = await store.holding(hash);
    return holding && holding.manifest.reach !== 'private' ? SHARD_SERVING : undefined;
  };
  let offline = node.snapshot().workingOffline === true;
  const onNodeChange = () => {
    const snapshot = node.snapshot();
    void trust.setAddresses(snapshot.dialAddrs).catch(onError);
    const nowOffline = snapshot.workingOffline === true;
    if (nowOffline === offline) return;
    offline = nowOffline;
    if (offline) void withdrawAll().catch(onError);
    else {
      reconciled = false;
      void reconcile();
    }
  };
  const withdrawAll = async () => {
    for (const a of await trust.myAnnouncements()) {
      if (a.online && a.thisDevice) await trust.withdraw(a.hash);
    }
  };
  const onStoreChange = ({ detail: event }: CustomEvent<ContentChange>) => {
    if (event.kind === 'added') {
      if (offline) return; // announced on the way back
      void serving(event.hash)
        .then((capability) => (capability ? trust.announce(event.hash, { capability }) : undefined))
        .catch(onError);
    } else if (event.kind === 'held') {
      // Shards came or went: still serving some (announce, capability and all), or nothing.
      void serving(event.hash)
        .then((capability) => {
          if (capability) return offline ? undefined : trust.announce(event.hash, { capability });
          return trust.withdraw(event.hash);
        })
        .catch(onError);
    } else if (event.kind === 'removed') {
      void trust.withdraw(event.hash).catch(onError);
    }
  };
  let reconciled = false;
  /** The doorway whose trust layer was last connected (unset until the first connection). */
  let doorway: string | undefined;
  const onTrustState = () => {
    const now = trust.state.doorway;
    if (trust.state.status === 'connected' && now !== doorway) {
      // Registered on each connection to a trust layer (the first, or another doorway's after
      // a failover), never queued while offline: a registration waiting in the outbox showed
      // as "1 change waiting" to a person who had changed nothing.
      if (doorway !== undefined) reconciled = false;
      doorway = now;
      void trust.registerAgent({ display_name: displayName }).catch(onError);
    }
    void reconcile();
  };
  const reconcile = async () => {
    if (reconciled || offline || trust.state.status !== 'connected') return;
    reconciled = true;
    try {
      const listed = new Set(
        // This device's: the person's other devices announce what they hold themselves.
        (await trust.myAnnouncements()).filter((a) => a.online && a.thisDevice).map((a) => a.hash),
      );
      for (const manifest of await store.list()) {
        if (manifest.reach !== 'private' && !listed.has(manifest.blob_hash)) {
          await trust.announce(manifest.blob_hash, { capability: BLOB_SERVING });
        }
      }
      for (const holding of await store.holdings()) {
        if (holding.manifest.reach !== 'private' && !listed.has(holding.blob_hash)) {
          await trust.announce(holding.blob_hash, { capability: SHARD_SERVING });
        }
      }
    } catch (error) {
      reconciled = false;
      onError(error);
    }
  };

  node.addEventListener('change', onNodeChange);
  store.addEventListener('change', onStoreChange);
  const stopState = listen(trust, 'state', onTrustState);
  onNodeChange();
  onTrustState();
  return () => {
    node.removeEventListener('change', onNodeChange);
    store.removeEventListener('change', onStoreChange);
    stopState();
  };
}
