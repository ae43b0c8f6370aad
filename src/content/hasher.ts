/**
 * The hashing seam. Ingest needs two kinds of sha256 besides per-piece hashes:
 *  - incremental over pieces (an rs shard is fed piece by piece, in stripe order), and
 *  - over a whole Blob read sequentially by slices (the blob hash: rs stripes visit the
 *    file out of order, so the blob hash is a second, concurrent sequential pass).
 * Per-piece hashes use WebCrypto (`sha256Bytes`), which browsers already run off-thread.
 *
 * In a browser the incremental hashers live in a module Worker (hash-worker.ts, hash-wasm);
 * where `Worker` is missing (Node, vitest) the same hash-wasm code runs in-thread.
 */
import { createSHA256 } from 'hash-wasm';
import { abortReason, throwIfAborted } from '../wire/index.ts';
import { type ContentHash, hashFromHex, toHex } from './address.ts';
import { forEachSlice } from './blob-reader.ts';
import { ContentError } from './errors.ts';
import type { FromHashWorker, ToHashWorker } from './hash-protocol.ts';

export interface UpdateBlobOptions {
  signal?: AbortSignal;
  /** Bytes per read. Default 4 MiB. */
  sliceSize?: number;
  /** Bytes of this Blob hashed so far. */
  onProgress?: (bytes: number) => void;
}

export interface IncrementalHasher {
  /**
   * Feed bytes in order. With `transfer`, the hasher may take `bytes.buffer` (the caller
   * must not touch it afterwards); otherwise bytes are copied if they leave the thread.
   * Resolves when the hasher can take more (back-pressure keeps queued bytes bounded).
   */
  update(bytes: Uint8Array, opts?: { transfer?: boolean }): Promise<void>;
  /** Feed a whole Blob, read by slices (in the worker when there is one). */
  updateBlob(blob: Blob, opts?: UpdateBlobOptions): Promise<void>;
  /** `sha256-<hex>` of everything fed. The hasher is finished afterwards. */
  digest(): Promise<ContentHash>;
  /** Drop the hasher without a digest (error/abort paths). */
  cancel(): void;
}

export interface CreateHasherOptions {
  /** Bytes this hasher will see, used to balance hashers over worker threads. */
  sizeHint?: number;
  /**
   * Called with each buffer `update` took (transferred, or the copy it made) once hashed,
   * for the caller to reuse: dropped buffers are garbage until the next GC, which V8 runs
   * late when the JS heap is small, so a stream of fresh buffers inflates resident memory.
   */
  recycle?: (buf: ArrayBuffer) => void;
}

export interface HashService {
  readonly kind: 'worker' | 'inline';
  createHasher(opts?: CreateHasherOptions): IncrementalHasher;
  close(): void;
}

/** sha256 of a Blob, read by slices; never holds more than one slice. */
export async function hashBlob(
  service: HashService,
  blob: Blob,
  opts: UpdateBlobOptions = {},
): Promise<ContentHash> {
  const h = service.createHasher({ sizeHint: blob.size });
  try {
    await h.updateBlob(blob, opts);
    return await h.digest();
  } catch (e) {
    h.cancel();
    throw e;
  }
}

/** One-shot sha256 of a (bounded) buffer through WebCrypto. */
export async function sha256Bytes(bytes: Uint8Array): Promise<ContentHash> {
  const digest = await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>);
  return hashFromHex(toHex(new Uint8Array(digest)));
}

const DEFAULT_SLICE = 4 * 1024 * 1024;

/** An incremental sha256 as hash-wasm and `node:crypto` both give one. */
export interface Sha256State {
  update(bytes: Uint8Array): unknown;
  digest(encoding: 'hex'): string;
}

/**
 * Hashes in the calling thread. By default with hash-wasm; Node's store passes `node:crypto`'s
 * `createHash`, which uses the CPU's SHA instructions and runs several times faster than any
 * WebAssembly sha256 (node.ts).
 */
export class InlineHashService implements HashService {
  readonly kind = 'inline' as const;

  constructor(private readonly createSha256: () => Promise<Sha256State> = createSHA256) {}

