/**
 * The import's commit trusts nothing the manifest says: it re-reads the stored pieces (each
 * verified again) and hashes the whole blob and every shard. rs-4-7 pieces imported from
 * parity shards are rebuilt first ({@link rebuildMissingData}); parity is recomputed and
 * checked ({@link verifyRs}). Any disagreement is a `ManifestMismatchError`.
 */
import * as E from '../erasure/index.ts';
import { abortReason, throwIfAborted } from '../wire/index.ts';
import { type ContentBackend, type PieceRef, type PieceWrite, quiet } from './backend.ts';
import { CorruptPieceError, ManifestMismatchError } from './errors.ts';
import { type HashService, type IncrementalHasher, sha256Bytes } from './hasher.ts';
import type { RemoteManifest } from './import-manifest.ts';
import { pieceLength, piecesInShard, type StoredManifest, shardLength } from './manifest.ts';
import { rebuildStripe } from './stripe.ts';

export interface VerifyContext {
  backend: ContentBackend;
  hashes: HashService;
}

/**
 * Writes pieces of import `id`, only while its pending record exists, so a write racing an
 * abort (or a sweep) can never leave pieces without an owner.
 */
export function putPieces(
  backend: ContentBackend,
  id: string,
  pieces: readonly PieceWrite[],
): Promise<void> {
  return backend.writePieces(id, pieces, { ifPending: true });
}

/** Reads and re-verifies stored pieces (same transaction); CorruptPieceError if one changed. */
async function readStored(
  backend: ContentBackend,
  m: StoredManifest,
  refs: readonly PieceRef[],
): Promise<Uint8Array[]> {
  const raw = await backend.readPieces(m.storage_key, refs);
  return Promise.all(
    raw.map(async (bytes, i) => {
      const { shard, piece } = refs[i] as PieceRef;
      if (!bytes) throw new CorruptPieceError(m.blob_hash, shard, piece, 'missing');
      if (
        bytes.byteLength !== pieceLength(shardLength(m, shard), m.piece_size, piece) ||
        (await sha256Bytes(bytes)) !== m.piece_hashes[shard]?.[piece]
      ) {
        throw new CorruptPieceError(
          m.blob_hash,
          shard,
          piece,
          'mismatch',
          'changed while importing',
        );
      }
      return bytes;
    }),
  );
}

/** Yields `refs` in order, each read (and re-verified) while the previous one is being used. */
export async function* readInOrder(
  backend: ContentBackend,
  m: StoredManifest,
  refs: readonly PieceRef[],
): AsyncGenerator<{ ref: PieceRef; bytes: Uint8Array }> {
  const read = (i: number) => readStored(backend, m, [refs[i] as PieceRef]);
  let next = refs.length > 0 ? read(0) : undefined;
  try {
    for (let i = 0; i < refs.length; i++) {
      const [bytes] = await (next as Promise<Uint8Array[]>);
      next = i + 1 < refs.length ? read(i + 1) : undefined;
      if (next) quiet(next);
      yield { ref: refs[i] as PieceRef, bytes: bytes as Uint8Array };
    }
  } finally {
    if (next) quiet(next);
  }
}

/** Shard `s`'s bytes hashed to `actual`: anything but the manifest's hash means it lied. */
export function expectShardHash(
  m: RemoteManifest,
  s: number,
  actual: string,
  what = 'shard',
): void {
  if (actual === m.shard_hashes[s]) return;
  throw new ManifestMismatchError(
    m.blob_hash,
    'shard_hashes',
    s,
    undefined,
    `${what} ${s} hashes to ${actual}, the manifest says ${m.shard_hashes[s]}`,
  );
}

/** Throws unless the bytes `what` names hash to the manifest's blob hash. */
function expectBlobHash(m: RemoteManifest, actual: string, what: string): void {
  if (actual === m.blob_hash) return;
  throw new ManifestMismatchError(
    m.blob_hash,
    'blob_hash',
    undefined,
    undefined,
    `${what} add up to ${actual}`,
  );
}

