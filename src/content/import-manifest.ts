/**
 * A manifest as a peer sends it, and the checks it must pass before a byte of it is trusted:
 * structure and internal consistency ({@link validateRemoteManifest}). Whether its hashes are
 * honest is what the import checks as the pieces come (`import-check.ts`).
 */
import * as E from '../erasure/index.ts';
import { type ContentHash, cidOf, isContentHash } from './address.ts';
import type { PieceRef } from './backend.ts';
import { InvalidManifestError } from './errors.ts';
import {
  type Encoding,
  MiB,
  piecesInShard,
  REACHES,
  type StoredManifest,
  shardLength,
} from './manifest.ts';
import { manifestFields } from './rust-manifest.ts';

/** A manifest as a peer sends it: everything but our local `storage_key`. */
export type RemoteManifest = Omit<StoredManifest, 'storage_key'>;

/** The manifest this store sends to peers: its local `storage_key`, `origin` and `parity` stripped. */
export function remoteManifest(m: StoredManifest | RemoteManifest): RemoteManifest {
  const { storage_key: _local, origin: _why, parity: _kept, ...rest } = m as StoredManifest;
  return rest;
}

/**
 * A piece hash nobody gave us: a Rust manifest has none. Such a blob is verified per shard
 * (and whole) as its pieces arrive; each piece's hash is recorded as it is written, so the
 * stored manifest has them all (import-session.ts, import-stripes.ts).
 */
export const UNKNOWN_PIECE = '';

/** Pieces we cut a Rust blob's shards into (the store's default piece size). */
export const RUST_PIECE_SIZE = MiB;

/** Largest `piece_size` accepted from a peer: one piece (rs: one stripe of 7) is held in memory. */
export const MAX_IMPORT_PIECE_SIZE = 64 * MiB;

const EMPTY_SHA256 =
  'sha256-e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' as ContentHash;

/**
 * Checks a peer's manifest for structure and internal consistency (sizes vs encoding,
 * `piece_hashes` shape, hash formats, `blob_cid`) and returns a clean copy holding only the
 * known fields. Throws {@link InvalidManifestError}. It cannot tell whether the hashes are
 * honest: that is what `commit` checks.
 *
 * Ours (with `format`, `piece_size`, `piece_hashes`) or any of the three Rust shapes
 * (rust-manifest.ts; named or positional): a Rust one gets `blob_cid` from `blob_hash` when it
 * has none, pieces of {@link RUST_PIECE_SIZE}, and piece hashes {@link UNKNOWN_PIECE} except
 * where a shard is one piece (its hash is the shard's).
 */
