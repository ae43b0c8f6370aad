/**
 * The put pipeline: Blob → pieces in the backend (IndexedDB, or a directory in Node) →
 * manifest, in bounded memory.
 *
 * Three things run concurrently:
 *  1. the piece pipeline: read a batch of slices (the next batch is prefetched), hash each
 *     piece with WebCrypto, erasure-code (rs-4-7), write the batch in ONE transaction and
 *     keep at most `maxInflightWrites` transactions in flight;
 *  2. shard hashers (hash-wasm, in the hash worker when there is one) fed with the pieces
 *     right after the backend has taken its copy (IndexedDB `put` structured-clones), so the buffers can
 *     be transferred instead of copied;
 *  3. the blob hash. `none`/`chunked` visit the file in order, so the pieces feed it too.
 *     rs stripes visit the file out of order, so there it is a second, sequential pass over
 *     the Blob, run in the worker (which reads the Blob itself).
 * Incremental sha256 (hash-wasm, ~200 MB/s per thread) is the costliest step after
 * IndexedDB itself; WebCrypto (native, SHA-NI) is used wherever a one-shot hash suffices.
 * Memory is therefore O(batch × (inflight + 2)), independent of the blob size.
 *
 * Piece buffers are recycled ({@link BufferPool}): slices are read into pooled buffers (BYOB),
 * parity is copied into them, and the hash worker hands each back once hashed. Fresh buffers
 * per piece would be garbage that V8 frees late (its GC barely runs in a worker whose JS heap
 * is tiny): a 1 GiB rs-4-7 put then held ~350 MiB of dead buffers in the renderer.
 */

import * as E from '../erasure/index.ts';
import { abortReason, throwIfAborted } from '../wire/index.ts';
import { type ContentHash, cidOf } from './address.ts';
import { type ContentBackend, newPending, quiet } from './backend.ts';
import { readSliceInto } from './blob-reader.ts';
import { ContentError, isQuotaError, StorageQuotaError } from './errors.ts';
import { type HashService, hashBlob, type IncrementalHasher, sha256Bytes } from './hasher.ts';
import {
  chooseEncoding,
  DEFAULT_REACH,
  type Encoding,
  pieceLength,
  piecesInShard,
  REACHES,
  type Reach,
  type StoredManifest,
  type Thresholds,
} from './manifest.ts';

export type PutPhase = 'buffering' | 'writing' | 'hashing' | 'committing' | 'done';

export interface PutProgress {
  phase: PutPhase;
  /** Blob bytes whose pieces have been handed to the backend. */
  bytesDone: number;
  /** Blob bytes covered by the (concurrent) whole-blob hash. */
  hashedBytes: number;
  /** Blob size; 0 while a stream is still being buffered. */
  totalBytes: number;
}

export interface PutOptions {
  /** Display name; defaults to `File.name` when the source is a File. */
  name?: string;
  /** Defaults to the Blob's type, else `application/octet-stream`. */
  mime?: string;
  /** Default `'commons'` (see {@link DEFAULT_REACH}). */
  reach?: Reach;
  /** Goes to the manifest's `author_id` (the agent key, once identity exists). */
  authorId?: string;
  signal?: AbortSignal;
  onProgress?: (p: PutProgress) => void;
}

export type PutSource = Blob | Uint8Array | ReadableStream<Uint8Array>;

/** The subset of the Web Locks API we use (injectable for tests). */
export interface LockManagerLike {
  request<T>(name: string, callback: (lock: unknown) => Promise<T> | T): Promise<T>;
  request<T>(
    name: string,
    options: { ifAvailable?: boolean },
    callback: (lock: unknown) => Promise<T> | T,
  ): Promise<T>;
}

export interface IngestContext {
  backend: ContentBackend;
  hashes: HashService;
  thresholds: Thresholds;
  chunkSize: number;
  pieceSize: number;
  instanceId: string;
  locks: LockManagerLike | undefined;
  /** Bytes per write (one IndexedDB transaction) for none/chunked (rs writes one stripe per write). */
  writeBatchBytes: number;
  maxInflightWrites: number;
}

