/** Deterministic pseudo-random bytes (xorshift32), so that a failing test reproduces. */
export function pseudoRandomBytes(n: number, seed = n + 1): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(n);
  let x = Math.imul(seed, 2654435761) >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}