export function validateRemoteManifest(input: unknown): RemoteManifest {
  input = manifestFields(input);
  const bad = (why: string): never => {
    throw new InvalidManifestError(
      `The peer's manifest is invalid: ${why}. Drop that peer and ask another one.`,
    );
  };
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    return bad('it is not an object');
  }
  const o = input as Record<string, unknown>;
  const count = (k: string): number => {
    const v = o[k];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
      bad(`${k} is not a non-negative integer (got ${JSON.stringify(v)})`);
    }
    return v as number;
  };
  const str = (k: string): string => {
    const v = o[k];
    if (typeof v !== 'string') bad(`${k} is not a string`);
    return v as string;
  };
  const optStr = (k: string): string | null | undefined => {
    const v = o[k];
    if (v !== undefined && v !== null && typeof v !== 'string') bad(`${k} is not a string`);
    return v as string | null | undefined;
  };
  const hash = (v: unknown, what: string): ContentHash => {
    if (!isContentHash(v)) bad(`${what} is not sha256-<64 lowercase hex>`);
    return v as ContentHash;
  };
  const time = (k: string, v: string) => {
    if (Number.isNaN(Date.parse(v))) bad(`${k} "${v}" is not an RFC 3339 time`);
  };

  // Ours carries `format`; the Rust shapes carry none of our extensions.
  const rust = o.format === undefined && o.piece_size === undefined && o.piece_hashes === undefined;
  if (!rust && o.format !== 1) bad(`format ${JSON.stringify(o.format)} is not 1`);
  const encoding = o.encoding as Encoding;
  if (encoding !== 'none' && encoding !== 'chunked' && encoding !== 'rs-4-7') {
    bad(`unknown encoding ${JSON.stringify(o.encoding)} (expected none, chunked or rs-4-7)`);
  }
  const total_size = count('total_size');
  const shard_size = count('shard_size');
  const data_shards = count('data_shards');
  const total_shards = count('total_shards');
  const piece_size = rust ? RUST_PIECE_SIZE : count('piece_size');
  if (piece_size === 0) bad('piece_size is 0');
  if (piece_size > MAX_IMPORT_PIECE_SIZE) {
    bad(`piece_size ${piece_size} is above the ${MAX_IMPORT_PIECE_SIZE} bytes this store accepts`);
  }
  const blob_hash = hash(o.blob_hash, 'blob_hash');
  const blob_cid = rust && o.blob_cid === undefined ? cidOf(blob_hash) : str('blob_cid');
  if (blob_cid !== cidOf(blob_hash)) bad(`blob_cid ${blob_cid} is not the CID of ${blob_hash}`);
  const mime_type = str('mime_type');
  const reach = str('reach') as RemoteManifest['reach'];
  if (!REACHES.includes(reach)) bad(`unknown reach "${reach}"`);
  const created_at = str('created_at');
  time('created_at', created_at);
  const author_id = optStr('author_id');
  const verified_at = optStr('verified_at');
  const name = optStr('name');

  switch (encoding) {
    case 'none':
      if (data_shards !== 1 || total_shards !== 1) bad('a none manifest has exactly 1 shard');
      if (shard_size !== total_size) bad('a none manifest has shard_size == total_size');
      if (total_size === 0 && blob_hash !== EMPTY_SHA256) {
        bad('total_size is 0 but blob_hash is not the sha256 of nothing');
      }
      break;
    case 'chunked': {
      if (total_size === 0) bad('a chunked manifest cannot be empty');
      if (shard_size === 0) bad('a chunked manifest needs shard_size > 0');
      const n = Math.ceil(total_size / shard_size);
      if (data_shards !== n || total_shards !== n) {
        bad(
          `total_size ${total_size} in chunks of ${shard_size} makes ${n} shards, not ${data_shards}/${total_shards}`,
        );
      }
      break;
    }
    case 'rs-4-7':
      if (total_size === 0) bad('an rs-4-7 manifest cannot be empty');
      if (data_shards !== E.DATA_SHARDS || total_shards !== E.TOTAL_SHARDS) {
        bad(`rs-4-7 has ${E.DATA_SHARDS} data and ${E.TOTAL_SHARDS} total shards`);
      }
      if (shard_size !== Math.ceil(total_size / E.DATA_SHARDS)) {
        bad(`rs-4-7 shard_size must be ceil(total_size / 4) = ${Math.ceil(total_size / 4)}`);
      }
      break;
  }

  if (!Array.isArray(o.shard_hashes) || o.shard_hashes.length !== total_shards) {
    bad(`shard_hashes must list ${total_shards} hash(es)`);
  }
  const shard_hashes = (o.shard_hashes as unknown[]).map((v, i) => hash(v, `shard_hashes[${i}]`));
  if (encoding === 'none' && shard_hashes[0] !== blob_hash) {
    bad('a none manifest has shard_hashes[0] == blob_hash');
  }
  const sizes = { encoding, total_size, shard_size };
  const rows: unknown = rust
    ? shard_hashes.map((h, s) => {
        const n = piecesInShard(shardLength(sizes, s), piece_size);
        return n === 1 ? [h] : new Array(n).fill(UNKNOWN_PIECE);
      })
    : o.piece_hashes;
  if (!Array.isArray(rows) || rows.length !== total_shards) {
    bad(`piece_hashes must have ${total_shards} row(s), one per shard`);
  }
  const piece_hashes = (rows as unknown[]).map((row, s) => {
    const want = piecesInShard(shardLength(sizes, s), piece_size);
    if (!Array.isArray(row) || row.length !== want) {
      bad(`piece_hashes[${s}] must list ${want} piece hash(es) for piece_size ${piece_size}`);
    }
    const out = (row as unknown[]).map((v, p) =>
      // Unknown: a Rust manifest's (validated again, it keeps them), checked with its shard.
      v === UNKNOWN_PIECE ? UNKNOWN_PIECE : (hash(v, `piece_hashes[${s}][${p}]`) as string),
    );
    // A shard of one piece IS that piece.
    if (out.length === 1 && out[0] !== shard_hashes[s]) {
      bad(`shard ${s} is one piece, but piece_hashes[${s}][0] != shard_hashes[${s}]`);
    }
    return out;
  });

  const m: RemoteManifest = {
    blob_cid,
    blob_hash,
    total_size,
    mime_type,
    encoding,
    data_shards,
    total_shards,
    shard_size,
    shard_hashes,
    reach,
    author_id: author_id ?? null,
    created_at,
    verified_at: verified_at ?? null,
    format: 1,
    piece_size,
    piece_hashes,
  };
  if (typeof name === 'string') m.name = name;
  return m;
}

/** Whether every piece hash is known (false for a Rust manifest until its import has run). */
export function hasPieceHashes(m: RemoteManifest): boolean {
  return m.piece_hashes.every((row) => !row.includes(UNKNOWN_PIECE));
}

/** Every piece of the given shards, shard by shard. */
export function piecesOf(m: RemoteManifest, shards: Iterable<number>): PieceRef[] {
  const out: PieceRef[] = [];
  for (const s of shards) {
    const n = piecesInShard(shardLength(m, s), m.piece_size);
    for (let p = 0; p < n; p++) out.push({ shard: s, piece: p });
  }
  return out;
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/** Every (shard, piece) a peer must supply: rs parity is recomputed, not fetched. */
export function neededPieces(m: RemoteManifest): PieceRef[] {
  return piecesOf(m, range(m.encoding === 'rs-4-7' ? m.data_shards : m.total_shards));
}

/** Whether two manifests of one blob cut it into the same pieces. */
export function sameLayout(a: RemoteManifest, b: RemoteManifest): boolean {
  return (
    a.piece_size === b.piece_size &&
    a.shard_size === b.shard_size &&
    JSON.stringify(a.shard_hashes) === JSON.stringify(b.shard_hashes) &&
    JSON.stringify(a.piece_hashes) === JSON.stringify(b.piece_hashes)
  );
}
