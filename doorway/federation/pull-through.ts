/**
 * Pull-through over libp2p: another doorway (whose DHT lookup found this one as a provider)
 * asks this doorway over the shard and piece protocols for an item that only an attached
 * browser holds. The doorway answers as if it held it: `Holds`, `Have` and `Manifest` with the
 * holder's manifest; each piece asked for is pulled from the browser through the HTTP bridge's
 * pull (its slots and timeouts, the reach check on the holder's manifest before anything else,
 * every piece verified before it is written) — with a few pieces after it in the same shard,
 * since askers read runs — and served as soon as it is in, verified again. So the first piece
 * does not wait for the whole item, any size streams, and memory stays at the pieces in
 * flight; once every piece has been asked for, the pull commits into the bridge's cache and
 * is served from there.
 *
 * Only hashes an attached browser said it holds (holdings.ts) are pulled, and served only
 * while one still does: this doorway answers for what its keeper holds and what its browsers
 * hold, nothing else.
 */
import type {
  ContentHash,
  ContentStore,
  GetOptions,
  PieceRef,
  StoredManifest,
} from '../../src/content/index.ts';
import { errorMessage, withTimeout } from '../../src/wire/index.ts';
import {
  type ContentCache,
  checkServable,
  type MissRead,
  NotServedError,
} from '../bridge/index.ts';
import type { Logger } from '../log.ts';
import type { HoldingsRegistry } from './holdings.ts';

export interface PullThroughOptions {
  /** Finding the holder and its manifest, and then each piece with those asked ahead. Default 60 s. */
  timeoutMs?: number;
  /** Pieces of the same shard asked for after the one read (askers read runs). Default 8. */
  readAhead?: number;
}

/** Where pulls go: the bridge's cache, and its pull (`bridge.pull`). */
export interface PullSource {
  cache: Pick<ContentCache, 'store' | 'acquire'>;
  open(hash: ContentHash, signal: AbortSignal): Promise<MissRead>;
}

/** `{shard, piece}` and up to `ahead` pieces after it in that shard. */
function run(m: StoredManifest, shard: number, piece: number, ahead: number): PieceRef[] {
  const pieces = m.piece_hashes[shard]?.length ?? 0;
  const out: PieceRef[] = [];
  for (let p = piece; p < Math.min(pieces, piece + 1 + ahead); p++) out.push({ shard, piece: p });
  return out;
}

export class PullThrough {
  #source: PullSource | undefined;
  readonly #stop = new AbortController();
  readonly #timeoutMs: number;
  readonly #readAhead: number;
  /** Pieces served while their item was still being pulled, since start (in `/health`). */
  piecesPulled = 0;
  /** What the keeper holds (set by `serving`). */
  #kept: ContentStore | undefined;

  constructor(
    private readonly registry: HoldingsRegistry,
    private readonly log: Logger,
    options: PullThroughOptions = {},
  ) {
    this.#timeoutMs = options.timeoutMs ?? 60_000;
    this.#readAhead = options.readAhead ?? 8;
  }

  /** Pulls start once the bridge is up (it opens after the libp2p node). */
  attach(source: PullSource): void {
    this.#source = source;
  }

  stop(): void {
    this.#stop.abort();
    this.#source = undefined;
  }

