/**
 * Pull-through over libp2p: another doorway (whose DHT lookup found this one as a provider)
 * asks this doorway over the shard and piece protocols for
 * an item that only an attached browser holds. The doorway answers as if it held it: `Holds`,
 * `Have` and `Manifest` with the holder's manifest; the first piece (or `Get`) asked for pulls
 * the item whole from the browser into the HTTP bridge's cache (the bridge's pull: its slots,
 * timeouts, the reach check on the holder's manifest before anything else, every piece
 * verified before it is written), then it is served from there, each piece verified again.
 *
 * Only hashes an attached browser said it holds (holdings.ts) are pulled, and served from the
 * cache only while one still does: this doorway answers for what its keeper holds and what its
 * browsers hold, nothing else. Whole items only, up to `maxBytes` (beyond: a clear error to the
 * asker; the HTTP bridge streams any size); memory stays at the bridge's pieces in flight.
 */
import type {
  ContentChange,
  ContentHash,
  ContentStore,
  PieceRef,
  StoredManifest,
} from '../../src/content/index.ts';
import { abortReason, errorMessage, listen, withTimeout } from '../../src/wire/index.ts';
import {
  type ContentCache,
  checkServable,
  type MissRead,
  NotServedError,
} from '../bridge/index.ts';
import type { Logger } from '../log.ts';
import { PullTooLargeError } from './errors.ts';
import type { HoldingsRegistry } from './holdings.ts';

export interface PullThroughOptions {
  /** Largest item pulled through whole. Default 64 MiB. */
  maxBytes?: number;
  /** A whole pull, from finding the holder to the commit. Default 120 s. */
  timeoutMs?: number;
}

/** Where pulls go: the bridge's cache, and its pull (`bridge.pull`). */
export interface PullSource {
  cache: Pick<ContentCache, 'store' | 'acquire' | 'pin'>;
  open(hash: ContentHash, signal: AbortSignal): Promise<MissRead>;
}

/** Every piece a whole import needs (rs-4-7: the data shards; the parity is computed here). */
function wholeItem(m: StoredManifest): PieceRef[] {
  const shards = m.encoding === 'rs-4-7' ? m.data_shards : m.total_shards;
  const out: PieceRef[] = [];
  for (let shard = 0; shard < shards; shard++) {
    const pieces = m.piece_hashes[shard]?.length ?? 0;
    for (let piece = 0; piece < pieces; piece++) out.push({ shard, piece });
  }
  return out;
}

/** Resolves once `store` holds `hash` committed (listening from the call on). */
function committed(store: ContentStore, hash: ContentHash, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const finish = (error?: unknown) => {
      unlisten();
      signal.removeEventListener('abort', onAbort);
      if (error === undefined) resolve();
      else reject(error);
    };
    const onAbort = () => finish(abortReason(signal));
    const unlisten = listen<ContentChange>(store, 'change', (d) => {
      if (d.kind === 'added' && d.hash === hash) finish();
    });
    signal.addEventListener('abort', onAbort, { once: true });
    if (signal.aborted) onAbort();
  });
}

export class PullThrough {
  #source: PullSource | undefined;
  readonly #pulls = new Map<string, Promise<void>>();
  readonly #stop = new AbortController();
  readonly #maxBytes: number;
  readonly #timeoutMs: number;
  /** Items pulled through since start. */
  pulled = 0;
  /** What the keeper holds (set by `serving`). */
  #kept: ContentStore | undefined;

  constructor(
    private readonly registry: HoldingsRegistry,
    private readonly log: Logger,
    options: PullThroughOptions = {},
  ) {
    this.#maxBytes = options.maxBytes ?? 64 * 2 ** 20;
    this.#timeoutMs = options.timeoutMs ?? 120_000;
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
   * The store the doorway's shard server reads: `kept`, and for the hashes an attached browser
   * holds, the holder's manifest (`Holds`, `Have`, `Manifest` cost one manifest request) and
   * the pieces from the cache (the first piece asked for pulls the whole item there).
   */
  serving(kept: ContentStore): ContentStore {
    this.#kept = kept;
    return new Proxy(kept, {
      get: (target, prop) => {
        if (prop === 'manifest') return (hash: string) => this.#manifest(target, hash);
        if (prop === 'readPiece') {
          return async (hash: string, shard: number, piece: number) =>
            (await this.#readable(target, hash)).readPiece(hash, shard, piece);
        }
        if (prop === 'get') {
          return (hash: string, options?: Parameters<ContentStore['get']>[1]) =>
            later(async () => (await this.#readable(target, hash)).get(hash, options));
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
      const m = (await this.#inCache(hash)) ?? (await this.#peek(hash as ContentHash));
      if (m) checkServable(m);
      return m;
    } catch (error) {
      if (error instanceof NotServedError) return undefined;
      throw error;
    }
  }

  /** Where the pieces of `hash` are read: the cache for what a browser holds (pulled first). */
  async #readable(kept: ContentStore, hash: string): Promise<ContentStore> {
    const source = this.#source;
    if (!source || !(await this.onlyBrowsersHold(hash))) return kept;
    if (!(await this.#inCache(hash))) await this.#pullOnce(hash as ContentHash);
    return source.cache.store;
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
  async #peek(hash: ContentHash): Promise<StoredManifest | undefined> {
    const source = this.#source;
    if (!source) return undefined;
    const miss = await source.open(hash, withTimeout(this.#stop.signal, this.#timeoutMs));
    try {
      const size = miss.manifest.total_size;
      if (size > this.#maxBytes) throw new PullTooLargeError(hash, size, this.#maxBytes);
      return miss.manifest;
    } finally {
      miss.release();
    }
  }

  #pullOnce(hash: ContentHash): Promise<void> {
    let pull = this.#pulls.get(hash);
    if (!pull) {
      pull = this.#pull(hash).finally(() => this.#pulls.delete(hash));
      this.#pulls.set(hash, pull);
    }
    return pull;
  }

  async #pull(hash: ContentHash): Promise<void> {
    const source = this.#source;
    if (!source) throw new NotServedError(hash, 'this doorway is stopping');
    // Ended with the pull, whatever its outcome: the commit listener goes with it.
    const ended = new AbortController();
    const signal = AbortSignal.any([withTimeout(this.#stop.signal, this.#timeoutMs), ended.signal]);
    // Pinned from the start: the commit must not be evicted before it is served.
    const unpin = source.cache.pin(hash);
    let miss: MissRead | undefined;
    try {
      miss = await source.open(hash, signal);
      const size = miss.manifest.total_size;
      if (size > this.#maxBytes) throw new PullTooLargeError(hash, size, this.#maxBytes);
      const stored = committed(source.cache.store, hash, signal);
      stored.catch(() => {});
      await miss.ensure(wholeItem(miss.manifest), signal);
      if (!(await source.cache.store.has(hash))) await stored;
      this.pulled++;
      this.log.debug(`pulled ${hash} (${size} bytes) through for another peer`);
    } catch (error) {
      if (!(error instanceof NotServedError)) {
        this.log.info(`pulling ${hash} through failed: ${errorMessage(error)}`);
      }
      throw error;
    } finally {
      ended.abort();
      miss?.release();
      unpin();
    }
  }
}

/** A stream whose source is found when it is first read (`get` answers synchronously). */
function later(open: () => Promise<ReadableStream<Uint8Array>>): ReadableStream<Uint8Array> {
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      reader ??= (await open()).getReader();
      const { done, value } = await reader.read();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    cancel: (reason) => reader?.cancel(reason),
  });
}