  createHasher(options: CreateHasherOptions = {}): IncrementalHasher {
    const ready = this.createSha256();
    ready.catch(() => {});
    let cancelled = false;
    return {
      async update(bytes, opts) {
        if (cancelled) return;
        (await ready).update(bytes);
        if (opts?.transfer && bytes.buffer instanceof ArrayBuffer) options.recycle?.(bytes.buffer);
      },
      async updateBlob(blob, opts = {}) {
        const h = await ready;
        const { signal } = opts;
        throwIfAborted(signal);
        await forEachSlice(blob, opts.sliceSize ?? DEFAULT_SLICE, (bytes, end) => {
          if (signal?.aborted || cancelled) return false;
          h.update(bytes);
          opts.onProgress?.(end);
          return true;
        });
        throwIfAborted(signal);
      },
      async digest() {
        return hashFromHex((await ready).digest('hex'));
      },
      cancel() {
        cancelled = true;
      },
    };
  }

  close(): void {}
}

interface Waiter {
  onAck: (len: number, buf?: ArrayBuffer) => void;
  onProgress?: ((bytes: number) => void) | undefined;
  onBlobDone: () => void;
  onDigest: (hex: string) => void;
  onError: (e: Error) => void;
}

/** Bytes one hasher may have queued in the worker before `update` waits. */
const MAX_INFLIGHT = 16 * 1024 * 1024;

export class WorkerHashService implements HashService {
  readonly kind = 'worker' as const;
  private nextId = 1;
  private readonly waiters = new Map<number, Waiter>();
  private failure: Error | undefined;

  private readonly workers: Worker[] = [];

  /**
   * `spawn` creates one worker; up to `poolSize` are started lazily and hashers are spread
   * over them round-robin. An rs-4-7 ingest hashes 2.75× the blob (7 padded shards + the
   * blob), which one thread could not do at IndexedDB speed.
   */
  constructor(
    private readonly spawn: () => Worker,
    private readonly poolSize = 1,
  ) {}

  /** Bytes still expected by live hashers, per worker slot; a new hasher goes to the lightest. */
  private readonly load: number[] = [];
  private readonly assigned = new Map<number, { slot: number; weight: number }>();

  private assign(id: number, weight: number): void {
    let slot = 0;
    for (let i = 1; i < Math.max(1, this.poolSize); i++) {
      if ((this.load[i] ?? 0) < (this.load[slot] ?? 0)) slot = i;
    }
    this.load[slot] = (this.load[slot] ?? 0) + weight;
    this.assigned.set(id, { slot, weight });
  }

  private release(id: number): void {
    const a = this.assigned.get(id);
    if (!a) return;
    this.assigned.delete(id);
    this.load[a.slot] = (this.load[a.slot] ?? 0) - a.weight;
  }

  private workerAt(slot: number): Worker {
    let w = this.workers[slot];
    if (!w) {
      w = this.spawn();
      w.onmessage = (ev: MessageEvent<FromHashWorker>) => this.onMessage(ev.data);
      w.onerror = (ev) => this.failAll(new ContentError(`The hash worker failed: ${ev.message}`));
      this.workers[slot] = w;
    }
    return w;
  }

  private send(msg: ToHashWorker, transfer: Transferable[] = []): void {
    if (this.failure) throw this.failure;
    const a = this.assigned.get(msg.id);
    if (!a) {
      if (msg.t === 'cancel') return;
      throw new ContentError(`hasher ${msg.id} is finished`);
    }
    this.workerAt(a.slot).postMessage(msg, transfer);
  }

  private failAll(e: Error): void {
    this.failure = e;
    for (const w of this.waiters.values()) w.onError(e);
    this.waiters.clear();
  }

  private onMessage(msg: FromHashWorker): void {
    const w = this.waiters.get(msg.id);
    if (!w) return;
    switch (msg.t) {
      case 'ack':
        w.onAck(msg.len, msg.buf);
        break;
      case 'progress':
        w.onProgress?.(msg.bytes);
        break;
      case 'blobDone':
        w.onBlobDone?.();
        break;
      case 'digest':
        this.waiters.delete(msg.id);
        this.release(msg.id);
        w.onDigest?.(msg.hex);
        break;
      case 'error':
        this.waiters.delete(msg.id);
        this.release(msg.id);
        w.onError(new ContentError(`Hashing failed: ${msg.message}`));
        break;
    }
  }