export const putLockName = (id: string) => `elohim-put-${id}`;

/**
 * A big stream is not buffered in memory: `Response.blob()` lets the browser spill it to
 * disk, and from then on it is ingested like any Blob (slices, two passes).
 */
async function toBlob(source: PutSource, signal: AbortSignal | undefined): Promise<Blob> {
  if (source instanceof Blob) return source;
  if (source instanceof Uint8Array) return new Blob([source as Uint8Array<ArrayBuffer>]);
  throwIfAborted(signal);
  // A stream locked by Response cannot be cancelled directly; a pipe with a signal can
  // (it cancels the source and errors what Response is reading).
  const readable = signal
    ? source.pipeThrough(new TransformStream<Uint8Array, Uint8Array>(), { signal })
    : source;
  try {
    return await new Response(readable as ReadableStream<Uint8Array<ArrayBuffer>>).blob();
  } catch (e) {
    throwIfAborted(signal);
    throw e;
  }
}

export async function ingest(
  ctx: IngestContext,
  source: PutSource,
  opts: PutOptions = {},
): Promise<{ manifest: StoredManifest; added: boolean }> {
  const { signal } = opts;
  const reach = opts.reach ?? DEFAULT_REACH;
  if (!REACHES.includes(reach)) {
    throw new ContentError(`Unknown reach "${reach}". Use one of: ${REACHES.join(', ')}.`);
  }
  const progress: PutProgress = { phase: 'buffering', bytesDone: 0, hashedBytes: 0, totalBytes: 0 };
  const report = (phase?: PutPhase) => {
    if (phase) progress.phase = phase;
    opts.onProgress?.({ ...progress });
  };
  if (!(source instanceof Blob) && !(source instanceof Uint8Array)) report();
  const blob = await toBlob(source, signal);
  progress.totalBytes = blob.size;
  const name =
    opts.name ?? (typeof File !== 'undefined' && blob instanceof File ? blob.name : undefined);
  const id = crypto.randomUUID();
  const run = () => ingestBlob(ctx, id, blob, { ...opts, reach, name }, progress, report);
  return ctx.locks ? ctx.locks.request(putLockName(id), run) : run();
}

interface PieceOut {
  shard: number;
  piece: number;
  bytes: Uint8Array;
}

/** Writes batches of pieces, one backend write (transaction) per batch, with bounded writes in flight. */
class PieceWriter {
  private inflight: Promise<void>[] = [];
  constructor(
    private readonly backend: ContentBackend,
    private readonly key: string,
    private readonly maxInflight: number,
  ) {}

  /** Returns once the backend has its copy (the buffers may then be transferred) and the window allows more. */
  async write(pieces: readonly PieceOut[]): Promise<void> {
    const done = this.backend.writePieces(this.key, pieces);
    quiet(done);
    this.inflight.push(done);
    while (this.inflight.length >= this.maxInflight) await this.inflight.shift();
  }

  async drain(): Promise<void> {
    const all = this.inflight;
    this.inflight = [];
    await Promise.all(all);
  }

  async settle(): Promise<void> {
    await Promise.allSettled(this.inflight);
    this.inflight = [];
  }
}

type Reporter = (phase?: PutPhase) => void;

/** What both layouts' writers work on: one put's blob, its piece writer and its progress. */
interface WriteJob {
  ctx: IngestContext;
  blob: Blob;
  writer: PieceWriter;
  /** Every hasher the put opens, so a failed put can release them all. */
  hashers: IncrementalHasher[];
  signal: AbortSignal | undefined;
  progress: PutProgress;
  report: Reporter;
}

