import { encode } from '@msgpack/msgpack';
import { describe, expect, it } from 'vitest';
import { checkStructure, decodeChecked, StructureError } from './msgpack.ts';

/** `depth` arrays, each holding the next, around nil. */
const nested = (depth: number) => Uint8Array.from([...Array(depth).fill(0x91), 0xc0]);

describe('checkStructure', () => {
  it('passes every kind of value the encoder makes, as deep as allowed', () => {
    const values = [
      null,
      true,
      0,
      -1,
      127,
      -33,
      255,
      65_535,
      2 ** 32,
      -(2 ** 40),
      2n ** 63n,
      1.5,
      'ä'.repeat(40),
      'x'.repeat(70_000),
      new Uint8Array(300),
      new Uint8Array(70_000),
      new Date(1_767_225_600_123),
      [],
      {},
      Array.from({ length: 20 }, (_, i) => i),
      Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${i}`, [i, { i }]])),
      { cell_id: [new Uint8Array(39), new Uint8Array(39)], payload: encode({ a: [1, 2] }) },
    ];
    for (const value of values) {
      expect(() => checkStructure(encode(value, { useBigInt64: true }), 4)).not.toThrow();
    }
    expect(decodeChecked(nested(32), 32)).toBeDefined();
  });

  it('refuses nesting past the limit before decoding anything', () => {
    expect(() => checkStructure(nested(33), 32)).toThrow(/nested deeper than 32 levels/);
    expect(() => checkStructure(encode({ a: { b: { c: [] } } }), 3)).toThrow(StructureError);
    // 16 MiB of 0x91 is scanned in a moment, not decoded into millions of arrays.
    const huge = new Uint8Array(16 << 20).fill(0x91);
    const started = performance.now();
    expect(() => checkStructure(huge, 32)).toThrow(/nested deeper/);
    expect(performance.now() - started).toBeLessThan(100);
  });

  it('refuses lengths the bytes cannot hold, truncation, unused bytes and 0xc1', () => {
    const cases: [number[], RegExp][] = [
      [[0xdd, 0xff, 0xff, 0xff, 0xff], /announces 4294967295 items but only 0 bytes/],
      [[0xdf, 0x00, 0x01, 0x00, 0x00, 0xc0], /announces 131072 items/],
      [[0xc6, 0xff, 0xff, 0xff, 0xff], /truncated/],
      [[0xda, 0x00], /truncated/],
      [[0x92, 0xc0], /announces 2 items but only 1 bytes/],
      [[0x92, 0xc0, 0xcd, 0x01], /truncated/],
      [[], /truncated/],
      [[0xc0, 0xc0], /1 bytes after/],
      [[0xc1], /0xc1 is not a MessagePack type/],
    ];
    for (const [bytes, message] of cases) {
      expect(() => checkStructure(Uint8Array.from(bytes), 32)).toThrow(message);
    }
  });
});
