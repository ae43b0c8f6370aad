import { useEffect, useState } from 'react';
import type { ContentStore } from '../content/index.ts';
import type { Family, FamilySnapshot } from '../family/index.ts';
import type { NodeSnapshot, PeerService, SpaceBudget } from '../net/index.ts';
import type { AgentKey, TrustView } from '../reach/index.ts';
import type { AddressSource, TrustClient } from '../trust/index.ts';
import { listen } from '../wire/index.ts';
import { savedDisplayName } from './displayName.ts';
import { savedDoorways } from './doorwaySettings.ts';
import { errorMessage } from './format.ts';
import { myAgent } from './identity.ts';
import { dialListedPeers, replicaCopies } from './replicaSettings.ts';
import { syncReady } from './useSync.ts';

export type PeerState =
  | { status: 'starting' }
  | { status: 'failed'; error: string }
  /**
   * `service.role` says whether this tab runs the node (leader) or uses the one running in
   * another tab of this browser (follower); `snapshot` is undefined until a follower has heard
   * from the leader.
   */
  | { status: 'running'; service: PeerService; snapshot: NodeSnapshot | undefined };

const LOCK = 'elohim-peer-node';

/** Doorways to use: the settings' list, else the origin that served the app. */
export function configuredDoorways(): string[] {
  return savedDoorways() ?? [location.origin];
}

/** This page's current service: a follower until (and unless) this tab gets the lock. */
let current: PeerService | undefined;
let startError: unknown;
const serviceChanged = new EventTarget();
let started = false;

function setService(service: PeerService): void {
  current = service;
  serviceChanged.dispatchEvent(new Event('change'));
}

/**
 * One node per browser profile: the tab holding the Web Lock runs it; the others follow it
 * over a BroadcastChannel and queue for the lock, so when the leading tab closes the next tab
 * starts its own node at once. libp2p loads on demand so it stays off the first paint.
 */
function startPeerService(store: ContentStore): void {
  if (started) return;
  started = true;
  const lead = async () => {
    try {
      const [net, { deliveryGate }, trustLayer, familyLayer] = await Promise.all([
        import('../net/index.ts'),
        import('../reach/index.ts'),
        import('../trust/index.ts'),
        import('../family/index.ts'),
      ]);
      const deviceKey = await net.loadOrCreateDeviceKey();
      const me = await myAgent();
      // What the gates know of people: filled in from the trust layer's links and the family
      // cluster as they arrive (nobody's family until the trust layer has been asked).
      const links = new Map<string, string>();
      const nobody: ReadonlySet<AgentKey> = new Set();
      const trust: TrustView = {
        me,
        myDevices: new Set(),
        links,
        get cluster() {
          return familyService?.members ?? nobody;
        },
        clusterOf: (owner) => familyService?.clusterOf(owner),
      };
      const copies = replicaCopies();
      // One budget for everything others store here: copies, shards and pushes.
      const budget: SpaceBudget = { maxBytes: 2 ** 30, spaceLeft: net.storageEstimate };
      const node = await net.PeerNode.start({
        doorways: configuredDoorways(),
        store,
        privateKey: deviceKey,
        dialListedPeers: dialListedPeers(),
        shard: {
          allow: deliveryGate(
            store,
            () => trust,
            (peer, hash, reason) => console.info(`refused ${hash} to ${peer}: ${reason}`),
          ),
          // A Push stores someone's bytes here unasked: only this person's other devices may.
          push: net.pushPolicy(() => trust, budget),
        },
        // Copies other peers offer: what this device could receive anyway (commons, for now).
        replicate: { policy: { mayHold: net.holdGate(trust), ...budget } },
      });
      const connected = net.connectedPeersFinder(() => node.directPeers(), node.libp2p);
      // Who may receive which description follows the same trust view as the content.
      const reshare = () => void syncReady().then((sync) => sync.reshare());
      const trustClient = await startTrust(trustLayer, deviceKey, node, store, links, reshare);
      if (trustClient) {
        familyService = new familyLayer.Family({
          trust: trustClient,
          mySecret: deviceKey.raw,
          onError: (error) => console.warn('family cluster:', error),
        });
        familyService.addEventListener('change', reshare);
        trustChanged.dispatchEvent(new Event('change'));
      }
      const listed = trustClient && trustLayer.trustHolderFinder(trustClient, node.libp2p);
      const finder = listed ? trustLayer.combinedFinder(connected, listed) : connected;
      // What this browser authors is offered to `copies` direct peers (rs-4-7: one shard per
      // peer), as its reach allows; shards it keeps for others are kept online with their
      // other holders.
      const replicator =
        copies > 0
          ? new net.Replicator({ node, store, trust: () => trust, copies, finder: listed })
          : undefined;
      // Shared descriptions sync with peers through this tab's node, each peer receiving the
      // descriptions of the items the delivery gate would deliver to it (refusals unlogged:
      // every document is asked about for every peer).
      const describedItems = deliveryGate(store, () => trust);
      void syncReady()
        .then((sync) =>
          sync.lead(node.libp2p, (peer, hash) =>
            describedItems(peer, hash, { op: 'have', blobHash: hash }),
          ),
        )
        .catch((error: unknown) => console.warn('sync could not start:', error));
      // Fetches this tab had sent to the old leader fail now and are retried here.
      current?.close();
      setService(new net.LeaderPeerService(node, store, replicator, finder));
    } catch (error) {
      startError = error;
      serviceChanged.dispatchEvent(new Event('change'));
      return;
    }
    // Hold the lock for the life of the page.
    await new Promise(() => {});
  };
  navigator.locks
    .request(LOCK, { ifAvailable: true }, async (lock) => {
      if (lock) return lead();
      const { FollowerPeerService } = await import('../net/index.ts');
      setService(new FollowerPeerService());
      return navigator.locks.request(LOCK, lead);
    })
    .catch((error: unknown) => {
      startError = error;
      serviceChanged.dispatchEvent(new Event('change'));
    });
}