/** none / chunked: one in-order pass feeds the blob hasher and the current shard's hasher. */
export async function verifySequential(
  ctx: VerifyContext,
  m: StoredManifest,
  hashers: IncrementalHasher[],
  signal: AbortSignal,
  report: (bytesDone: number) => void,
): Promise<void> {
  const blobHasher = ctx.hashes.createHasher({ sizeHint: m.total_size });
  hashers.push(blobHasher);
  let done = 0;
  for (let s = 0; s < m.total_shards; s++) {
    const count = piecesInShard(shardLength(m, s), m.piece_size);
    const refs = Array.from({ length: count }, (_, p) => ({ shard: s, piece: p }));
    // `none`: the shard is the blob; a one-piece shard is its piece (checked on validation).
    const shardHasher =
      m.encoding === 'chunked' && count > 1
        ? ctx.hashes.createHasher({ sizeHint: shardLength(m, s) })
        : undefined;
    if (shardHasher) hashers.push(shardHasher);
    for await (const { bytes } of readInOrder(ctx.backend, m, refs)) {
      throwIfAborted(signal);
      done += bytes.byteLength;
      await shardHasher?.update(bytes);
      await blobHasher.update(bytes, { transfer: true });
      report(done);
    }
    if (shardHasher) expectShardHash(m, s, await shardHasher.digest());
  }
  expectBlobHash(m, await blobHasher.digest(), 'its pieces');
}

/**
 * rs-4-7 pieces imported from parity shards: in each stripe whose data pieces are not all
 * written, the missing ones are rebuilt from the 4 or more pieces that are (each re-verified
 * as it is read), checked against `piece_hashes` and written, so that {@link verifyRs} then
 * finds every data piece.
 */
export async function rebuildMissingData(
  ctx: VerifyContext,
  m: StoredManifest,
  written: (shard: number, piece: number) => boolean,
  signal: AbortSignal,
): Promise<void> {
  const stripes = piecesInShard(m.shard_size, m.piece_size);
  for (let j = 0; j < stripes; j++) {
    throwIfAborted(signal);
    const lost = Array.from({ length: m.data_shards }, (_, k) => k).filter((k) => !written(k, j));
    if (lost.length === 0) continue;
    const have = Array.from({ length: m.total_shards }, (_, s) => s).filter((s) => written(s, j));
    const bytes = await readStored(
      ctx.backend,
      m,
      have.map((shard) => ({ shard, piece: j })),
    );
    const present = have.map((shard, i) => ({ shard, bytes: bytes[i] as Uint8Array }));
    const rebuilt = await Promise.all(
      rebuildStripe(present, lost).map(async ({ shard: k, bytes: piece }) => {
        const h = await sha256Bytes(piece);
        if (h !== m.piece_hashes[k]?.[j]) {
          throw new ManifestMismatchError(
            m.blob_hash,
            'piece_hashes',
            k,
            j,
            `data shard ${k} piece ${j} rebuilt from shards ${have.join(', ')} hashes to ${h}, the manifest says ${m.piece_hashes[k]?.[j]}`,
          );
        }
        return { shard: k, piece: j, bytes: piece };
      }),
    );
    await putPieces(ctx.backend, m.storage_key, rebuilt);
  }
}

/**
 * rs-4-7, two concurrent passes over the stored data pieces:
 *  - stripes: the 4 data pieces of stripe j → parity (StripeEncoder), checked against
 *    `piece_hashes` and written; all 7 padded shards hashed incrementally;
 *  - blob: data shards in order, cut at `total_size` (the padding must be zeros).
 */
