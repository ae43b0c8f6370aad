/**
 * React's view of this page's peer (`PagePeer`, src/peer): hooks that subscribe to it, and the
 * settings it starts with.
 */
import { useEffect, useState } from 'react';
import type { ContentStore } from '../content/index.ts';
import type { Family, FamilySnapshot } from '../family/index.ts';
import type { NodeSnapshot, PeerService } from '../net/index.ts';
import { PagePeer, type Peer } from '../peer/index.ts';
import type { TrustClient } from '../trust/index.ts';
import { listen } from '../wire/index.ts';
import { savedDisplayName } from './displayName.ts';
import { savedDoorways } from './doorwaySettings.ts';
import { errorMessage } from './format.ts';
import {
  dialListedPeers,
  keepForOthers,
  keepOnDoorway,
  keepOnDoorwayFromUrl,
  keptCapBytes,
  maxPeers,
  replicaCopies,
} from './replicaSettings.ts';

export type PeerState =
  | { status: 'starting' }
  | { status: 'failed'; error: string }
  /**
   * `service.role` says whether this tab runs the node (leader) or uses the one running in
   * another tab of this browser (follower); `snapshot` is undefined until a follower has heard
   * from the leader.
   */
  | { status: 'running'; service: PeerService; snapshot: NodeSnapshot | undefined };

/** This page's peer: one per page. */
export const pagePeer = new PagePeer();

/** Doorways to use: the settings' list, else the origin that served the app. */
export function configuredDoorways(): string[] {
  return savedDoorways() ?? [location.origin];
}

/** This tab's peer service, once it exists (the page starts it when its store opens). */
export function peerServiceReady(): Promise<PeerService> {
  return pagePeer.ready();
}

/**
 * Calls `listener` with this tab's service now (once there is one) and whenever it is replaced
 * (a follower tab taking the lead); returns the unsubscribe.
 */
export function watchPeerService(listener: (service: PeerService) => void): () => void {
  let last: PeerService | undefined;
  const notify = () => {
    const service = pagePeer.service;
    if (!service || service === last) return;
    last = service;
    listener(service);
  };
  const unsubscribe = listen(pagePeer, 'change', notify);
  notify();
  return unsubscribe;
}

/** A value read from the page's peer, read again on each of its changes. */
function usePagePeer<T>(read: () => T): T {
  const [value, setValue] = useState(read);
  useEffect(() => {
    const update = () => setValue(read);
    update();
    return listen(pagePeer, 'change', update);
  }, [read]);
  return value;
}

const readPeer = () => pagePeer.peer;
const readTrustClient = () => pagePeer.peer?.trustClient;
const readFamily = () => pagePeer.peer?.family;

/** The running peer (node, trust layer), in the tab that runs the network (undefined in the others). */
export function useRunningPeer(): Peer | undefined {
  return usePagePeer(readPeer);
}

/** The trust-layer client, in the tab that runs the network (undefined in the others). */
export function useTrustClient(): TrustClient | undefined {
  return usePagePeer(readTrustClient);
}

/**
 * This person's family cluster (members, key grants, the families they belong to), in the tab
 * that runs the network (undefined in the others, and until the trust layer is set up).
 */
export function useFamily(): { family: Family | undefined; snapshot: FamilySnapshot | undefined } {
  const family = usePagePeer(readFamily);
  const [snapshot, setSnapshot] = useState(family?.snapshot());
  useEffect(() => {
    if (!family) return;
    const update = () => setSnapshot(family.snapshot());
    family.addEventListener('change', update);
    update();
    return () => family.removeEventListener('change', update);
  }, [family]);
  return { family, snapshot };
}

export function usePeerNode(store: ContentStore | undefined): PeerState {
  const [state, setState] = useState<PeerState>({ status: 'starting' });

  useEffect(() => {
    if (!store) return;
    let unsubscribe = () => {};
    const follow = () => {
      unsubscribe();
      if (pagePeer.error !== undefined) {
        setState({ status: 'failed', error: errorMessage(pagePeer.error) });
        return;
      }
      const service = pagePeer.service;
      if (!service) return;
      const update = () => setState({ status: 'running', service, snapshot: service.snapshot() });
      service.addEventListener('change', update);
      unsubscribe = () => service.removeEventListener('change', update);
      update();
    };
    const stopFollowing = listen(pagePeer, 'change', follow);
    keepOnDoorwayFromUrl();
    pagePeer.start({
      store,
      doorways: configuredDoorways(),
      dialListedPeers: dialListedPeers(),
      maxPeers: maxPeers(),
      copies: replicaCopies(),
      keepOnDoorway,
      keepForOthers,
      keptCapBytes,
      displayName: savedDisplayName(),
    });
    follow();
    return () => {
      stopFollowing();
      unsubscribe();
    };
  }, [store]);

  return state;
}