let trustClient: TrustClient | undefined;
let familyService: Family | undefined;

/**
 * Connects to the doorway's trust layer (who holds what, who trusts whom) and keeps it told
 * what this browser holds. The app works without it: a failure is logged, fetches then ask
 * connected peers only.
 */
async function startTrust(
  trustLayer: typeof import('../trust/index.ts'),
  deviceKey: Parameters<typeof trustLayer.HolochainTrustClient.create>[0]['deviceKey'],
  node: AddressSource,
  store: ContentStore,
  links: Map<string, string>,
  onLinks: () => void,
): Promise<TrustClient | undefined> {
  const doorway = configuredDoorways()[0];
  if (!doorway) return undefined;
  try {
    const client = await trustLayer.HolochainTrustClient.create({ doorway, deviceKey });
    trustLayer.linkTrust(client, node, store, {
      displayName: savedDisplayName(),
      onError: (error) => console.warn('trust layer:', error),
    });
    const refreshLinks = async () => {
      if (client.state.status !== 'connected') return;
      for (const link of await client.myRelationships()) {
        const other = link.initiator === client.me ? link.otherAgent : link.initiator;
        links.set(other, link.type);
      }
      onLinks();
    };
    listen(client, 'state', () => void refreshLinks().catch(() => {}));
    trustClient = client;
    trustChanged.dispatchEvent(new Event('change'));
    return client;
  } catch (error) {
    console.warn('trust layer unavailable:', error);
    return undefined;
  }
}

const trustChanged = new EventTarget();

/** The trust-layer client, in the tab that runs the network (undefined in the others). */
export function useTrustClient(): TrustClient | undefined {
  const [client, setClient] = useState(trustClient);
  useEffect(() => {
    const update = () => setClient(trustClient);
    trustChanged.addEventListener('change', update);
    update();
    return () => trustChanged.removeEventListener('change', update);
  }, []);
  return client;
}

/**
 * This person's family cluster (members, key grants, the families they belong to), in the tab
 * that runs the network (undefined in the others, and until the trust layer is set up).
 */
export function useFamily(): { family: Family | undefined; snapshot: FamilySnapshot | undefined } {
  const [family, setFamily] = useState(familyService);
  const [snapshot, setSnapshot] = useState(familyService?.snapshot());
  useEffect(() => {
    const update = () => setFamily(familyService);
    trustChanged.addEventListener('change', update);
    update();
    return () => trustChanged.removeEventListener('change', update);
  }, []);
  useEffect(() => {
    if (!family) return;
    const update = () => setSnapshot(family.snapshot());
    family.addEventListener('change', update);
    update();
    return () => family.removeEventListener('change', update);
  }, [family]);
  return { family, snapshot };
}

/** This tab's peer service, once it exists (the page starts it when its store opens). */
export function peerServiceReady(): Promise<PeerService> {
  return new Promise((resolve, reject) => {
    const check = () => {
      if (current) resolve(current);
      else if (startError !== undefined) reject(startError);
      else return;
      serviceChanged.removeEventListener('change', check);
    };
    serviceChanged.addEventListener('change', check);
    check();
  });
}

/**
 * Calls `listener` with this tab's service now (once there is one) and whenever it is replaced
 * (a follower tab taking the lead); returns the unsubscribe.
 */
export function watchPeerService(listener: (service: PeerService) => void): () => void {
  const notify = () => {
    if (current) listener(current);
  };
  serviceChanged.addEventListener('change', notify);
  notify();
  return () => serviceChanged.removeEventListener('change', notify);
}

export function usePeerNode(store: ContentStore | undefined): PeerState {
  const [state, setState] = useState<PeerState>({ status: 'starting' });

  useEffect(() => {
    if (!store) return;
    let unsubscribe = () => {};
    const follow = () => {
      unsubscribe();
      if (startError !== undefined) {
        setState({ status: 'failed', error: errorMessage(startError) });
        return;
      }
      const service = current;
      if (!service) return;
      const update = () => setState({ status: 'running', service, snapshot: service.snapshot() });
      service.addEventListener('change', update);
      unsubscribe = () => service.removeEventListener('change', update);
      update();
    };
    serviceChanged.addEventListener('change', follow);
    startPeerService(store);
    follow();
    return () => {
      serviceChanged.removeEventListener('change', follow);
      unsubscribe();
    };
  }, [store]);

  return state;
}
