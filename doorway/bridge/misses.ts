/**
 * Items the doorway does not hold, pulled from the peers that do, piece by piece as HTTP
 * readers need them (`ContentStreamer` over the cache's store: every piece verified before it
 * is written, a complete pull committed into the cache).
 *
 * Bounds: at most `maxOpen` items at once (readers of one item share it; beyond, the caller
 * answers 503); finding holders and the manifest within `openTimeoutMs`; an item nobody reads
 * any more is kept `idleMs` (a video seeks again soon), then discarded with what it wrote —
 * or sooner, when its slot is needed. The reach check runs on the holder's manifest before the
 * import begins, so a refused item is never asked a piece of and leaves nothing here.
 *
 * Configured Rust storage nodes are asked first. Their blobs have no piece hashes, so a range
 * waits for the shards that hold it to match their shard hashes (fetched first); the other
 * shards follow in order and the import commits, under the same slot and idle rules.
 */
import type {
  ContentHash,
  ContentStore,
  PieceRef,
  RemoteManifest,
  StoredManifest,
} from '../../src/content/index.ts';
import { validateRemoteManifest } from '../../src/content/index.ts';
import {
  beginShardPull,
  ContentStreamer,
  type FetchNode,
  type HolderFinder,
  NoHoldersError,
  type ShardPull,
} from '../../src/net/index.ts';
import { withSignal, withTimeout } from '../../src/wire/index.ts';
import { BridgeBusyError, NotServedError } from './errors.ts';
import type { ShardHolderSource } from './shard-holders.ts';

export interface MissesInit {
  node: FetchNode;
  finder: HolderFinder;
  /** The cache's store: pulls are imported there. */
  store: ContentStore;
  /** Throws {@link NotServedError} for an item the bridge must not serve. */
  check: (manifest: RemoteManifest) => void;
  openTimeoutMs: number;
  maxOpen: number;
  idleMs: number;
  /** Per-piece (and dial) timeout of the pulls. */
  pieceTimeoutMs?: number;
  /**
   * Holders that speak only the shard protocol (Rust nodes), asked first: an item one of them
   * has is imported from them shard by shard, the shards a range needs first.
   */
  shardHolders?: ShardHolderSource;
}

interface Slot {
  readers: number;
  idle?: ReturnType<typeof setTimeout>;
  /** The import from shard-only holders (undefined: none has the item), found once per slot. */
  shards?: Promise<ShardPull | undefined>;
  /** Stops that import and discards what it wrote, with the slot. */
  stopShards?: AbortController;
}

/** What a reader of a miss holds: the manifest to read with, and its place. */
export interface MissRead {
  manifest: StoredManifest;
  /**
   * Has the pieces of a range written (verified) before they are read; from a Rust node, the
   * whole shards holding them, each matched against its shard hash.
   */
  ensure: (pieces: PieceRef[], signal?: AbortSignal) => Promise<void>;
  /** Call once, when the reader is done. */
  release: () => void;
}

export class Misses {
  readonly #streamer: ContentStreamer;
  readonly #slots = new Map<ContentHash, Slot>();
  /** Verified bytes pulled from peers since start. */
  pulledBytes = 0;

