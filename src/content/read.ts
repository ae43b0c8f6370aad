/**
 * Verified reads. No byte leaves this module before the sha256 of the piece it belongs to
 * has matched the manifest. For `rs-4-7`, a bad or missing piece is rebuilt from the other
 * pieces of its stripe (any 4 verified of 7) and the rebuilt piece is verified as well.
 */
import { abortReason, throwIfAborted } from '../wire/index.ts';
import { type ContentBackend, type PieceRef, quiet } from './backend.ts';
import { CorruptPieceError } from './errors.ts';
import { sha256Bytes } from './hasher.ts';
import {
  parityDerived,
  pieceLength,
  piecesInShard,
  type StoredManifest,
  shardLength,
} from './manifest.ts';
import { rebuildStripe as rebuildFrom } from './stripe.ts';

export interface ReadContext {
  backend: ContentBackend;
}

export interface GetProgress {
  bytesDone: number;
  totalBytes: number;
  /** Pieces that failed verification and were rebuilt from parity while reading. */
  rebuiltPieces: number;
}

export interface GetOptions {
  signal?: AbortSignal;
  onProgress?: (p: GetProgress) => void;
  /** First byte to return (default 0). Only the pieces the range touches are read. */
  start?: number;
  /** One past the last byte to return (default: the blob's size). */
  end?: number;
  /**
   * Verified pieces a stream holds ahead of its reader (default 1). More absorbs a busy
   * machine's jitter between reading, hashing and a fast consumer (the doorway's HTTP bridge),
   * at one piece of memory each.
   */
  bufferPieces?: number;
}

export interface PartialReadOptions extends GetOptions {
  /**
   * Asked to have pieces written before they are read; resolves once they are. The piece a
   * read starts at is asked for alone (the first byte waits for one piece only); once it is
   * in, the pieces after it are asked for in batches, ahead of the reader.
   */
  ensure: (pieces: PieceRef[], signal: AbortSignal | undefined) => Promise<void>;
  /** How many pieces ahead of the reader are asked for. Default 4. */
  readAhead?: number;
}

export type { PieceRef };

export interface PieceResult {
  bytes: Uint8Array;
  /** True when the stored piece was bad/missing and the bytes were rebuilt from parity. */
  rebuilt: boolean;
}

async function loadPiece(backend: ContentBackend, m: StoredManifest, shard: number, piece: number) {
  const [bytes] = await backend.readPieces(m.storage_key, [{ shard, piece }]);
  return bytes;
}

async function verified(
  m: StoredManifest,
  shard: number,
  piece: number,
  bytes: Uint8Array | undefined,
) {
  if (!bytes) return 'missing' as const;
  const expected = m.piece_hashes[shard]?.[piece];
  if (bytes.length !== pieceLength(shardLength(m, shard), m.piece_size, piece))
    return 'mismatch' as const;
  return (await sha256Bytes(bytes)) === expected ? ('ok' as const) : ('mismatch' as const);
}

/** Pieces of stripe j of shards 0..shards-1 (all by default), each verified; unverifiable ones are `null`. */
async function readStripe(
  backend: ContentBackend,
  m: StoredManifest,
  j: number,
  shards = m.total_shards,
): Promise<{ pieces: (Uint8Array | null)[]; bad: number[] }> {
  const raw = await backend.readPieces(
    m.storage_key,
    Array.from({ length: shards }, (_, s) => ({ shard: s, piece: j })),
  );
  const pieces = await Promise.all(
    raw.map(async (bytes, s) => {
      return (await verified(m, s, j, bytes)) === 'ok' ? (bytes as Uint8Array) : null;
    }),
  );
  const bad = pieces.flatMap((p, s) => (p ? [] : [s]));
  return { pieces, bad };
}

