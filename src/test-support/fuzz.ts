/** Building blocks of the seeded fuzz suites: a reproducible random source and raw frames. */

/** mulberry32: small, fast, and the same sequence on every run. */
export function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  return {
    int,
    pick: <T>(items: readonly T[]): T => items[int(items.length)] as T,
    bytes: (n: number) => {
      const out = new Uint8Array(n);
      for (let i = 0; i < n; i++) out[i] = int(256);
      return out;
    },
  };
}
export type Rng = ReturnType<typeof prng>;

/** The 4-byte big-endian length header followed by `body`; `declared` may lie about the length. */
export function framed(body: Uint8Array, declared = body.byteLength): Uint8Array {
  const out = new Uint8Array(4 + body.byteLength);
  new DataView(out.buffer).setUint32(0, declared);
  out.set(body, 4);
  return out;
}

export const concat = (...parts: Uint8Array[]): Uint8Array => new Uint8Array(Buffer.concat(parts));

/**
 * The frame bodies of a whole answer (each a 4-byte big-endian length, then that many bytes),
 * or 'undecodable' when it ends inside a length or a body.
 */
export function splitFrames(raw: Uint8Array): Uint8Array[] | 'undecodable' {
  const bodies: Uint8Array[] = [];
  let off = 0;
  while (off < raw.byteLength) {
    if (raw.byteLength - off < 4) return 'undecodable';
    const n = new DataView(raw.buffer, raw.byteOffset + off, 4).getUint32(0);
    const body = raw.subarray(off + 4, off + 4 + n);
    if (body.byteLength < n) return 'undecodable';
    off += 4 + n;
    bodies.push(body);
  }
  return bodies;
}
