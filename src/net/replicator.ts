/**
 * Keeping what this browser authored alive on other peers, so that it outlives this browser
 * (docs/design.md §8, criterion 2), and helping keep alive what it keeps shards of for others. Runs in
 * the tab that runs the node.
 *
 * - `copies`: an item authored here (none/chunked) is offered whole (`replicate`,
 *   `/elohim/replicate/1.0.0`) to direct peers until `copies` of them confirmed storing it.
 * - `shards`: an rs-4-7 item authored here is spread one shard per peer: its 7 shards on 7
 *   distinct peers (any 4 rebuild it, at 7/4 of its size instead of N whole copies).
 * - `kept`: an item this device keeps shards of without the blob. Its holders together keep
 *   all 7 shards online: when fewer are (holders left and its author is away), one of them —
 *   the one whose PeerId sorts first — fetches enough shards to rebuild the missing ones,
 *   places each on a peer that holds nothing of it, and drops what it fetched. With no such
 *   peer, a keeper whose shard another keeper also has takes a missing shard instead.
 *
 * Every item is checked again every `checkEveryMs` and whenever peers come or go: holders are
 * asked what they hold (`Holds`), so a holder that left for good stops counting and its copy
 * or shard is made again elsewhere. Items that came from peers whole are not pushed on:
 * spreading is the author's decision.
 *
 *   const replicator = new Replicator({ node, store, trust: () => trust, copies: 2 });
 *   replicator.addEventListener('change', (e) => show(e.hash, e.health));
 */
import type { PeerId } from '@libp2p/interface';
import { peerIdFromString } from '@libp2p/peer-id';
import type {
  ContentChange,
  ContentHash,
  ContentStore,
  RemoteManifest,
  StoredManifest,
} from '../content/index.ts';
import { type AgentKey, mayReplicateTo, type ReachItem, type TrustView } from '../reach/index.ts';
import type { HolderFinder } from './fetch.ts';
import { replicate, replicationGate } from './replicate/index.ts';
import type { Holding, Libp2pDialLike } from './shard/index.ts';
import { type Census, census, coverage, moveShard, placeShards, repairShards } from './shards.ts';

/** What the replicator needs of the node (a `PeerNode` is one). */
export interface ReplicatorNode extends EventTarget {
  readonly libp2p: Libp2pDialLike;
  /** Peers other than doorways with a direct connection now; `change` fires when they may differ. */
  directPeers(): string[];
}

/**
 * - `local`: no peer this device knows may hold it (e.g. private with no other own device).
 * - `replicating`: an offer round is running. `replicated`: all wanted copies or shards are
 *   on live peers. `repairing`: this device is rebuilding missing shards.
 * - `waiting`: short; retried after a pause, and whenever peers come or go.
 */
export type ReplicaHealthState = 'local' | 'replicating' | 'replicated' | 'waiting' | 'repairing';

export interface ReplicaHealth {
  hash: ContentHash;
  /**
   * `copies`: whole copies of an item authored here; `shards`: the 7 shards of an rs-4-7 item
   * authored here, one per peer; `kept`: an item this device keeps shards of for others.
   */
  kind: 'copies' | 'shards' | 'kept';
  /** Copies asked for, or 7 (shards). */
  wanted: number;
  /**
   * `copies`: peers that hold a copy; `shards`: peers that keep one of its shards; `kept`:
   * the other live peers holding some of it, at the last check.
   */
  stored: string[];
  /**
   * `shards`: the peer keeping each shard (null: none yet); `kept`: for each shard, a live
   * holder (`me` for this device), or null when no live holder has it.
   */
  shards?: (string | null)[];
  /** `kept`: the shards this device keeps. */
  mine?: number[];
  state: ReplicaHealthState;
  /** Why it is short or stays here, in words for people. */
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
  /** Peers that should hold a whole copy of each authored none/chunked item. Default 2. */
  copies?: number;
  /**
   * A round that leaves an item short is retried after `firstMs`, doubling up to `maxMs`, at
   * most `attempts` times; after that the item waits for peers to come or go. Defaults 2 s,
   * 60 s, 5.
   */
  retry?: { firstMs?: number; maxMs?: number; attempts?: number };
  /** How often every item's holders are checked again. Default 60 s. */
  checkEveryMs?: number;
  /** Kept items: rebuild when fewer than this many of the 7 shards are online. Default 7. */
  repairBelow?: number;
  /** Holders beyond the direct peers (e.g. the trust layer's), for kept items. */
  finder?: HolderFinder;
}

