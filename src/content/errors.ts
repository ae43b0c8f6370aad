/**
 * Typed errors of the content store. Every message says what happened AND what the
 * caller (or the person behind the UI) can do about it, because these strings reach
 * the UI unchanged.
 */

export class ContentError extends Error {
  override name = 'ContentError';
}

/** The input is not a content address we understand. */
export class InvalidHashError extends ContentError {
  override name = 'InvalidHashError';
  constructor(readonly input: string) {
    super(
      `"${input.length > 80 ? `${input.slice(0, 80)}…` : input}" is not a content address. ` +
        'Use sha256-<64 lowercase hex>, a bare 64-hex sha256, or a CIDv1 raw sha2-256 (bafkrei…).',
    );
  }
}

/** No committed manifest for this hash in the local store. */
export class NotFoundError extends ContentError {
  override name = 'NotFoundError';
  constructor(readonly hash: string) {
    super(`${hash} is not in the local store. Add it, or fetch it from a peer first.`);
  }
}

/**
 * A stored piece does not match its hash (or is missing) and could not be rebuilt.
 * Wrong bytes are never emitted: the read stops here.
 */
export class CorruptPieceError extends ContentError {
  override name = 'CorruptPieceError';
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

/** The browser refused to store more bytes. */
export class StorageQuotaError extends ContentError {
  override name = 'StorageQuotaError';
  constructor(override readonly cause?: unknown) {
    super(
      'Not enough storage space for this content: the browser refused the write. ' +
        'Free space (remove content you no longer need) or request persistent storage, then try again. ' +
        'Nothing partial was kept.',
    );
  }
}

/** The stored data does not look like something this version wrote (schema drift, manual edits). */
export class InvalidManifestError extends ContentError {
  override name = 'InvalidManifestError';
}

export function isQuotaError(e: unknown): boolean {
  if (e instanceof StorageQuotaError) return true;
  const name = (e as { name?: unknown } | null)?.name;
  // Firefox used NS_ERROR_DOM_QUOTA_REACHED before standardising on QuotaExceededError.
  return name === 'QuotaExceededError' || name === 'NS_ERROR_DOM_QUOTA_REACHED';
}

/** What we throw on abort: the signal's own reason, as `AbortSignal.throwIfAborted` does. */
export function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('The operation was aborted.', 'AbortError');
}