/** Rebuilds every missing piece of stripe j and verifies the ones it rebuilt. */
async function rebuildStripe(
  ctx: ReadContext,
  m: StoredManifest,
  j: number,
  wanted: number,
): Promise<{ pieces: Uint8Array[]; bad: number[] }> {
  const { pieces, bad } = await readStripe(ctx.backend, m, j);
  if (bad.length === 0) return { pieces: pieces as Uint8Array[], bad };
  const present = m.total_shards - bad.length;
  if (present < m.data_shards) {
    throw new CorruptPieceError(
      m.blob_hash,
      wanted,
      j,
      'unrecoverable',
      `only ${present} of ${m.total_shards} pieces of stripe ${j} verify (bad: shards ${bad.join(', ')})`,
    );
  }
  const all = pieces.slice() as Uint8Array[];
  const verifiedPieces = pieces.flatMap((bytes, shard) => (bytes ? [{ shard, bytes }] : []));
  for (const r of rebuildFrom(verifiedPieces, bad)) all[r.shard] = r.bytes;
  for (const s of bad) {
    if ((await verified(m, s, j, all[s])) !== 'ok') {
      throw new CorruptPieceError(
        m.blob_hash,
        s,
        j,
        'unrecoverable',
        'rebuilt piece does not verify',
      );
    }
  }
  return { pieces: all, bad };
}

/** One verified piece of any shard (rs parity included: derived parity is computed here). */
export async function readVerifiedPiece(
  ctx: ReadContext,
  m: StoredManifest,
  shard: number,
  piece: number,
): Promise<PieceResult> {
  if (
    !Number.isInteger(shard) ||
    !Number.isInteger(piece) ||
    shard < 0 ||
    shard >= m.total_shards ||
    piece < 0 ||
    piece >= piecesInShard(shardLength(m, shard), m.piece_size)
  ) {
    throw new RangeError(
      `${m.blob_hash} has no shard ${shard} piece ${piece}: see manifest.piece_hashes for the layout.`,
    );
  }
  const bytes = await loadPiece(ctx.backend, m, shard, piece);
  const state = await verified(m, shard, piece, bytes);
  if (state === 'ok') return { bytes: bytes as Uint8Array, rebuilt: false };
  if (m.encoding !== 'rs-4-7') throw new CorruptPieceError(m.blob_hash, shard, piece, state);
  const { pieces } = await rebuildStripe(ctx, m, piece, shard);
  return { bytes: pieces[shard] as Uint8Array, rebuilt: true };
}

/** Up to `count` data pieces from (shard, piece) on, in blob order, that start before `end`. */
function upcomingPieces(
  m: StoredManifest,
  shard: number,
  piece: number,
  end: number,
  count: number,
): PieceRef[] {
  const refs: PieceRef[] = [];
  while (refs.length < count && shard < m.data_shards) {
    const shardStart = m.encoding === 'none' ? 0 : shard * m.shard_size;
    if (shardStart + piece * m.piece_size >= end) break;
    refs.push({ shard, piece });
    piece++;
    if (piece >= piecesInShard(shardLength(m, shard), m.piece_size)) {
      shard++;
      piece = 0;
    }
  }
  return refs;
}

