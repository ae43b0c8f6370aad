import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { base32Decode, base32Encode, cidOf, InvalidHashError, parseContentHash } from './index.ts';

const HEX = 'b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9'; // sha256("hello world")
const CID = 'bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e'; // its CIDv1 raw (ipfs add --cid-version 1 --raw-leaves)

describe('content addresses', () => {
  it('accepts the three forms and returns the canonical one', () => {
    expect(createHash('sha256').update('hello world').digest('hex')).toBe(HEX);
    expect(parseContentHash(`sha256-${HEX}`)).toBe(`sha256-${HEX}`);
    expect(parseContentHash(HEX)).toBe(`sha256-${HEX}`);
    expect(parseContentHash(HEX.toUpperCase())).toBe(`sha256-${HEX}`);
    expect(parseContentHash(`  SHA256-${HEX.toUpperCase()} `)).toBe(`sha256-${HEX}`);
    expect(parseContentHash(CID)).toBe(`sha256-${HEX}`);
    expect(parseContentHash(`B${CID.slice(1).toUpperCase()}`)).toBe(`sha256-${HEX}`);
  });

  it('derives the CIDv1 raw sha2-256', () => {
    expect(cidOf(`sha256-${HEX}`)).toBe(CID);
    expect(cidOf(CID)).toBe(CID);
  });

  it.each([
    '',
    'hello',
    `sha256-${HEX.slice(1)}`,
    `sha256-${HEX}0`,
    `sha512-${HEX}`,
    `${HEX.slice(0, 63)}g`,
    CID.slice(0, -1),
    `${CID}a`,
    // CIDv1 dag-pb of the same digest: its hash is not the sha256 of the bytes.
    `b${base32Encode(Uint8Array.from([0x01, 0x70, 0x12, 0x20, ...Buffer.from(HEX, 'hex')]))}`,
    'QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG',
    'bafkrei!!!',
  ])('rejects %j with InvalidHashError', (input) => {
    expect(() => parseContentHash(input)).toThrow(InvalidHashError);
  });

  it('base32 round-trips every length', () => {
    for (let n = 0; n < 40; n++) {
      const bytes = Uint8Array.from({ length: n }, (_, i) => (i * 37 + n) & 0xff);
      expect(base32Decode(base32Encode(bytes))).toEqual(bytes);
    }
  });
});
