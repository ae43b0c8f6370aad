/**
 * Keeping copies of what this browser authored on other peers, so that it outlives this
 * browser (DESIGN §8, criterion 2). Runs in the tab that runs the node: every item authored
 * here is offered (`replicate`, `/elohim/replicate/1.0.0`) to the direct peers until `copies`
 * of them confirmed storing it. Items that came from peers are not pushed on: spreading is the
 * author's decision, and their author replicates them.
 *
 *   const replicator = new Replicator({ node, store, trust: () => trust, copies: 2 });
 *   replicator.addEventListener('change', (e) => show(e.hash, e.health));
 *
 * Counts live in memory: after a restart every authored item is offered again, and peers that
 * already hold it answer `Stored` at once, which rebuilds the count without moving bytes.
 */
import type { PeerId } from '@libp2p/interface';
import { peerIdFromString } from '@libp2p/peer-id';
import type {
  ContentChangeEvent,
  ContentHash,
  ContentStore,
  StoredManifest,
} from '../content/index.ts';
import { type AgentKey, mayReplicateTo, type ReachItem, type TrustView } from '../reach/index.ts';
import { replicate, replicationGate } from './replicate/index.ts';
import type { Libp2pDialLike } from './shard/client.ts';

/** What the replicator needs of the node (a `PeerNode` is one). */
export interface ReplicatorNode extends EventTarget {
  readonly libp2p: Libp2pDialLike;
  /** Peers other than doorways with a direct connection now; `change` fires when they may differ. */
  directPeers(): string[];
}

/**
 * - `local`: no peer this device knows may hold it (e.g. private with no other own device).
 * - `replicating`: an offer round is running. `replicated`: `wanted` peers confirmed a copy.
 * - `waiting`: short of copies; retried after a pause, and whenever a new peer connects.
 */
export type ReplicaHealthState = 'local' | 'replicating' | 'replicated' | 'waiting';

export interface ReplicaHealth {
  hash: ContentHash;
  /** Copies asked for. */
  wanted: number;
  /** Peers that confirmed storing it, in the order they did (this session). */
  stored: string[];
  state: ReplicaHealthState;
  /** Why it is short of copies or stays here, in words for people. */
  reason?: string;
}

/** `health` is undefined when the item is no longer tracked (it was removed). */
export class ReplicaChangeEvent extends Event {
  constructor(
    readonly hash: ContentHash,
    readonly health: ReplicaHealth | undefined,
  ) {
    super('change');
  }
}

export interface ReplicatorOptions {
  node: ReplicatorNode;
  store: ContentStore;
  /** Read before every round: who this device is and whom it trusts. */
  trust: () => TrustView;
  /** Peers that should hold each authored item. Default 2. */
  copies?: number;
  /**
   * A round that leaves an item short is retried after `firstMs`, doubling up to `maxMs`, at
   * most `attempts` times; after that the item waits for a new peer. Defaults 2 s, 60 s, 5.
   */
  retry?: { firstMs?: number; maxMs?: number; attempts?: number };
}

interface Entry {
  health: ReplicaHealth;
  item: ReachItem;
  /** Timed retries since the last new peer. */
  retries: number;
  /** When the next round may run; `Infinity` waits for a new peer. */
  dueAt: number;
  /** Aborts this item's round when the item is removed. */
  cancel: AbortController;
}

