/**
 * What the import's checks share (import-check.ts): writes that only land while the import is
 * pending, read-backs verified again, and the comparisons with the manifest whose failure is a
 * `ManifestMismatchError` (the manifest lied).
 */
import type { ContentBackend, PieceRef, PieceWrite } from './backend.ts';
import { CorruptPieceError, ManifestMismatchError } from './errors.ts';
import { sha256Bytes } from './hasher.ts';
import type { RemoteManifest } from './import-manifest.ts';
import { pieceLength, type StoredManifest, shardLength } from './manifest.ts';

/** A piece's key in an import's sets: `shard/piece`. */
export const pieceKey = (shard: number, piece: number) => `${shard}/${piece}`;

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
export async function readVerified(
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
export function expectBlobHash(m: RemoteManifest, actual: string, what: string): void {
  if (actual === m.blob_hash) return;
  throw new ManifestMismatchError(
    m.blob_hash,
    'blob_hash',
    undefined,
    undefined,
    `${what} add up to ${actual}`,
  );
}
