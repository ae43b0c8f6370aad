/**
 * Piece (segment) encryption: AES-256-GCM through WebCrypto under a random per-item key.
 *
 * Nonces are deterministic: 96 bits = 4 zero bytes ‖ the segment index as u64 big-endian.
 * They never repeat under one key because (1) an item key is random, made by
 * {@link createItemKey} for one item and used for nothing else, and (2) sealing encrypts each
 * index of that item exactly once. Deterministic (rather than random, stored) nonces cost no
 * bytes, and make a re-encryption of the same segment — e.g. a repair — byte-identical, so
 * every replica and every hash of the ciphertext stays valid.
 *
 * The additional authenticated data binds each segment to its item and place:
 *   "elohim/reach/piece/v1" ‖ item binding (32 bytes) ‖ index (u64 BE) ‖ final (1 byte)
 * so a segment moved to another index or item, or a stream cut after a non-final segment,
 * fails with {@link DecryptionError}.
 */
import { bs, concat, u64be, utf8 } from './bytes.ts';
import { DecryptionError, ReachError } from './errors.ts';

/** Bytes GCM adds to every segment. */
export const TAG_BYTES = 16;

/** What a segment is encrypted under. */
export interface ItemKey {
  /** AES-256-GCM, usages encrypt/decrypt. */
  readonly key: CryptoKey;
  /**
   * 32 bytes naming the item, authenticated with every segment. sealed.ts uses sha256 of the
   * sealed header, which holds a random 128-bit item id, the reach, the owner and the key slots.
   */
  readonly binding: Uint8Array;
}

/** A fresh random item key. Extractable only so that it can be wrapped for each recipient. */
export function createItemKey(): Promise<CryptoKey> {
  return globalThis.crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, true, [
    'encrypt',
    'decrypt',
  ]);
}

const AAD_LABEL = utf8('elohim/reach/piece/v1');

function checkIndex(index: number): void {
  if (!Number.isSafeInteger(index) || index < 0) {
    throw new ReachError(
      `Segment index ${index} is not a non-negative integer. This is a bug in the caller.`,
    );
  }
}

function checkBinding(item: ItemKey): void {
  if (item.binding.byteLength !== 32) {
    throw new ReachError(
      `An item binding has 32 bytes, not ${item.binding.byteLength}. This is a bug in the caller.`,
    );
  }
}

/** The 96-bit nonce of segment `index`. */
export function pieceNonce(index: number): Uint8Array<ArrayBuffer> {
  checkIndex(index);
  return concat(new Uint8Array(4), u64be(index));
}

function params(item: ItemKey, index: number, final: boolean): AesGcmParams {
  checkBinding(item);
  return {
    name: 'AES-GCM',
    iv: pieceNonce(index),
    additionalData: concat(AAD_LABEL, item.binding, u64be(index), Uint8Array.of(final ? 1 : 0)),
    tagLength: TAG_BYTES * 8,
  };
}

/** Ciphertext of segment `index` (plaintext length + {@link TAG_BYTES}). `final` marks the last segment. */
export async function encryptPiece(
  item: ItemKey,
  index: number,
  plaintext: Uint8Array,
  final: boolean,
): Promise<Uint8Array<ArrayBuffer>> {
  const out = await globalThis.crypto.subtle.encrypt(
    params(item, index, final),
    item.key,
    bs(plaintext),
  );
  return new Uint8Array(out);
}

/** Plaintext of segment `index`, or {@link DecryptionError} (nothing is released on failure). */
export async function decryptPiece(
  item: ItemKey,
  index: number,
  ciphertext: Uint8Array,
  final: boolean,
): Promise<Uint8Array<ArrayBuffer>> {
  const p = params(item, index, final);
  if (ciphertext.byteLength < TAG_BYTES) {
    throw new DecryptionError(
      `segment ${index} (${ciphertext.byteLength} bytes, shorter than a tag)`,
    );
  }
  try {
    return new Uint8Array(await globalThis.crypto.subtle.decrypt(p, item.key, bs(ciphertext)));
  } catch (e) {
    throw new DecryptionError(`segment ${index}${final ? ' (final)' : ''}`, e);
  }
}