async function ingestBlob(
  ctx: IngestContext,
  id: string,
  blob: Blob,
  opts: PutOptions & { reach: Reach; name: string | undefined },
  progress: PutProgress,
  report: Reporter,
): Promise<{ manifest: StoredManifest; added: boolean }> {
  const { signal } = opts;
  // Stops the blob-hash pass when the piece pipeline fails (and vice versa via the throw).
  const inner = new AbortController();
  const onOuterAbort = () => inner.abort(abortReason(signal as AbortSignal));
  signal?.addEventListener('abort', onOuterAbort, { once: true });
  const hashers: IncrementalHasher[] = [];
  const writer = new PieceWriter(ctx.backend, id, ctx.maxInflightWrites);
  const job: WriteJob = { ctx, blob, writer, hashers, signal, progress, report };
  let pendingWritten = false;
  try {
    throwIfAborted(signal);
    await ctx.backend.recordPending(
      newPending({ id, owner: ctx.instanceId, totalSize: blob.size, name: opts.name }),
    );
    pendingWritten = true;
    report('writing');

    const encoding = chooseEncoding(blob.size, ctx.thresholds);
    let blobHashP: Promise<ContentHash>;
    let layout: Layout;
    if (encoding === 'rs-4-7') {
      blobHashP = hashBlob(ctx.hashes, blob, {
        signal: inner.signal,
        onProgress: (n) => {
          progress.hashedBytes = n;
        },
      });
      quiet(blobHashP);
      layout = await writeRs(job);
    } else {
      const shardSize = encoding === 'none' ? blob.size : ctx.chunkSize;
      const pool = new BufferPool(Math.min(ctx.pieceSize, shardSize));
      const blobHasher = ctx.hashes.createHasher({ sizeHint: blob.size, recycle: pool.give });
      hashers.push(blobHasher);
      layout = await writeSequential(job, encoding, pool, blobHasher);
      blobHashP = blobHasher.digest();
    }
    await writer.drain();
    if (progress.hashedBytes < blob.size) report('hashing');
    const blobHash = await blobHashP;
    throwIfAborted(signal);
    report('committing');

    const now = new Date().toISOString();
    const manifest: StoredManifest = {
      blob_cid: cidOf(blobHash),
      blob_hash: blobHash,
      total_size: blob.size,
      mime_type: opts.mime || blob.type || 'application/octet-stream',
      encoding,
      data_shards: layout.dataShards,
      total_shards: layout.shardHashes.length,
      shard_size: layout.shardSize,
      shard_hashes: encoding === 'none' ? [blobHash] : layout.shardHashes.map((h) => h ?? blobHash),
      reach: opts.reach,
      author_id: opts.authorId ?? null,
      created_at: now,
      // As the Rust store does: a freshly hashed blob is verified at creation.
      verified_at: now,
      format: 1,
      ...(opts.name !== undefined ? { name: opts.name } : {}),
      piece_size: ctx.pieceSize,
      piece_hashes: layout.pieceHashes,
      storage_key: id,
      origin: { how: 'added', at: now },
    };
    const result = await ctx.backend.commitPut(manifest);
    pendingWritten = false;
    report('done');
    return result;
  } catch (e) {
    inner.abort(e);
    for (const h of hashers) h.cancel();
    await writer.settle();
    if (pendingWritten) {
      // If this fails too, the pending record stays and the next open sweeps it.
      await ctx.backend.discardPut(id).catch(() => {});
    }
    throwIfAborted(signal);
    if (isQuotaError(e)) throw new StorageQuotaError(e);
    throw e;
  } finally {
    signal?.removeEventListener('abort', onOuterAbort);
  }
}

interface Layout {
  dataShards: number;
  shardSize: number;
  /** undefined = "the blob hash" (encoding `none`). */
  shardHashes: (string | undefined)[];
  pieceHashes: string[][];
}

/**
 * Piece-sized buffers reused for one put. A buffer is taken for a read or a parity copy,
 * written (the backend copies it), transferred to the hash worker and given back when hashed,
 * so a put allocates only as many as are in flight at once.
 */
class BufferPool {
  private readonly free: ArrayBuffer[] = [];
  constructor(readonly size: number) {}

  take(): ArrayBuffer {
    return this.free.pop() ?? new ArrayBuffer(this.size);
  }

  /** Detached (byteLength 0) or foreign-sized buffers are ignored. */
  readonly give = (buf: ArrayBuffer): void => {
    if (buf.byteLength === this.size && this.size > 0) this.free.push(buf);
  };
}