/** Pull-based stream of the blob's bytes: one piece is read and verified per pull. */
export function readStream(
  ctx: ReadContext,
  manifest: () => Promise<StoredManifest>,
  opts: GetOptions | PartialReadOptions = {},
): ReadableStream<Uint8Array> {
  const { signal, onProgress } = opts;
  const ensure = 'ensure' in opts ? opts.ensure : undefined;
  const readAhead = Math.max(1, ('readAhead' in opts ? opts.readAhead : undefined) ?? 4);
  /** `shard/piece` → the `ensure` call that asked for it. */
  const asked = new Map<string, Promise<void>>();
  // Cancelling the stream (a player seeking away) withdraws what it asked for ahead.
  const withdrawn = new AbortController();
  const askSignal = signal ? AbortSignal.any([signal, withdrawn.signal]) : withdrawn.signal;
  const ask = (refs: PieceRef[]) => {
    const done = (ensure as NonNullable<typeof ensure>)(refs, askSignal);
    quiet(done);
    for (const r of refs) asked.set(`${r.shard}/${r.piece}`, done);
  };
  let m: StoredManifest;
  // Output order: data shards in order, pieces in order, cut at total_size (rs padding).
  let shard = 0;
  let piece = 0;
  let start = 0;
  let end = 0;
  const progress: GetProgress = { bytesDone: 0, totalBytes: 0, rebuiltPieces: 0 };
  let onAbort: (() => void) | undefined;
  const cleanup = () => {
    if (onAbort) signal?.removeEventListener('abort', onAbort);
  };
  return new ReadableStream<Uint8Array>(
    {
      async start(controller) {
        throwIfAborted(signal);
        onAbort = () => controller.error(abortReason(signal as AbortSignal));
        signal?.addEventListener('abort', onAbort, { once: true });
        m = await manifest();
        start = opts.start ?? 0;
        end = Math.min(opts.end ?? m.total_size, m.total_size);
        if (
          !Number.isSafeInteger(start) ||
          !Number.isSafeInteger(end) ||
          start < 0 ||
          start > end
        ) {
          throw new RangeError(
            `bytes ${opts.start}–${opts.end} are not a range of ${m.blob_hash} (${m.total_size} bytes)`,
          );
        }
        // Blob offset → (shard, piece): `none` is one shard; the others lay shards end to end.
        const shardSize = m.encoding === 'none' ? Math.max(m.total_size, 1) : m.shard_size;
        shard = Math.floor(start / shardSize);
        piece = Math.floor((start - shard * shardSize) / m.piece_size);
        progress.totalBytes = end - start;
      },
      async pull(controller) {
        try {
          throwIfAborted(signal);
          const shardStart = m.encoding === 'none' ? 0 : shard * m.shard_size;
          const offset = shardStart + piece * m.piece_size;
          if (shard >= m.data_shards || offset >= end) {
            cleanup();
            controller.close();
            return;
          }
          if (ensure) {
            const [current, ...next] = upcomingPieces(m, shard, piece, end, readAhead);
            if (current && !asked.has(`${shard}/${piece}`)) ask([current]);
            // The read-ahead starts once this piece is in, so it never competes with it.
            await asked.get(`${shard}/${piece}`);
            throwIfAborted(signal);
            const fresh = next.filter((r) => !asked.has(`${r.shard}/${r.piece}`));
            // Batches of at least half the window, or what is left at the end of the range.
            if (fresh.length > 0 && (fresh.length * 2 >= readAhead || next.length < readAhead - 1))
              ask(fresh);
          }
          const r = await readVerifiedPiece(ctx, m, shard, piece);
          throwIfAborted(signal);
          const from = Math.max(start - offset, 0);
          const to = Math.min(r.bytes.length, end - offset);
          if (r.rebuilt) progress.rebuiltPieces++;
          piece++;
          if (piece >= piecesInShard(shardLength(m, shard), m.piece_size)) {
            shard++;
            piece = 0;
          }
          controller.enqueue(
            from === 0 && to === r.bytes.length ? r.bytes : r.bytes.slice(from, to),
          );
          progress.bytesDone += to - from;
          onProgress?.({ ...progress });
        } catch (e) {
          cleanup();
          throw e;
        }
      },
      cancel(reason) {
        cleanup();
        withdrawn.abort(reason ?? new Error('The reader stopped reading.'));
      },
    },
    // Pieces buffered ahead overlap the next backend reads and hashes with the consumer.
    { highWaterMark: Math.max(1, opts.bufferPieces ?? 1) },
  );
}