export async function verifyRs(
  ctx: VerifyContext,
  m: StoredManifest,
  hashers: IncrementalHasher[],
  outer: AbortSignal,
  report: (bytesDone: number) => void,
): Promise<void> {
  const D = m.data_shards;
  const T = m.total_shards;
  const ss = m.shard_size;
  const P = m.piece_size;
  const size = m.total_size;
  const stripes = piecesInShard(ss, P);
  // Either pass failing stops the other.
  const inner = new AbortController();
  const onOuter = () => inner.abort(abortReason(outer));
  if (outer.aborted) onOuter();
  else outer.addEventListener('abort', onOuter, { once: true });
  const signal = inner.signal;
  let stripeBytes = 0;
  let blobBytes = 0;
  const progress = () => report(Math.min(stripeBytes, blobBytes));

  const stripePass = async () => {
    const shardHashers = Array.from({ length: T }, () => ctx.hashes.createHasher({ sizeHint: ss }));
    hashers.push(...shardHashers);
    const encoder = new E.StripeEncoder(Math.min(P, ss));
    let prevWrite: Promise<void> = Promise.resolve();
    try {
      const read = (j: number) =>
        readStored(
          ctx.backend,
          m,
          Array.from({ length: D }, (_, k) => ({ shard: k, piece: j })),
        );
      let next = stripes > 0 ? read(0) : undefined;
      for (let j = 0; j < stripes; j++) {
        throwIfAborted(signal);
        const data = await (next as Promise<Uint8Array[]>);
        next = j + 1 < stripes ? read(j + 1) : undefined;
        if (next) quiet(next);
        const len = pieceLength(ss, P, j);
        for (let k = 0; k < D; k++) (encoder.data[k] as Uint8Array).set(data[k] as Uint8Array);
        encoder.encode(len);
        const parity = encoder.parity.map((v) => v.slice(0, len));
        const hashes = await Promise.all(parity.map((b) => sha256Bytes(b)));
        hashes.forEach((h, k) => {
          const s = D + k;
          if (h !== m.piece_hashes[s]?.[j]) {
            throw new ManifestMismatchError(
              m.blob_hash,
              'piece_hashes',
              s,
              j,
              `parity shard ${s} piece ${j} recomputed from the data hashes to ${h}, the manifest says ${m.piece_hashes[s]?.[j]}`,
            );
          }
        });
        // One stripe's parity write in flight while the next stripe is read and encoded.
        await prevWrite;
        prevWrite = putPieces(
          ctx.backend,
          m.storage_key,
          parity.map((bytes, k) => ({ shard: D + k, piece: j, bytes })),
        );
        quiet(prevWrite);
        for (let k = 0; k < D; k++) {
          await (shardHashers[k] as IncrementalHasher).update(data[k] as Uint8Array, {
            transfer: true,
          });
        }
        for (let k = 0; k < T - D; k++) {
          // Copied, not transferred: the write above may not have cloned them yet.
          await (shardHashers[D + k] as IncrementalHasher).update(parity[k] as Uint8Array);
        }
        stripeBytes = Math.min(size, D * Math.min(ss, (j + 1) * P));
        progress();
      }
      await prevWrite;
    } finally {
      quiet(prevWrite);
      encoder.dispose();
    }
    const actual = await Promise.all(shardHashers.map((h) => h.digest()));
    actual.forEach((h, s) => {
      expectShardHash(m, s, h, s < D ? 'data shard' : 'recomputed parity shard');
    });
  };

  const blobPass = async () => {
    const blobHasher = ctx.hashes.createHasher({ sizeHint: size });
    hashers.push(blobHasher);
    const refs: PieceRef[] = [];
    for (let k = 0; k < D; k++) for (let p = 0; p < stripes; p++) refs.push({ shard: k, piece: p });
    for await (const { ref, bytes } of readInOrder(ctx.backend, m, refs)) {
      throwIfAborted(signal);
      const start = ref.shard * ss + ref.piece * P;
      const useful = Math.max(0, Math.min(bytes.byteLength, size - start));
      for (let i = useful; i < bytes.byteLength; i++) {
        if (bytes[i] !== 0) {
          throw new ManifestMismatchError(
            m.blob_hash,
            'padding',
            ref.shard,
            ref.piece,
            `data shard ${ref.shard} piece ${ref.piece} has non-zero bytes after the end of the blob (rs-4-7 pads with zeros)`,
          );
        }
      }
      if (useful > 0) {
        await blobHasher.update(useful === bytes.byteLength ? bytes : bytes.subarray(0, useful), {
          transfer: true,
        });
      }
      blobBytes = Math.min(size, start + useful);
      progress();
    }
    expectBlobHash(m, await blobHasher.digest(), 'its data shards');
  };

  const fail = (e: unknown) => {
    inner.abort(e);
    throw e;
  };
  try {
    await Promise.all([stripePass().catch(fail), blobPass().catch(fail)]);
  } catch (e) {
    // The first failure is the one to report (not the other pass's abort).
    throw signal.reason ?? e;
  } finally {
    outer.removeEventListener('abort', onOuter);
  }
}