  constructor(private readonly init: MissesInit) {
    this.#streamer = new ContentStreamer(init.node, init.store, init.finder, {
      accept: init.check,
      onBytes: (bytes) => {
        this.pulledBytes += bytes;
      },
      ...(init.pieceTimeoutMs === undefined ? {} : { timeoutMs: init.pieceTimeoutMs }),
    });
  }

  /** Items being pulled or kept for their next reader. */
  get size(): number {
    return this.#slots.size;
  }

  /**
   * Finds holders of `hash` and takes their manifest (no piece yet). Throws
   * {@link BridgeBusyError} when every slot is taken by a reader, {@link NotServedError} when
   * nobody offers it to the public in time; other errors are the holders' failures.
   */
  async open(hash: ContentHash, signal: AbortSignal): Promise<MissRead> {
    let slot = this.#slots.get(hash);
    if (!slot) {
      if (this.#slots.size >= this.init.maxOpen && !this.#dropIdle()) {
        const retryAfterS = Math.max(1, Math.ceil(this.init.openTimeoutMs / 1000));
        throw new BridgeBusyError(this.#slots.size, retryAfterS);
      }
      slot = { readers: 0 };
      this.#slots.set(hash, slot);
    }
    slot.readers++;
    clearTimeout(slot.idle);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      this.#release(hash, slot);
    };
    try {
      // A configured Rust storage node is asked first (one HTTP request for its manifest).
      if (this.init.shardHolders) {
        const pull = await withSignal(this.#fromShardHolders(hash, slot, signal), signal);
        if (pull) {
          return {
            manifest: pull.partialManifest,
            ensure: (pieces, s) => pull.ensure(pieces, s),
            release,
          };
        }
      }
      const manifest = await this.#streamer.open(hash, {
        signal: withTimeout(signal, this.init.openTimeoutMs),
      });
      return {
        manifest,
        ensure: (pieces, s) => this.#streamer.ensure(hash, pieces, s ? { signal: s } : {}),
        release,
      };
    } catch (error) {
      release();
      // Nobody else waits for it: stop finding holders now rather than after `idleMs`.
      if (slot.readers === 0) this.#drop(hash, slot);
      if (error instanceof NoHoldersError) throw new NotServedError(hash, error.message);
      if (!signal.aborted && (error as Error)?.name === 'TimeoutError') {
        throw new NotServedError(hash, `no holder answered within ${this.init.openTimeoutMs} ms`);
      }
      throw error;
    }
  }

  /**
   * The slot's import from shard-only holders, begun (no shard asked yet), or undefined when
   * none has the item. Its reach is checked on their manifest before the import begins. The
   * first reader's signal bounds finding it; the import itself lives as long as the slot.
   */
  #fromShardHolders(
    hash: ContentHash,
    slot: Slot,
    signal: AbortSignal,
  ): Promise<ShardPull | undefined> {
    const current = slot.shards;
    if (!current) return this.#beginShards(hash, slot, signal);
    return current.then((pull) => {
      if (!pull?.failed) return pull;
      // A failed import kept nothing: the next reader begins afresh (once, when several come).
      if (slot.shards === current) return this.#beginShards(hash, slot, signal);
      return this.#fromShardHolders(hash, slot, signal);
    });
  }

  #beginShards(hash: ContentHash, slot: Slot, signal: AbortSignal): Promise<ShardPull | undefined> {
    const stop = new AbortController();
    const pull = (async () => {
      const source = this.init.shardHolders as ShardHolderSource;
      const found = await source.locate(hash, withTimeout(signal, this.init.openTimeoutMs));
      if (!found || found.holders.length === 0) return undefined;
      const manifest = validateRemoteManifest(found.manifest);
      if (manifest.blob_hash !== hash) return undefined;
      this.init.check(manifest);
      return beginShardPull(this.init.node.libp2p, this.init.store, manifest, found.holders, {
        signal: stop.signal,
        ...(this.init.pieceTimeoutMs === undefined ? {} : { timeoutMs: this.init.pieceTimeoutMs }),
        onBytes: (bytes) => {
          this.pulledBytes += bytes;
        },
      });
    })();
    slot.shards = pull;
    slot.stopShards = stop;
    // A failed search (the first reader left, a refusal) is not kept: the next reader asks again.
    pull.catch(() => {
      if (slot.shards === pull) slot.shards = undefined;
    });
    return pull;
  }

  /** Ends every pull and discards what it wrote. */
  close(): void {
    for (const slot of this.#slots.values()) {
      clearTimeout(slot.idle);
      slot.stopShards?.abort(new Error('The bridge closed.'));
    }
    this.#slots.clear();
    this.#streamer.close();
  }

  #release(hash: ContentHash, slot: Slot): void {
    if (--slot.readers > 0 || this.#slots.get(hash) !== slot) return;
    slot.idle = setTimeout(() => this.#drop(hash, slot), this.init.idleMs);
    slot.idle.unref?.();
  }

  #drop(hash: ContentHash, slot: Slot): void {
    if (this.#slots.get(hash) !== slot || slot.readers > 0) return;
    clearTimeout(slot.idle);
    this.#slots.delete(hash);
    // A pull that completed has committed into the cache and left the streamer: a no-op then.
    this.#streamer.discard(hash);
    slot.stopShards?.abort(new Error(`Nobody reads ${hash} any more.`));
  }

  /** Frees the slot of an item nobody reads (the first opened); false when each has a reader. */
  #dropIdle(): boolean {
    for (const [hash, slot] of this.#slots) {
      if (slot.readers === 0) {
        this.#drop(hash, slot);
        return true;
      }
    }
    return false;
  }
}