interface Entry {
  health: ReplicaHealth;
  item: ReachItem;
  /** Timed retries since peers last came or went. */
  retries: number;
  /** When the next round may run; `Infinity` waits for peers to come or go. */
  dueAt: number;
  /** Aborts this item's round when the item is removed. */
  cancel: AbortController;
}

/**
 * A round's verdict: done (checked again later), or short with the reason, to be tried again
 * with backoff (default), at the next check, or at once.
 */
type Outcome = { done: true } | { done: false; reason: string; next?: 'backoff' | 'check' | 'now' };

const SHARDS = 7;
/** Peers coming and going settle for this long before kept items are checked again. */
const SETTLE_MS = 1_500;

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
  readonly #checkEveryMs: number;
  readonly #repairBelow: number;
  readonly #finder: HolderFinder | undefined;
  readonly #entries = new Map<ContentHash, Entry>();
  readonly #stop = new AbortController();
  /** Direct peers at the last node change: one not among them is new. */
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
    const repairBelow = options.repairBelow ?? SHARDS;
    if (!Number.isSafeInteger(repairBelow) || repairBelow < 5 || repairBelow > SHARDS) {
      throw new RangeError(`repairBelow must be 5, 6 or 7 (of 7 shards), got ${repairBelow}.`);
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
    this.#checkEveryMs = options.checkEveryMs ?? 60_000;
    this.#repairBelow = repairBelow;
    this.#finder = options.finder;
    this.#peers = new Set(this.#node.directPeers());
    this.#store.addEventListener('change', this.#onStoreChange);
    this.#node.addEventListener('change', this.#onNodeChange);
    this.#running = this.#run();
  }

  /** Every tracked item's health. */
  health(): ReplicaHealth[] {
    return [...this.#entries.values()].map((e) => copyHealth(e.health));
  }

  /** Stops offering (rounds in flight are aborted); resolves when the loop has ended. */
  async close(): Promise<void> {
    this.#store.removeEventListener('change', this.#onStoreChange);
    this.#node.removeEventListener('change', this.#onNodeChange);
    this.#stop.abort();
    this.#poke();
    await this.#running;
  }

  readonly #onStoreChange = ({ detail: event }: CustomEvent<ContentChange>) => {
    // Remote changes count too: a file added in another tab of this browser is authored here.
    if (event.kind === 'removed') this.#untrack(event.hash);
    else if (event.kind === 'added' || event.kind === 'held') void this.#retrack(event.hash);
  };

  readonly #onNodeChange = () => {
    const now = new Set(this.#node.directPeers());
    const arrived = [...now].some((p) => !this.#peers.has(p));
    const left = [...this.#peers].filter((p) => !now.has(p));
    this.#peers = now;
    if (!arrived && left.length === 0) return;
    for (const entry of this.#entries.values()) {
      const { state, kind, stored } = entry.health;
      if (state === 'replicating' || state === 'repairing') continue;
      // A new peer may take what the others declined; a peer gone may have held a copy; for
      // kept items every holder counts, so any change is worth a look once it settles.
      const lost = left.some((p) => stored.includes(p));
      if (kind === 'kept' || lost || (arrived && state !== 'replicated')) {
        entry.retries = 0;
        entry.dueAt = Math.min(entry.dueAt, Date.now() + (kind === 'kept' ? SETTLE_MS : 0));
      }
    }
    this.#poke();
  };

  /** Starts, changes or stops tracking `hash` as the store now holds it. */
  async #retrack(hash: ContentHash): Promise<void> {
    const manifest = await this.#store.manifest(hash).catch(() => undefined);
    if (manifest) {
      const tracked = this.#entries.get(hash);
      if (tracked?.health.kind === 'kept') this.#untrack(hash);
      this.#trackAuthored(manifest);
      return;
    }
    const holding = await this.#store.holding(hash).catch(() => undefined);
    if (holding) this.#track(hash, 'kept', holding.manifest);
    else if (this.#entries.get(hash)?.health.kind === 'kept') this.#untrack(hash);
  }

  #trackAuthored(manifest: StoredManifest): void {
    if (manifest.author_id !== this.#trust().me) return;
    this.#track(manifest.blob_hash, manifest.encoding === 'rs-4-7' ? 'shards' : 'copies', manifest);
  }

  #track(hash: ContentHash, kind: ReplicaHealth['kind'], manifest: RemoteManifest): void {
    if (this.#entries.has(hash) || this.#stop.signal.aborted) return;
    const health: ReplicaHealth = {
      hash,
      kind,
      wanted: kind === 'copies' ? this.#copies : SHARDS,
      stored: [],
      state: 'waiting',
    };
    if (kind !== 'copies') health.shards = new Array(manifest.total_shards).fill(null);
    const entry: Entry = {
      health,
      item: { reach: manifest.reach, owner: (manifest.author_id ?? this.#trust().me) as AgentKey },
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
    for (const manifest of await this.#store.list().catch(() => [])) this.#trackAuthored(manifest);
    for (const holding of await this.#store.holdings().catch(() => [])) {
      this.#track(holding.blob_hash, 'kept', holding.manifest);
    }
    while (!stop.aborted) {
      const now = Date.now();
      const due = [...this.#entries.values()].find((e) => e.dueAt <= now);
      if (due) {
        await this.#round(due);
        continue;
      }
      let next = Number.POSITIVE_INFINITY;
      for (const e of this.#entries.values()) next = Math.min(next, e.dueAt);
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

  /** One round for one item: check its holders, then make what is missing. */
  async #round(entry: Entry): Promise<void> {
    const signal = AbortSignal.any([this.#stop.signal, entry.cancel.signal]);
    let outcome: Outcome;
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
      const round =
        entry.health.kind === 'copies'
          ? this.#copiesRound
          : entry.health.kind === 'shards'
            ? this.#shardsRound
            : this.#keptRound;
      outcome = await round.call(this, entry, trust, signal);
    } catch (e) {
      // Closed or removed: nothing more to say about this item.
      if (signal.aborted) return;
      outcome = { done: false, reason: message(e) };
    }
    if (outcome.done) {
      entry.retries = 0;
      entry.dueAt = Date.now() + this.#checkEveryMs;
      this.#set(entry, { state: 'replicated', reason: undefined });
      return;
    }
    if (outcome.next === 'now') entry.dueAt = 0;
    else if (outcome.next === 'check') {
      // Nothing to do until peers come or go (or the next check).
      entry.dueAt = Date.now() + this.#checkEveryMs;
    } else {
      entry.retries++;
      entry.dueAt =
        entry.retries > this.#retry.attempts
          ? Date.now() + this.#checkEveryMs
          : Date.now() +
            Math.min(this.#retry.firstMs * 2 ** (entry.retries - 1), this.#retry.maxMs);
    }
    this.#set(entry, { state: 'waiting', reason: outcome.reason });
  }

  /** Whole copies: keep the copies that are still there, offer more to direct peers. */
  async #copiesRound(entry: Entry, trust: TrustView, signal: AbortSignal): Promise<Outcome> {
    const { hash, wanted } = entry.health;
    const online = this.#node.directPeers();
    const before = await this.#stillHolding(entry, (h) => h === 'all', signal);
    if (before.length >= wanted) return { done: true };
    const candidates: PeerId[] = online
      .filter((p) => !before.includes(p))
      .map((p) => peerIdFromString(p));
    if (candidates.length === 0) {
      return {
        done: false,
        next: 'check',
        reason:
          online.length === 0 ? 'no other peer is online' : 'every peer online holds it already',
      };
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
    if (entry.health.stored.length >= wanted) return { done: true };
    const misses = report.peers.filter((p) => p.state !== 'stored');
    return {
      done: false,
      reason:
        misses
          .slice(0, 2)
          .map((p) => `${shortPeer(p.peer)} ${p.state}: ${p.reason ?? 'no reason given'}`)
          .join('; ') || 'too few peers online',
    };
  }

  /** An authored rs-4-7 item: each shard on its own peer; shards whose peer left go elsewhere. */
  async #shardsRound(entry: Entry, trust: TrustView, signal: AbortSignal): Promise<Outcome> {
    const shards = [...(entry.health.shards ?? [])];
    const held = await census(
      this.#node.libp2p,
      shards.filter((p): p is string => p !== null),
      entry.health.hash,
      SHARDS,
      signal,
    );
    shards.forEach((peer, s) => {
      const h = peer === null ? undefined : held.get(peer);
      if (!(h === 'all' || h?.includes(s))) shards[s] = null;
    });
    this.#setShards(entry, shards);
    const missing = shards.flatMap((p, s) => (p === null ? [s] : []));
    if (missing.length === 0) return { done: true };
    const online = this.#node.directPeers();
    const candidates = online.filter((p) => !shards.includes(p));
    if (candidates.length === 0) {
      return { done: false, next: 'check', reason: this.#fewPeers(missing.length, online.length) };
    }
    this.#set(entry, { state: 'replicating', reason: undefined });
    await placeShards(this.#node.libp2p, this.#store, entry.health.hash, missing, candidates, {
      gate: replicationGate(entry.item, trust),
      signal,
      onPlaced: (shard, peer) => {
        shards[shard] = peer;
        this.#setShards(entry, shards);
      },
    });
    const left = shards.filter((p) => p === null).length;
    if (left === 0) return { done: true };
    return { done: false, reason: this.#fewPeers(left, online.length) };
  }

  #fewPeers(missing: number, online: number): string {
    const placed = SHARDS - missing;
    const risk =
      placed < 4 ? `; until 4 peers keep a shard it cannot be rebuilt without this browser` : '';
    return `${missing} shard(s) wait for peers that hold nothing of it (${online} peer(s) online)${risk}`;
  }

  /**
   * Shards kept for others: count the shards online among all holders; when too few are, the
   * first holder by PeerId rebuilds the missing ones and places them on peers holding none.
   */
  async #keptRound(entry: Entry, trust: TrustView, signal: AbortSignal): Promise<Outcome> {
    const hash = entry.health.hash;
    const holding = await this.#store.holding(hash);
    if (!holding) {
      this.#untrack(hash);
      return { done: true };
    }
    const mine = holding.shards.map((s) => s.index);
    const manifest = holding.manifest;
    const peers = new Set(this.#node.directPeers());
    if (this.#finder) {
      for (const p of await this.#finder.findHolders(hash, { signal }).catch(() => [])) {
        peers.add(p.toString());
      }
    }
    const held = await census(this.#node.libp2p, peers, hash, manifest.total_shards, signal);
    const online = coverage(manifest.total_shards, held, mine);
    const holders = [...held].filter(([, h]) => h !== null).map(([p]) => p);
    this.#set(entry, { stored: holders, shards: online, mine });
    const up = online.filter((p) => p !== null).length;
    if (up >= this.#repairBelow || up === manifest.total_shards) return { done: true };
    if (up < manifest.data_shards) {
      return {
        done: false,
        next: 'check',
        reason: `only ${up} of ${manifest.total_shards} shards are online: it cannot be rebuilt until more of its holders return`,
      };
    }
    const me = this.#myPeerId();
    const missing = online.flatMap((p, s) => (p === null ? [s] : []));
    const empty = [...held]
      .filter(([, h]) => h === null)
      .map(([p]) => p)
      .sort();
    const node = { libp2p: this.#node.libp2p, isDirectPeer: () => true };
    const plan = { manifest, mine, online, held };
    if (empty.length === 0) {
      // Nobody is free to take a missing shard, but a shard two keepers have is one too
      // many: all its keepers but the first by PeerId take missing shards instead, in order.
      const extras = duplicateKeepers(manifest.total_shards, held, mine, me);
      const mineAt = extras.findIndex((x) => x.peer === me);
      const to = missing[mineAt];
      if (mineAt === -1 || to === undefined) {
        return {
          done: false,
          next: 'check',
          reason: `${up} of ${manifest.total_shards} shards online; no peer that holds none of it is online to take the others`,
        };
      }
      this.#set(entry, { state: 'repairing', reason: undefined });
      const from = (extras[mineAt] as { shard: number }).shard;
      await moveShard(node, this.#store, { ...plan, from, to }, signal);
      return { done: false, next: 'now', reason: 'checking the rebuilt shard' };
    }
    const repairer = [me, ...holders].sort()[0] as string;
    if (repairer !== me) {
      return {
        done: false,
        next: 'check',
        reason: `${up} of ${manifest.total_shards} shards online; ${shortPeer(repairer)} rebuilds the others`,
      };
    }
    this.#set(entry, { state: 'repairing', reason: undefined });
    await repairShards(
      node,
      this.#store,
      { ...plan, targets: missing.slice(0, empty.length), candidates: empty },
      { gate: replicationGate(entry.item, trust), signal },
    );
    // Count again now: the new holders should answer.
    return { done: false, next: 'now', reason: 'checking the rebuilt shards' };
  }

  #myPeerId(): string {
    return (this.#node.libp2p as { peerId?: PeerId }).peerId?.toString() ?? '';
  }

  /** The stored peers that still hold what `holds` wants (asked now); the others are dropped. */
  async #stillHolding(
    entry: Entry,
    holds: (h: Holding) => boolean,
    signal: AbortSignal,
  ): Promise<string[]> {
    const { stored, hash } = entry.health;
    if (stored.length === 0) return [];
    const held = await census(this.#node.libp2p, stored, hash, SHARDS, signal);
    const still = stored.filter((p) => {
      const h = held.get(p);
      return h !== undefined && h !== null && holds(h);
    });
    if (still.length !== stored.length) this.#set(entry, { stored: still });
    return still;
  }

  #setShards(entry: Entry, shards: (string | null)[]): void {
    this.#set(entry, {
      shards: [...shards],
      stored: shards.filter((p): p is string => p !== null),
    });
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
    this.dispatchEvent(new ReplicaChangeEvent(entry.health.hash, copyHealth(entry.health)));
  }
}

/**
 * Keepers of a shard that another keeper with a smaller PeerId also has (this device among
 * them, as `me`), sorted by PeerId: each is one copy too many.
 */
function duplicateKeepers(
  totalShards: number,
  held: Census,
  mine: readonly number[],
  me: string,
): { peer: string; shard: number }[] {
  const extras: { peer: string; shard: number }[] = [];
  for (let shard = 0; shard < totalShards; shard++) {
    const keepers = [...held]
      .filter(([, h]) => Array.isArray(h) && h.includes(shard))
      .map(([p]) => p);
    if (mine.includes(shard)) keepers.push(me);
    for (const peer of keepers.sort().slice(1)) extras.push({ peer, shard });
  }
  return extras.sort((a, b) => (a.peer < b.peer ? -1 : a.peer > b.peer ? 1 : a.shard - b.shard));
}

function copyHealth(h: ReplicaHealth): ReplicaHealth {
  return {
    ...h,
    stored: [...h.stored],
    ...(h.shards ? { shards: [...h.shards] } : {}),
    ...(h.mine ? { mine: [...h.mine] } : {}),
  };
}
