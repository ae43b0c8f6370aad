/**
 * Typed errors of the content store. Every message says what happened AND what the
 * caller (or the person behind the UI) can do about it, because these strings reach
 * the UI unchanged.
 */
import { clip, ElohimError } from '../wire/index.ts';
import type { PieceRef } from './backend.ts';

export class ContentError extends ElohimError.named('ContentError') {}

/** The input is not a content address we understand. */
export class InvalidHashError extends ContentError.named('InvalidHashError') {
  constructor(readonly input: string) {
    super(
      `"${clip(input, 80)}" is not a content address. ` +
        'Use sha256-<64 lowercase hex>, a bare 64-hex sha256, or a CIDv1 raw sha2-256 (bafkrei…).',
    );
  }
}

/** No committed manifest for this hash in the local store. */
export class NotFoundError extends ContentError.named('NotFoundError') {
  constructor(readonly hash: string) {
    super(`${hash} is not in the local store. Add it, or fetch it from a peer first.`);
  }
}

/**
 * A stored piece does not match its hash (or is missing) and could not be rebuilt.
 * Wrong bytes are never emitted: the read stops here.
 */
export class CorruptPieceError extends ContentError.named('CorruptPieceError') {
  constructor(
    readonly hash: string,
    readonly shardIndex: number,
    readonly pieceIndex: number,
    readonly reason: 'mismatch' | 'missing' | 'unrecoverable',
    detail?: string,
  ) {
    super(
      `${hash}: shard ${shardIndex} piece ${pieceIndex} is ${
        reason === 'mismatch'
          ? 'corrupt (hash mismatch)'
          : reason === 'missing'
            ? 'missing'
            : 'unrecoverable (fewer than 4 verified pieces in its stripe)'
      }${detail ? ` — ${detail}` : ''}. ` +
        'The local copy is damaged: remove it and fetch it again from a peer.',
    );
  }
}

/** The browser (or the disk, for the filesystem backend) refused to store more bytes. */
export class StorageQuotaError extends ContentError.named('StorageQuotaError') {
  constructor(cause?: unknown) {
    super(
      'Not enough storage space for this content: the browser refused the write. ' +
        'Free space (remove content you no longer need) or request persistent storage, then try again. ' +
        'Nothing partial was kept.',
      { cause },
    );
  }
}

/** The stored data does not look like something this version wrote (schema drift, manual edits). */
export class InvalidManifestError extends ContentError.named('InvalidManifestError') {}

export function isQuotaError(e: unknown): boolean {
  if (e instanceof StorageQuotaError) return true;
  const { name, code } = (e ?? {}) as { name?: unknown; code?: unknown };
  // Firefox used NS_ERROR_DOM_QUOTA_REACHED before standardising on QuotaExceededError; the
  // filesystem backend's disk full (or over its quota) is ENOSPC / EDQUOT.
  return (
    name === 'QuotaExceededError' ||
    name === 'NS_ERROR_DOM_QUOTA_REACHED' ||
    code === 'ENOSPC' ||
    code === 'EDQUOT'
  );
}

/** A piece given to `writePiece` does not match the manifest: the peer that sent it is wrong. */
export class PieceMismatchError extends ContentError.named('PieceMismatchError') {
  constructor(
    readonly hash: string,
    readonly shardIndex: number,
    readonly pieceIndex: number,
    readonly reason: 'length' | 'hash',
    detail: string,
  ) {
    super(
      `${hash}: the bytes given for shard ${shardIndex} piece ${pieceIndex} do not match the ` +
        `manifest (${detail}). The peer that sent them is wrong or broken: drop it and fetch ` +
        'this piece from another peer. Nothing was written; the import goes on.',
    );
  }
}

/**
 * The pieces all match `piece_hashes`, but the blob they add up to does not match the rest of
 * the manifest (blob hash, a shard hash, rs parity or padding): the manifest itself lied.
 */
export class ManifestMismatchError extends ContentError.named('ManifestMismatchError') {
  constructor(
    readonly hash: string,
    readonly field: 'blob_hash' | 'shard_hashes' | 'piece_hashes' | 'padding',
    readonly shardIndex: number | undefined,
    readonly pieceIndex: number | undefined,
    detail: string,
  ) {
    super(
      `The manifest of ${hash} does not describe its own pieces: ${detail}. ` +
        'The peer that sent this manifest is wrong or malicious: drop it and get the manifest ' +
        'from another peer. Nothing of this import was kept.',
    );
  }
}

/** `commit` was called before every needed piece was written. The import stays open. */
export class ImportIncompleteError extends ContentError.named('ImportIncompleteError') {
  constructor(
    readonly hash: string,
    readonly missing: readonly PieceRef[],
  ) {
    const first = missing
      .slice(0, 4)
      .map((r) => `${r.shard}/${r.piece}`)
      .join(', ');
    super(
      `${hash}: ${missing.length} needed piece(s) are not written yet (shard/piece ${first}` +
        `${missing.length > 4 ? ', …' : ''}). Write them (see session.missing()), then commit.`,
    );
  }
}

/**
 * At commit, fewer pieces of the import were stored than it wrote: something removed them
 * (a sweep that took the import for a crashed one, a hand in the storage). Nothing committed.
 */
export class ImportPiecesLostError extends ContentError.named('ImportPiecesLostError') {
  constructor(
    readonly hash: string,
    readonly stored: number,
    readonly expected: number,
  ) {
    super(
      `${hash}: ${stored} of the ${expected} pieces this import wrote are still stored, or its ` +
        'pending record is gone: they were removed before the commit (swept by another tab or ' +
        'process?). Nothing was committed; begin the import again.',
    );
  }
}

/** The import was already committed, aborted or discarded after an error. */
export class ImportClosedError extends ContentError.named('ImportClosedError') {
  constructor(
    readonly hash: string,
    readonly state: string,
  ) {
    super(`The import of ${hash} is ${state}; begin a new import to store it.`);
  }
}