/** The first `len` bytes of `from` (WASM memory), in a pooled buffer. */
function copyToPool(pool: BufferPool, from: Uint8Array, len: number): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(pool.take(), 0, len);
  bytes.set(from.subarray(0, len));
  return bytes;
}

async function readSlice(
  blob: Blob,
  start: number,
  end: number,
  pool: BufferPool,
): Promise<Uint8Array<ArrayBuffer>> {
  if (end <= start) return new Uint8Array(0);
  const buf = pool.take();
  const bytes = await readSliceInto(blob, start, end, buf);
  // Not detached: the engine read into a new buffer instead (no BYOB), or the slice was larger.
  pool.give(buf);
  return bytes;
}

/** `none` (one shard = the blob) and `chunked` (sequential chunkSize shards). */
async function writeSequential(
  job: WriteJob,
  encoding: Exclude<Encoding, 'rs-4-7'>,
  pool: BufferPool,
  blobHasher: IncrementalHasher,
): Promise<Layout> {
  const { ctx, blob, writer, hashers, signal, progress, report } = job;
  const size = blob.size;
  const P = ctx.pieceSize;
  const shardSize = encoding === 'none' ? size : ctx.chunkSize;
  const shardCount = encoding === 'none' ? 1 : Math.ceil(size / shardSize);
  const shardLen = (s: number) => Math.min(shardSize, size - s * shardSize);

  const plan: { shard: number; piece: number; start: number; end: number }[][] = [];
  let batch: (typeof plan)[number] = [];
  let batchBytes = 0;
  for (let s = 0; s < shardCount; s++) {
    const len = shardLen(s);
    for (let p = 0; p < piecesInShard(len, P); p++) {
      const start = s * shardSize + p * P;
      const n = pieceLength(len, P, p);
      batch.push({ shard: s, piece: p, start, end: start + n });
      batchBytes += n;
      if (batchBytes >= ctx.writeBatchBytes) {
        plan.push(batch);
        batch = [];
        batchBytes = 0;
      }
    }
  }
  if (batch.length) plan.push(batch);

  const pieceHashes: string[][] = Array.from({ length: shardCount }, (_, s) =>
    new Array<string>(piecesInShard(shardLen(s), P)).fill(''),
  );
  const shardHashes: (string | undefined)[] = new Array(shardCount).fill(undefined);
  // chunked shards of several pieces get an incremental hasher; one-piece shards reuse the piece hash.
  const shardHasher = new Map<number, IncrementalHasher>();
  const shardDigests: Promise<void>[] = [];
  let prevHashes: Promise<unknown> = Promise.resolve();

  const read = (b: (typeof plan)[number]) =>
    Promise.all(b.map(async (p) => ({ ...p, bytes: await readSlice(blob, p.start, p.end, pool) })));
  let next = plan[0] ? read(plan[0]) : undefined;
  for (let i = 0; i < plan.length; i++) {
    throwIfAborted(signal);
    const pieces = await (next as ReturnType<typeof read>);
    next = plan[i + 1] ? read(plan[i + 1] as (typeof plan)[number]) : undefined;
    if (next) quiet(next);

    // digest() copies its input synchronously, so the buffers may be transferred below.
    const hashes = Promise.all(
      pieces.map(async (p) => {
        const h = await sha256Bytes(p.bytes);
        (pieceHashes[p.shard] as string[])[p.piece] = h;
      }),
    );
    await writer.write(pieces);
    for (const p of pieces) {
      const count = (pieceHashes[p.shard] as string[]).length;
      if (encoding === 'chunked' && count > 1) {
        let h = shardHasher.get(p.shard);
        if (!h) {
          h = ctx.hashes.createHasher({ sizeHint: ctx.chunkSize, recycle: pool.give });
          hashers.push(h);
          shardHasher.set(p.shard, h);
        }
        // Copied, not transferred: the blob hasher below takes the buffer.
        await h.update(p.bytes);
        if (p.piece === count - 1) {
          const s = p.shard;
          const done = h.digest().then((d) => {
            shardHashes[s] = d;
          });
          quiet(done);
          shardDigests.push(done);
          shardHasher.delete(s);
        }
      }
      await blobHasher.update(p.bytes, { transfer: true });
      progress.hashedBytes = p.end;
    }
    // Keep at most one batch of WebCrypto copies alive.
    await prevHashes;
    prevHashes = hashes;
    quiet(hashes);
    progress.bytesDone = pieces.at(-1)?.end ?? 0;
    report();
  }
  await prevHashes;
  await Promise.all(shardDigests);
  if (encoding === 'chunked') {
    for (let s = 0; s < shardCount; s++) {
      if (shardHashes[s] === undefined) shardHashes[s] = pieceHashes[s]?.[0];
    }
  }
  return { dataShards: shardCount, shardSize, shardHashes, pieceHashes };
}

