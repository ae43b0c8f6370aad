/**
 * Keeping what this browser authored alive on other peers, so that it outlives this browser
 * (docs/design.md §8, criterion 2), and helping keep alive what it keeps shards of for others.
 * Runs in the tab that runs the node.
 *
 * The `Replicator` is the scheduler: it tracks the items the store holds, runs one round at a
 * time for the item that is due, and decides when each item is due again (backoff when short,
 * the periodic check, peers coming or going). What a round does is up to the item's strategy:
 * `copies` (copies.ts), `shards` (authored-shards.ts) or `kept` (kept.ts). Beside the strategy,
 * each round of a commons item authored here offers it whole to the connected doorways
 * (doorways.ts), which keep it in addition to the copies or shards on peers.
 *
 * Every item is checked again every `checkEveryMs` and whenever peers come or go: holders are
 * asked what they hold (`Holds`), so a holder that left for good stops counting and its copy
 * or shard is made again elsewhere. Items that came from peers whole are not pushed on:
 * spreading is the author's decision.
 *
 *   const replicator = new Replicator({ node, store, trust: () => trust, copies: 2 });
 *   replicator.addEventListener('change', (e) => show(e.detail.hash, e.detail.health));
 */
import type {
  ContentChange,
  ContentHash,
  ContentStore,
  RemoteManifest,
  StoredManifest,
} from '../../content/index.ts';
import {
  type AgentKey,
  mayReplicateTo,
  type ReachItem,
  type TrustView,
} from '../../reach/index.ts';
import { errorMessage, TypedEventEmitter } from '../../wire/index.ts';
import type { HolderFinder } from '../fetch.ts';
import { AuthoredShardsStrategy } from './authored-shards.ts';
import { CopiesStrategy } from './copies.ts';
import { DoorwayKeeper } from './doorways.ts';
import { copyHealth, type ReplicaChange, type ReplicaHealth, SHARDS } from './health.ts';
import { KeptShardsStrategy } from './kept.ts';
import type { ItemRound, Outcome, ReplicaStrategy, ReplicatorNode } from './strategy.ts';

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
  /**
   * Offer commons items authored here whole to the connected doorways too (read before every
   * offer: a setting the person may change at any time). Default true.
   */
  keepOnDoorway?: boolean | (() => boolean);
}

/** `change`: an item's health changed (`detail.health` undefined: it is no longer tracked). */
export interface ReplicatorEvents {
  change: CustomEvent<ReplicaChange>;
}

interface Entry {
  health: ReplicaHealth;
  item: ReachItem;
  strategy: ReplicaStrategy;
  /** Timed retries since peers last came or went. */
  retries: number;
  /** Rounds in a row in which an offer to a doorway failed. */
  doorwayRetries: number;
  /** When the next round may run; `Infinity` waits for peers to come or go. */
  dueAt: number;
  /** Aborts this item's round when the item is removed. */
  cancel: AbortController;
}

