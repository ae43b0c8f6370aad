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
  ContentStreamer,
  type FetchNode,
  type HolderFinder,
  importFromShardHolders,
  NoHoldersError,
} from '../../src/net/index.ts';
import { withTimeout } from '../../src/wire/index.ts';
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
   * has is imported whole, shard by shard, before its first byte is served.
   */
  shardHolders?: ShardHolderSource;
}

interface Slot {
  readers: number;
  idle?: ReturnType<typeof setTimeout>;
}

/** What a reader of a miss holds: the manifest to read with, and its place. */
export interface MissRead {
  manifest: StoredManifest;
  /** Has the pieces of a range written (verified) before they are read. */
  ensure: (pieces: PieceRef[], signal?: AbortSignal) => Promise<void>;
  /** Call once, when the reader is done. */
  release: () => void;
}

export class Misses {
  readonly #streamer: ContentStreamer;
  readonly #slots = new Map<ContentHash, Slot>();
  /** Imports from shard-only holders in progress: readers of one item share it. */
  readonly #shardPulls = new Map<ContentHash, Promise<StoredManifest | undefined>>();
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
      // A configured Rust storage node is asked first (one HTTP request for its manifest):
      // what it has is imported whole from it, before the first byte is served.
      if (this.init.shardHolders) {
        const manifest = await this.#fromShardHolders(hash, signal);
        if (manifest) return { manifest, ensure: async () => {}, release };
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
   * The item imported whole from shard-only holders into the store, or undefined when none
   * has it. Its reach is checked on their manifest before a shard is asked for.
   */
  #fromShardHolders(hash: ContentHash, signal: AbortSignal): Promise<StoredManifest | undefined> {
    let pull = this.#shardPulls.get(hash);
    if (!pull) {
      pull = (async () => {
        const source = this.init.shardHolders as ShardHolderSource;
        const found = await source.locate(hash, withTimeout(signal, this.init.openTimeoutMs));
        if (!found || found.holders.length === 0) return undefined;
        const manifest = validateRemoteManifest(found.manifest);
        if (manifest.blob_hash !== hash) return undefined;
        this.init.check(manifest);
        return importFromShardHolders(
          this.init.node.libp2p,
          this.init.store,
          manifest,
          found.holders,
          {
            signal,
            ...(this.init.pieceTimeoutMs === undefined
              ? {}
              : { timeoutMs: this.init.pieceTimeoutMs }),
            onBytes: (bytes) => {
              this.pulledBytes += bytes;
            },
          },
        );
      })().finally(() => this.#shardPulls.delete(hash));
      this.#shardPulls.set(hash, pull);
    }
    return pull;
  }

  /** Ends every pull and discards what it wrote. */
  close(): void {
    for (const slot of this.#slots.values()) clearTimeout(slot.idle);
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
