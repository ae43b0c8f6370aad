import { describe, expect, it } from 'vitest';
import { pseudoRandomBytes } from '../test-support/bytes.ts';
import {
  createItemKey,
  decryptPiece,
  encryptPiece,
  type ItemKey,
  pieceNonce,
  TAG_BYTES,
} from './cipher.ts';
import { DecryptionError } from './errors.ts';

async function itemKey(): Promise<ItemKey> {
  return { key: await createItemKey(), binding: crypto.getRandomValues(new Uint8Array(32)) };
}

const flip = (b: Uint8Array, at: number) => {
  const c = b.slice();
  c[at] = (c[at] as number) ^ 1;
  return c;
};

describe('piece encryption', () => {
  it('round-trips, and ciphertext is not the plaintext', async () => {
    const k = await itemKey();
    for (const size of [0, 1, 100, 65_536]) {
      const plain = pseudoRandomBytes(size);
      const sealed = await encryptPiece(k, 3, plain, false);
      expect(sealed.byteLength).toBe(size + TAG_BYTES);
      // A 1-byte ciphertext equals its plaintext 1 time in 256: compare only longer ones.
      if (size >= 16) expect(Buffer.compare(sealed.subarray(0, size), plain)).not.toBe(0);
      expect(await decryptPiece(k, 3, sealed, false)).toEqual(plain);
    }
  });

  it('is deterministic per (item key, index) and differs across indexes and items', async () => {
    const k = await itemKey();
    const plain = new Uint8Array(64).fill(0x41);
    const a = await encryptPiece(k, 0, plain, false);
    expect(await encryptPiece(k, 0, plain, false)).toEqual(a);
    expect(await encryptPiece(k, 1, plain, false)).not.toEqual(a);
    expect(await encryptPiece(await itemKey(), 0, plain, false)).not.toEqual(a);
  });

  it('uses a distinct nonce for every index', () => {
    const seen = new Set<string>();
    const indexes = [
      ...Array.from({ length: 10_000 }, (_, i) => i),
      2 ** 32 - 1,
      2 ** 32,
      2 ** 40 + 7,
      Number.MAX_SAFE_INTEGER,
    ];
    for (const i of indexes) {
      const n = pieceNonce(i);
      expect(n.byteLength).toBe(12);
      seen.add(Buffer.from(n).toString('hex'));
    }
    expect(seen.size).toBe(indexes.length);
    expect(() => pieceNonce(-1)).toThrow(/bug in the caller/);
    expect(() => pieceNonce(1.5)).toThrow(/bug in the caller/);
  });

  it('rejects tampering with DecryptionError', async () => {
    const k = await itemKey();
    const plain = pseudoRandomBytes(1000);
    const sealed = await encryptPiece(k, 5, plain, true);
    const other = await createItemKey();
    // Thunks: a rejected promise nobody awaits yet would be reported as unhandled.
    const attempts: [string, () => Promise<unknown>][] = [
      ['ciphertext bit', () => decryptPiece(k, 5, flip(sealed, 10), true)],
      ['tag bit', () => decryptPiece(k, 5, flip(sealed, sealed.byteLength - 1), true)],
      ['other index', () => decryptPiece(k, 4, sealed, true)],
      ['final flag', () => decryptPiece(k, 5, sealed, false)],
      ['other item', () => decryptPiece({ ...k, binding: flip(k.binding, 0) }, 5, sealed, true)],
      ['other key', () => decryptPiece({ ...k, key: other }, 5, sealed, true)],
      ['truncated', () => decryptPiece(k, 5, sealed.subarray(0, sealed.byteLength - 1), true)],
      ['shorter than a tag', () => decryptPiece(k, 5, sealed.subarray(0, 10), true)],
    ];
    for (const [what, attempt] of attempts) {
      await expect(attempt(), what).rejects.toThrow(DecryptionError);
    }
    await expect(decryptPiece(k, 4, sealed, true)).rejects.toThrow(/fetch the item again/);
  });

  it('rejects swapped pieces', async () => {
    const k = await itemKey();
    const p0 = await encryptPiece(k, 0, pseudoRandomBytes(32, 1), false);
    const p1 = await encryptPiece(k, 1, pseudoRandomBytes(32, 2), false);
    await expect(decryptPiece(k, 0, p1, false)).rejects.toThrow(DecryptionError);
    await expect(decryptPiece(k, 1, p0, false)).rejects.toThrow(DecryptionError);
  });

  it('refuses a malformed binding', async () => {
    const k = { key: await createItemKey(), binding: new Uint8Array(16) };
    await expect(encryptPiece(k, 0, new Uint8Array(1), true)).rejects.toThrow(/32 bytes/);
  });
});