function shortPeer(peer: string): string {
  return `…${peer.slice(-6)}`;
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export class Replicator extends EventTarget {
  readonly #node: ReplicatorNode;
  readonly #store: ContentStore;
  readonly #trust: () => TrustView;
  readonly #copies: number;
  readonly #retry: { firstMs: number; maxMs: number; attempts: number };
  readonly #entries = new Map<ContentHash, Entry>();
  readonly #stop = new AbortController();
  /** Direct peers at the last node change: a peer not among them is new. */
  #peers = new Set<string>();
  /** Ends the loop's idle wait early (an item or a peer arrived). */
  #poke: () => void = () => {};
  readonly #running: Promise<void>;

  constructor(options: ReplicatorOptions) {
    super();
    const copies = options.copies ?? 2;
    if (!Number.isSafeInteger(copies) || copies < 1) {
      throw new RangeError(`copies must be a positive integer, got ${copies}.`);
    }
    this.#node = options.node;
    this.#store = options.store;
    this.#trust = options.trust;
    this.#copies = copies;
    this.#retry = {
      firstMs: options.retry?.firstMs ?? 2_000,
      maxMs: options.retry?.maxMs ?? 60_000,
      attempts: options.retry?.attempts ?? 5,
    };
    this.#peers = new Set(this.#node.directPeers());
    this.#store.addEventListener('change', this.#onStoreChange);
    this.#node.addEventListener('change', this.#onNodeChange);
    this.#running = this.#run();
  }

  /** Every tracked item's health. */
  health(): ReplicaHealth[] {
    return [...this.#entries.values()].map((e) => ({ ...e.health, stored: [...e.health.stored] }));
  }

  /** Stops offering (rounds in flight are aborted); resolves when the loop has ended. */
  async close(): Promise<void> {
    this.#store.removeEventListener('change', this.#onStoreChange);
    this.#node.removeEventListener('change', this.#onNodeChange);
    this.#stop.abort();
    this.#poke();
    await this.#running;
  }

  readonly #onStoreChange = (event: ContentChangeEvent) => {
    // Remote changes count too: a file added in another tab of this browser is authored here.
    if (event.kind === 'added') void this.#added(event.hash);
    else if (event.kind === 'removed') this.#untrack(event.hash);
  };

  readonly #onNodeChange = () => {
    const now = new Set(this.#node.directPeers());
    const arrived = [...now].some((p) => !this.#peers.has(p));
    this.#peers = now;
    if (!arrived) return;
    // A new peer may take what the others declined, and may be one the trust view allows.
    for (const entry of this.#entries.values()) {
      if (entry.health.state === 'replicated') continue;
      entry.retries = 0;
      entry.dueAt = 0;
    }
    this.#poke();
  };

  /** Starts tracking a newly stored item when this device authored it. */
  async #added(hash: ContentHash): Promise<void> {
    const manifest = await this.#store.manifest(hash).catch(() => undefined);
    if (manifest) this.#track(manifest);
  }

  #track(manifest: StoredManifest): void {
    const hash = manifest.blob_hash;
    const me: AgentKey = this.#trust().me;
    if (manifest.author_id !== me || this.#entries.has(hash) || this.#stop.signal.aborted) return;
    const entry: Entry = {
      health: { hash, wanted: this.#copies, stored: [], state: 'waiting' },
      item: { reach: manifest.reach, owner: me },
      retries: 0,
      dueAt: 0,
      cancel: new AbortController(),
    };
    this.#entries.set(hash, entry);
    this.#emit(entry);
    this.#poke();
  }

  #untrack(hash: ContentHash): void {
    const entry = this.#entries.get(hash);
    if (!entry) return;
    this.#entries.delete(hash);
    entry.cancel.abort(new Error(`${hash} was removed from this device.`));
    this.dispatchEvent(new ReplicaChangeEvent(hash, undefined));
  }

  async #run(): Promise<void> {
    const stop = this.#stop.signal;
    // Items stored before this start (an earlier session, or while no tab led).
    for (const manifest of await this.#store.list().catch(() => [])) this.#track(manifest);
    while (!stop.aborted) {
      const now = Date.now();
      const due = [...this.#entries.values()].find(
        (e) => e.health.state !== 'replicated' && e.dueAt <= now,
      );
      if (due) {
        await this.#round(due);
        continue;
      }
      let next = Number.POSITIVE_INFINITY;
      for (const e of this.#entries.values()) {
        if (e.health.state !== 'replicated') next = Math.min(next, e.dueAt);
      }
      await this.#idle(next - now);
    }
  }

  /** Waits `ms` (forever when not finite) or until poked. */
  #idle(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = Number.isFinite(ms) ? setTimeout(() => this.#poke(), ms) : undefined;
      this.#poke = () => {
        clearTimeout(timer);
        this.#poke = () => {};
        resolve();
      };
      if (this.#stop.signal.aborted) this.#poke();
    });
  }

  /** One offer round for one item: to the direct peers that do not hold it yet. */
  async #round(entry: Entry): Promise<void> {
    const { hash, wanted } = entry.health;
    const signal = AbortSignal.any([this.#stop.signal, entry.cancel.signal]);
    let shortBecause: string;
    try {
      const trust = this.#trust();
      if (!this.#maySpread(entry.item, trust)) {
        entry.dueAt = Number.POSITIVE_INFINITY;
        this.#set(entry, {
          state: 'local',
          reason: `${entry.item.reach}: no peer this device knows may hold it, so it stays on this device`,
        });
        return;
      }
      const before = entry.health.stored;
      const online = this.#node.directPeers();
      const candidates: PeerId[] = online
        .filter((p) => !before.includes(p))
        .map((p) => peerIdFromString(p));
      if (candidates.length === 0) {
        entry.dueAt = Number.POSITIVE_INFINITY;
        this.#set(entry, {
          state: 'waiting',
          reason:
            online.length === 0 ? 'no other peer is online' : 'every peer online holds it already',
        });
        return;
      }
      this.#set(entry, { state: 'replicating', reason: undefined });
      const report = await replicate(this.#node.libp2p, this.#store, hash, candidates, {
        copies: wanted - before.length,
        gate: replicationGate(entry.item, trust),
        signal,
        // Each confirmation shows at once, not when the whole round ends.
        onProgress: (p) => this.#set(entry, { stored: [...before, ...p.stored] }),
      });
      this.#set(entry, { stored: [...before, ...report.stored] });
      if (entry.health.stored.length >= wanted) {
        this.#set(entry, { state: 'replicated' });
        return;
      }
      const misses = report.peers.filter((p) => p.state !== 'stored');
      shortBecause =
        misses
          .slice(0, 2)
          .map((p) => `${shortPeer(p.peer)} ${p.state}: ${p.reason ?? 'no reason given'}`)
          .join('; ') || 'too few peers online';
    } catch (e) {
      // Closed or removed: nothing more to say about this item.
      if (signal.aborted) return;
      shortBecause = message(e);
    }
    entry.retries++;
    entry.dueAt =
      entry.retries > this.#retry.attempts
        ? Number.POSITIVE_INFINITY
        : Date.now() + Math.min(this.#retry.firstMs * 2 ** (entry.retries - 1), this.#retry.maxMs);
    this.#set(entry, { state: 'waiting', reason: shortBecause });
  }

  /**
   * Whether any peer could ever pass the replication gate: anyone for commons; otherwise only
   * agents the trust view names (an unknown peer gets commons only).
   */
  #maySpread(item: ReachItem, trust: TrustView): boolean {
    if (item.reach === 'commons') return true;
    const known = [...trust.myDevices, ...trust.links.keys(), ...trust.cluster];
    return known.some((agent) => mayReplicateTo(item, agent, trust).allow);
  }

  #set(entry: Entry, patch: Partial<ReplicaHealth>): void {
    const next = { ...entry.health, ...patch };
    if (patch.reason === undefined && 'reason' in patch) delete next.reason;
    if (JSON.stringify(next) === JSON.stringify(entry.health)) return;
    entry.health = next;
    this.#emit(entry);
  }

  #emit(entry: Entry): void {
    if (this.#entries.get(entry.health.hash) !== entry) return;
    const health = { ...entry.health, stored: [...entry.health.stored] };
    this.dispatchEvent(new ReplicaChangeEvent(health.hash, health));
  }
}