  createHasher(opts: CreateHasherOptions = {}): IncrementalHasher {
    const id = this.nextId++;
    // Unknown sizes count as 1 MiB so that they still spread.
    this.assign(id, Math.max(1, opts.sizeHint ?? 1 << 20));
    let inflight = 0;
    let error: Error | undefined;
    // At most one operation of a hasher waits at a time (callers await each call in order).
    let settle: { resolve: (v: unknown) => void; reject: (e: Error) => void } | undefined;
    const fail = (e: Error) => {
      error ??= e;
      settle?.reject(error);
      settle = undefined;
    };
    const finish = (v?: unknown) => {
      settle?.resolve(v);
      settle = undefined;
    };
    const wait = <T>(start?: () => void): Promise<T> =>
      new Promise<T>((resolve, reject) => {
        if (error) return reject(error);
        settle = { resolve: resolve as (v: unknown) => void, reject };
        start?.();
      });
    let draining = false;
    const waiter: Waiter = {
      onAck: (len, buf) => {
        inflight -= len;
        if (buf) opts.recycle?.(buf);
        if (draining && inflight <= MAX_INFLIGHT / 2) {
          draining = false;
          finish();
        }
      },
      onBlobDone: () => finish(),
      onDigest: (hex) => finish(hex),
      onError: fail,
    };
    this.waiters.set(id, waiter);
    this.send({ t: 'create', id, ...(opts.recycle ? { recycle: true } : {}) });
    return {
      update: async (bytes, opts) => {
        if (error) throw error;
        let buf: ArrayBuffer;
        let off = 0;
        if (opts?.transfer && bytes.buffer instanceof ArrayBuffer) {
          buf = bytes.buffer;
          off = bytes.byteOffset;
        } else {
          // Posting a view would clone its whole backing buffer: copy just the view.
          buf = bytes.slice().buffer as ArrayBuffer;
        }
        inflight += bytes.byteLength;
        this.send({ t: 'update', id, buf, off, len: bytes.byteLength }, [buf]);
        if (inflight > MAX_INFLIGHT) {
          draining = true;
          await wait<void>();
        }
      },
      updateBlob: async (blob, opts = {}) => {
        if (error) throw error;
        const { signal } = opts;
        throwIfAborted(signal);
        const onAbort = () => {
          this.waiters.delete(id);
          if (!this.failure) this.send({ t: 'cancel', id });
          this.release(id);
          fail(abortReason(signal as AbortSignal) as Error);
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        waiter.onProgress = opts.onProgress;
        try {
          await wait<void>(() =>
            this.send({ t: 'blob', id, blob, sliceSize: opts.sliceSize ?? DEFAULT_SLICE }),
          );
        } finally {
          signal?.removeEventListener('abort', onAbort);
          waiter.onProgress = undefined;
        }
      },
      digest: async () => {
        if (error) throw error;
        return hashFromHex(await wait<string>(() => this.send({ t: 'digest', id })));
      },
      cancel: () => {
        if (!this.waiters.delete(id)) return;
        fail(new ContentError('hasher cancelled'));
        if (!this.failure) this.send({ t: 'cancel', id });
        this.release(id);
      },
    };
  }

  close(): void {
    this.failAll(new ContentError('The content store was closed; open it again.'));
    for (const w of this.workers) w?.terminate();
    this.workers.length = 0;
  }
}

/**
 * `auto`: a Worker when the environment has one and it can be constructed, else in-thread.
 * The `new Worker(new URL(...), { type: 'module' })` form is what Vite recognises and bundles.
 */
export function createHashService(mode: 'auto' | 'worker' | 'inline' = 'auto'): HashService {
  if (mode === 'inline' || typeof Worker === 'undefined') {
    if (mode === 'worker') throw new ContentError('Web Workers are not available here.');
    return new InlineHashService();
  }
  const spawn = () => new Worker(new URL('./hash-worker.ts', import.meta.url), { type: 'module' });
  try {
    // Construct one now so an environment that cannot (CSP, file://) falls back to inline.
    const first = spawn();
    const cores =
      (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator
        ?.hardwareConcurrency ?? 2;
    let handedOut = false;
    return new WorkerHashService(
      () => {
        if (handedOut) return spawn();
        handedOut = true;
        return first;
      },
      Math.min(4, Math.max(2, cores - 1)),
    );
  } catch (e) {
    if (mode === 'worker') throw e;
    return new InlineHashService();
  }
}

let shared: HashService | undefined;

/**
 * A standalone incremental sha256 (worker-backed in browsers), e.g. to hash a File before
 * deciding to store it. Hashers share one worker for the page's lifetime.
 */
export function createIncrementalHasher(): IncrementalHasher {
  shared ??= createHashService('auto');
  return shared.createHasher();
}