export class Replicator extends TypedEventEmitter<ReplicatorEvents> {
  readonly #node: ReplicatorNode;
  readonly #store: ContentStore;
  readonly #trust: () => TrustView;
  readonly #strategies: Record<ReplicaHealth['kind'], ReplicaStrategy>;
  readonly #doorwayKeeper: DoorwayKeeper;
  readonly #retry: { firstMs: number; maxMs: number; attempts: number };
  readonly #checkEveryMs: number;
  readonly #entries = new Map<ContentHash, Entry>();
  readonly #stop = new AbortController();
  /** Direct peers at the last node change: one not among them is new. */
  #peers = new Set<string>();
  /** Doorways connected at the last node change: one not among them is new. */
  #doorways = new Set<string>();
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
    const deps = { node: options.node, store: options.store };
    this.#strategies = {
      copies: new CopiesStrategy(deps, copies),
      shards: new AuthoredShardsStrategy(deps),
      kept: new KeptShardsStrategy(deps, { repairBelow, finder: options.finder }),
    };
    const keep = options.keepOnDoorway ?? true;
    this.#doorwayKeeper = new DoorwayKeeper(deps, typeof keep === 'function' ? keep : () => keep);
    this.#retry = {
      firstMs: options.retry?.firstMs ?? 2_000,
      maxMs: options.retry?.maxMs ?? 60_000,
      attempts: options.retry?.attempts ?? 5,
    };
    this.#checkEveryMs = options.checkEveryMs ?? 60_000;
    this.#peers = new Set(this.#node.directPeers());
    this.#doorways = new Set(this.#node.connectedDoorways());
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
    const doorways = new Set(this.#node.connectedDoorways());
    const doorwayArrived =
      [...doorways].some((d) => !this.#doorways.has(d)) && this.#doorwayKeeper.offering;
    this.#doorways = doorways;
    if (!arrived && left.length === 0 && !doorwayArrived) return;
    for (const entry of this.#entries.values()) {
      const { state } = entry.health;
      if (state === 'replicating' || state === 'repairing') continue;
      if (doorwayArrived && this.#doorwayKeeper.concerns(entry.health.kind, entry.item.reach)) {
        entry.dueAt = 0;
      }
      const settleMs = entry.strategy.afterPeerChange(entry.health, { arrived, left });
      if (settleMs !== undefined) {
        entry.retries = 0;
        entry.dueAt = Math.min(entry.dueAt, Date.now() + settleMs);
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
    const strategy = this.#strategies[kind];
    const health: ReplicaHealth = {
      hash,
      kind,
      wanted: strategy.wanted,
      stored: [],
      state: 'waiting',
    };
    if (strategy.perShard) health.shards = new Array(manifest.total_shards).fill(null);
    if (this.#doorwayKeeper.concerns(kind, manifest.reach)) health.doorways = [];
    const entry: Entry = {
      health,
      item: { reach: manifest.reach, owner: (manifest.author_id ?? this.#trust().me) as AgentKey },
      strategy,
      retries: 0,
      doorwayRetries: 0,
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
    this.safeDispatchEvent<ReplicaChange>('change', { detail: { hash, health: undefined } });
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

  /** One round for one item: its strategy checks the holders and makes what is missing. */
  async #round(entry: Entry): Promise<void> {
    const signal = AbortSignal.any([this.#stop.signal, entry.cancel.signal]);
    let outcome: Outcome;
    let doorwayFailed = false;
    try {
      const trust = this.#trust();
      if (!maySpread(entry.item, trust)) {
        entry.dueAt = Number.POSITIVE_INFINITY;
        this.#set(entry, {
          state: 'local',
          reason: `${entry.item.reach}: no peer this device knows may hold it, so it stays on this device`,
        });
        return;
      }
      const round: ItemRound = {
        get health() {
          return entry.health;
        },
        item: entry.item,
        trust,
        signal,
        set: (patch) => this.#set(entry, patch),
        untrack: () => this.#untrack(entry.health.hash),
      };
      // The doorways in parallel with the peers: each its own upload, neither waits on the
      // other. Both end before the item is scheduled again, so rounds never overlap.
      const [strategy, doorways] = await Promise.allSettled([
        entry.strategy.round(round),
        this.#doorwayKeeper.round(round),
      ]);
      signal.throwIfAborted();
      doorwayFailed = doorways.status === 'fulfilled' && doorways.value;
      if (strategy.status === 'rejected') throw strategy.reason;
      outcome = strategy.value;
    } catch (e) {
      // Closed or removed: nothing more to say about this item.
      if (signal.aborted) return;
      outcome = { done: false, reason: errorMessage(e) };
    }
    this.#schedule(entry, outcome);
    // A failed doorway offer is tried again on its own backoff, not only at the next check:
    // the item may be done with its peers, and a doorway is what keeps it once they leave.
    entry.doorwayRetries = doorwayFailed ? entry.doorwayRetries + 1 : 0;
    if (doorwayFailed) entry.dueAt = Math.min(entry.dueAt, this.#retryAt(entry.doorwayRetries));
  }

  /** When a step that failed `retries` times in a row runs again: doubling, then the check. */
  #retryAt(retries: number): number {
    const { firstMs, maxMs, attempts } = this.#retry;
    const waitMs =
      retries > attempts ? this.#checkEveryMs : Math.min(firstMs * 2 ** (retries - 1), maxMs);
    return Date.now() + waitMs;
  }

  /** When the item is due again after a round with `outcome`. */
  #schedule(entry: Entry, outcome: Outcome): void {
    if (outcome.done) {
      entry.retries = 0;
      entry.dueAt = Date.now() + this.#checkEveryMs;
      // All it wants again: what was lost has been made good.
      this.#set(entry, {
        state: 'replicated',
        reason: undefined,
        ...(entry.health.lost ? { lost: 0 } : {}),
      });
      return;
    }
    if (outcome.next === 'now') entry.dueAt = 0;
    else if (outcome.next === 'check') {
      // Nothing to do until peers come or go (or the next check).
      entry.dueAt = Date.now() + this.#checkEveryMs;
    } else {
      entry.retries++;
      entry.dueAt = this.#retryAt(entry.retries);
    }
    this.#set(entry, { state: 'waiting', reason: outcome.reason });
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
    const { hash } = entry.health;
    this.safeDispatchEvent<ReplicaChange>('change', {
      detail: { hash, health: copyHealth(entry.health) },
    });
  }
}

/**
 * Whether any peer could ever pass the replication gate: anyone for commons; otherwise only
 * agents the trust view names (an unknown peer gets commons only).
 */
function maySpread(item: ReachItem, trust: TrustView): boolean {
  if (item.reach === 'commons') return true;
  const known = [...trust.myDevices, ...trust.links.keys(), ...trust.cluster];
  return known.some((agent) => mayReplicateTo(item, agent, trust).allow);
}