/** `rs-4-7`: stripe j = piece j of every shard, encoded in WASM and written in one transaction. */
async function writeRs(job: WriteJob): Promise<Layout> {
  const { ctx, blob, writer, hashers, signal, progress, report } = job;
  const D = E.DATA_SHARDS;
  const T = E.TOTAL_SHARDS;
  const size = blob.size;
  const ss = Math.ceil(size / D);
  const P = ctx.pieceSize;
  const stripes = piecesInShard(ss, P);
  const pieceHashes: string[][] = Array.from({ length: T }, () =>
    new Array<string>(stripes).fill(''),
  );
  const pool = new BufferPool(Math.min(P, ss));
  for (let k = 0; k < T; k++) {
    hashers.push(ctx.hashes.createHasher({ sizeHint: ss, recycle: pool.give }));
  }
  const encoder = new E.StripeEncoder(Math.min(P, ss));
  try {
    const read = (j: number) => {
      const len = pieceLength(ss, P, j);
      return Promise.all(
        Array.from({ length: D }, (_, k) => {
          const start = k * ss + j * P;
          return readSlice(blob, Math.min(start, size), Math.min(start + len, size), pool);
        }),
      );
    };
    let prevHashes: Promise<unknown> = Promise.resolve();
    let next = stripes > 0 ? read(0) : undefined;
    for (let j = 0; j < stripes; j++) {
      throwIfAborted(signal);
      const len = pieceLength(ss, P, j);
      const data = await (next as ReturnType<typeof read>);
      next = j + 1 < stripes ? read(j + 1) : undefined;
      if (next) quiet(next);

      const pieces: PieceOut[] = [];
      for (let k = 0; k < D; k++) {
        const view = encoder.data[k] as Uint8Array;
        const bytes = data[k] as Uint8Array<ArrayBuffer>;
        view.set(bytes);
        view.fill(0, bytes.length, len);
        if (bytes.length === len) {
          pieces.push({ shard: k, piece: j, bytes });
        } else {
          // A short read is the zero-padded tail: store the padded copy.
          pool.give(bytes.buffer);
          pieces.push({ shard: k, piece: j, bytes: copyToPool(pool, view, len) });
        }
      }
      encoder.encode(len);
      for (let k = 0; k < T - D; k++) {
        pieces.push({
          shard: D + k,
          piece: j,
          bytes: copyToPool(pool, encoder.parity[k] as Uint8Array, len),
        });
      }
      const hashes = Promise.all(
        pieces.map(async (p) => {
          (pieceHashes[p.shard] as string[])[j] = await sha256Bytes(p.bytes);
        }),
      );
      await writer.write(pieces);
      for (const p of pieces)
        await (hashers[p.shard] as IncrementalHasher).update(p.bytes, { transfer: true });
      await prevHashes;
      prevHashes = hashes;
      quiet(hashes);
      progress.bytesDone = Math.min(size, D * Math.min(ss, (j + 1) * P));
      report();
    }
    await prevHashes;
  } finally {
    encoder.dispose();
  }
  const shardHashes = await Promise.all(hashers.slice(-T).map((h) => h.digest()));
  return { dataShards: D, shardSize: ss, shardHashes, pieceHashes };
}