  /**
   * The store the doorway's shard server reads: `kept`, and for the hashes only an attached
   * browser holds, the holder's manifest (`Holds`, `Have`, `Manifest` cost one manifest
   * request) and pieces pulled as they are asked for (or the cache, once the item is whole).
   */
  serving(kept: ContentStore): ContentStore {
    this.#kept = kept;
    return new Proxy(kept, {
      get: (target, prop) => {
        if (prop === 'manifest') return (hash: string) => this.#manifest(target, hash);
        if (prop === 'readPiece') {
          return (hash: string, shard: number, piece: number) =>
            this.#readPiece(target, hash, shard, piece);
        }
        if (prop === 'get') {
          return (hash: string, options?: GetOptions) => this.#get(target, hash, options);
        }
        const value: unknown = Reflect.get(target, prop, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
  }

  /**
   * Whether `hash` is pulled through: an attached browser holds it and the keeper holds none of
   * it (a keeper holding some shards serves those, as any holder does). Such items go to other
   * doorways only (`mayServe` in p2p.ts): a browser asking for one should dial its holder, not
   * draw it through this doorway.
   */
  async onlyBrowsersHold(hash: string): Promise<boolean> {
    const kept = this.#kept;
    if (!this.registry.has(hash) || !kept || !this.#source) return false;
    return !(await kept.manifest(hash)) && !(await kept.holding(hash));
  }

  async #manifest(kept: ContentStore, hash: string): Promise<StoredManifest | undefined> {
    if (!(await this.onlyBrowsersHold(hash))) return kept.manifest(hash);
    try {
      return (await this.#inCache(hash)) ?? (await this.#peek(hash as ContentHash));
    } catch (error) {
      if (error instanceof NotServedError) return undefined;
      throw error;
    }
  }

  async #readPiece(kept: ContentStore, hash: string, shard: number, piece: number) {
    const source = this.#source;
    if (!source || !(await this.onlyBrowsersHold(hash))) return kept.readPiece(hash, shard, piece);
    if (await this.#inCache(hash)) return source.cache.store.readPiece(hash, shard, piece);
    return this.#pulling(source, hash as ContentHash, async (miss, signal) => {
      const [wanted, ...ahead] = run(miss.manifest, shard, piece, this.#readAhead);
      if (!wanted) throw new RangeError(`${hash} has no shard ${shard} piece ${piece}.`);
      // Asked for, not waited on: the next pieces of the run are there when they are read.
      if (ahead.length > 0) miss.ensure(ahead, signal).catch(() => {});
      await miss.ensure([wanted], signal);
      this.piecesPulled++;
      return source.cache.store.readPartialPiece(miss.manifest, shard, piece);
    });
  }

  /** A whole blob (the shard protocol's `Get`, for small blobs): read as its pieces come in. */
  #get(kept: ContentStore, hash: string, options?: GetOptions): ReadableStream<Uint8Array> {
    let release = () => {};
    return later(
      async () => {
        const source = this.#source;
        if (!source || !(await this.onlyBrowsersHold(hash))) return kept.get(hash, options);
        if (await this.#inCache(hash)) return source.cache.store.get(hash, options);
        return this.#pulling(
          source,
          hash as ContentHash,
          async (miss) =>
            source.cache.store.readPartial(miss.manifest, { ...options, ensure: miss.ensure }),
          // The stream reads from the pull after this returns: it stays open until the end.
          (releasePull) => {
            release = releasePull;
          },
        );
      },
      () => release(),
    );
  }

  /** The cache's manifest of `hash`, marked just used, when the cache holds it. */
  async #inCache(hash: string): Promise<StoredManifest | undefined> {
    const cache = this.#source?.cache;
    const unpin = cache?.acquire(hash as ContentHash);
    if (!cache || !unpin) return undefined;
    try {
      return await cache.store.manifest(hash);
    } finally {
      unpin();
    }
  }

  /**
   * The holder's manifest, reach checked by the bridge's pull before it is returned. The pull
   * stays open a while (the bridge's idle time) for the pieces that usually follow.
   */
  #peek(hash: ContentHash): Promise<StoredManifest> {
    return this.#pulling(this.#source, hash, async (miss) => miss.manifest);
  }

  /**
   * `use` with the bridge's pull of `hash` open, within the time allowed. The pull is released
   * when `use` returns or fails; with `handOver`, once `use` succeeded its release is handed
   * there instead (what `use` returned reads from the pull later, and releases it when done).
   */
  async #pulling<T>(
    source: PullSource | undefined,
    hash: ContentHash,
    use: (miss: MissRead, signal: AbortSignal) => Promise<T>,
    handOver?: (release: () => void) => void,
  ): Promise<T> {
    if (!source) throw new NotServedError(hash, 'this doorway is stopping');
    const signal = withTimeout(this.#stop.signal, this.#timeoutMs);
    let miss: MissRead | undefined;
    let handed = false;
    try {
      miss = await source.open(hash, signal);
      checkServable(miss.manifest);
      const result = await use(miss, signal);
      if (handOver) {
        handOver(miss.release);
        handed = true;
      }
      return result;
    } catch (error) {
      if (!(error instanceof NotServedError)) {
        this.log.info(`pulling ${hash} through failed: ${errorMessage(error)}`);
      }
      throw error;
    } finally {
      if (!handed) miss?.release();
    }
  }
}

/**
 * A stream whose source is found when it is first read (`get` answers synchronously);
 * `ended` runs once, when it is done, fails or is cancelled.
 */
function later(
  open: () => Promise<ReadableStream<Uint8Array>>,
  ended: () => void,
): ReadableStream<Uint8Array> {
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  let over = false;
  const end = () => {
    if (over) return;
    over = true;
    ended();
  };
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        reader ??= (await open()).getReader();
        const { done, value } = await reader.read();
        if (done) {
          end();
          controller.close();
        } else controller.enqueue(value);
      } catch (error) {
        end();
        throw error;
      }
    },
    cancel: async (reason) => {
      end();
      await reader?.cancel(reason);
    },
  });
}
