/**
 * Real libp2p peers on loopback for the replicator's tests: a sender whose view of its
 * connections (direct peers, doorways) is up to the test, and receivers serving the piece and
 * replicate protocols into their own stores. Call `cleanUp` after each test.
 */
import type { Libp2p } from '@libp2p/interface';
import type { ContentStore } from '../../content/index.ts';
import { type AgentKey, agentKeyOfPeer, type TrustView } from '../../reach/index.ts';
import { openTestStore } from '../../test-support/content-store.ts';
import { loopbackNode } from '../../test-support/libp2p.ts';
import { TypedEventEmitter } from '../../wire/index.ts';
import { type ReplicaPolicy, registerReplicateProtocol } from '../replicate/index.ts';
import { registerShardProtocol } from '../shard/index.ts';
import { type ReplicaHealth, Replicator, type ReplicatorNode } from './index.ts';

export const KiB = 1024;

export interface Peer {
  node: Libp2p;
  store: ContentStore;
  /** Offers that reached this peer's policy (a refused peer is never offered anything). */
  offers: () => number;
}

/** The sender's view of its connections: which peers count as direct, or as doorways, is up to the test. */
export class TestNode
  extends TypedEventEmitter<{ change: CustomEvent<void> }>
  implements ReplicatorNode
{
  readonly #peers: string[] = [];
  readonly #doorways: string[] = [];
  constructor(readonly libp2p: Libp2p) {
    super();
  }
  directPeers(): string[] {
    return [...this.#peers];
  }
  connectedDoorways(): string[] {
    return [...this.#doorways];
  }
  connect(...peers: Peer[]): void {
    this.#peers.push(...peers.map((p) => p.node.peerId.toString()));
    this.safeDispatchEvent('change');
  }
  disconnect(...peers: Peer[]): void {
    for (const p of peers) {
      const at = this.#peers.indexOf(p.node.peerId.toString());
      if (at !== -1) this.#peers.splice(at, 1);
    }
    this.safeDispatchEvent('change');
  }
  connectDoorway(doorway: Peer): void {
    this.#doorways.push(doorway.node.peerId.toString());
    this.safeDispatchEvent('change');
  }
}

const cleanups: (() => Promise<void> | void)[] = [];

/** Closes what the helpers started, newest first: `afterEach(cleanUp)`. */
export async function cleanUp(): Promise<void> {
  for (const c of cleanups.splice(0).reverse()) await c();
}

/** Runs `fn` at the next `cleanUp`. */
export function atCleanUp(fn: () => Promise<void> | void): void {
  cleanups.push(fn);
}

export async function peer(policy: ReplicaPolicy = {}): Promise<Peer> {
  const store = await openTestStore('replicator-test');
  const node = await loopbackNode();
  let offers = 0;
  const shard = await registerShardProtocol(node, store, { timeoutMs: 5_000 });
  const repl = await registerReplicateProtocol(node, store, {
    policy: {
      ...policy,
      willing: () => {
        offers++;
        return policy.willing?.() ?? true;
      },
    },
    timeoutMs: 5_000,
    pieceTimeoutMs: 5_000,
  });
  cleanups.push(async () => {
    await repl.stop();
    await shard.stop();
    await node.stop();
    store.close();
  });
  return { node, store, offers: () => offers };
}

/** A sender and receivers that can dial each other by PeerId (not yet "direct" to the sender). */
export async function network(receivers: number, policies: ReplicaPolicy[] = []) {
  const [a, ...others] = await Promise.all([
    peer(),
    ...Array.from({ length: receivers }, (_, i) => peer(policies[i])),
  ]);
  const sender = a as Peer;
  for (const x of [sender, ...others]) {
    for (const y of [sender, ...others]) {
      if (x !== y)
        await x.node.peerStore.merge(y.node.peerId, { multiaddrs: y.node.getMultiaddrs() });
    }
  }
  const me = agentKeyOfPeer(sender.node.peerId) as AgentKey;
  const trust: TrustView = { me, myDevices: new Set(), links: new Map(), cluster: new Set() };
  return { a: sender, others, node: new TestNode(sender.node), me, trust };
}

export type Network = Awaited<ReturnType<typeof network>>;

export function start(
  net: Network,
  options: Partial<ConstructorParameters<typeof Replicator>[0]> = {},
): Replicator {
  const replicator = new Replicator({
    node: net.node,
    store: net.a.store,
    trust: () => net.trust,
    ...options,
  });
  cleanups.push(() => replicator.close());
  return replicator;
}

export async function eventually<T>(
  check: () => T | undefined | false | Promise<T | undefined | false>,
  what: string,
  ms = 10_000,
): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > until) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export const healthOf = (r: Replicator, hash: string): ReplicaHealth | undefined =>
  r.health().find((h) => h.hash === hash);

export const whenState = (r: Replicator, hash: string, state: ReplicaHealth['state']) =>
  eventually(() => {
    const h = healthOf(r, hash);
    return h?.state === state && h;
  }, `${hash} is ${state}`);