export interface RepairReport {
  hash: string;
  checkedPieces: number;
  /** Pieces that were bad or missing and have been rewritten from parity. */
  repaired: { shard: number; piece: number }[];
  /** Pieces that are bad and cannot be rebuilt here (none/chunked, or < 4 good in a stripe). */
  unrecoverable: { shard: number; piece: number }[];
}

/**
 * A read of a blob still being imported ({@link PartialReadOptions}). Another copy of the same
 * blob may commit meanwhile (a peer pushed it, another fetch finished); when this import then
 * completes, its commit finds the blob stored and deletes its own pieces as a duplicate. A piece
 * found missing then is read from the stored copy instead, from the byte the read had reached:
 * both are the blob the hash names, and the stored copy is verified as it is read.
 */
export function readPartialStream(
  ctx: ReadContext,
  manifest: StoredManifest,
  opts: PartialReadOptions,
  stored: () => Promise<StoredManifest | undefined>,
): ReadableStream<Uint8Array> {
  let reader = readStream(ctx, async () => manifest, opts).getReader();
  let next = opts.start ?? 0;
  let switched = false;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      for (;;) {
        try {
          const { done, value } = await reader.read();
          if (done) controller.close();
          else {
            next += value.byteLength;
            controller.enqueue(value);
          }
          return;
        } catch (error) {
          if (switched || !(error instanceof CorruptPieceError)) throw error;
          const copy = await stored().catch(() => undefined);
          if (!copy || copy.storage_key === manifest.storage_key) throw error;
          switched = true;
          const { signal, end, bufferPieces } = opts;
          reader = readStream(ctx, async () => copy, {
            signal,
            end,
            bufferPieces,
            start: next,
          }).getReader();
        }
      }
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
}
/**
 * Verifies every piece; for rs-4-7 rewrites the bad ones from parity. A copy whose parity is
 * derived has only its data checked (and mended from any parity pieces it keeps).
 */
export async function repairBlob(
  ctx: ReadContext,
  m: StoredManifest,
  signal?: AbortSignal,
): Promise<RepairReport> {
  const report: RepairReport = {
    hash: m.blob_hash,
    checkedPieces: 0,
    repaired: [],
    unrecoverable: [],
  };
  if (m.encoding !== 'rs-4-7') {
    for (let s = 0; s < m.total_shards; s++) {
      for (let p = 0; p < piecesInShard(shardLength(m, s), m.piece_size); p++) {
        throwIfAborted(signal);
        report.checkedPieces++;
        if ((await verified(m, s, p, await loadPiece(ctx.backend, m, s, p))) !== 'ok') {
          report.unrecoverable.push({ shard: s, piece: p });
        }
      }
    }
    return report;
  }
  const stripes = piecesInShard(m.shard_size, m.piece_size);
  const kept = parityDerived(m) ? m.data_shards : m.total_shards;
  for (let j = 0; j < stripes; j++) {
    throwIfAborted(signal);
    report.checkedPieces += kept;
    if (kept < m.total_shards && (await readStripe(ctx.backend, m, j, kept)).bad.length === 0) {
      continue;
    }
    let rebuilt: { pieces: Uint8Array[]; bad: number[] };
    try {
      rebuilt = await rebuildStripe(ctx, m, j, 0);
    } catch (e) {
      if (!(e instanceof CorruptPieceError)) throw e;
      const { bad } = await readStripe(ctx.backend, m, j, kept);
      for (const s of bad) report.unrecoverable.push({ shard: s, piece: j });
      continue;
    }
    const mend = rebuilt.bad.filter((s) => s < kept);
    if (mend.length === 0) continue;
    // Only written if the blob still exists: a concurrent remove must not resurrect pieces.
    const wrote = await ctx.backend.rewritePieces(
      m.blob_hash,
      m.storage_key,
      mend.map((s) => ({ shard: s, piece: j, bytes: rebuilt.pieces[s] as Uint8Array })),
    );
    if (wrote) for (const s of mend) report.repaired.push({ shard: s, piece: j });
  }
  return report;
}
