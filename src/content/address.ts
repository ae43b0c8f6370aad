/**
 * Content addresses. The canonical form is the Rust store's `sha256-<64 lowercase hex>`;
 * the CIDv1 (raw codec, sha2-256 multihash, base32 multibase → `bafkrei…`) is the same
 * digest in IPFS clothing and is what manifests carry as `blob_cid`.
 */
import { InvalidHashError } from './errors.ts';

/** `sha256-<64 lowercase hex>`. A branded string would leak into every caller; a plain alias stays friendly. */
export type ContentHash = `sha256-${string}`;

const PREFIX = 'sha256-';
const HEX64 = /^[0-9a-f]{64}$/;
const B32 = 'abcdefghijklmnopqrstuvwxyz234567';
// CIDv1, codec raw (0x55), multihash sha2-256 (0x12) of 32 bytes (0x20). All fit one varint byte.
const CID_HEADER = [0x01, 0x55, 0x12, 0x20] as const;

export function isContentHash(input: unknown): input is ContentHash {
  return typeof input === 'string' && input.startsWith(PREFIX) && HEX64.test(input.slice(7));
}

/**
 * Accepts `sha256-<hex>`, bare 64-hex and `bafkrei…` (any case for hex; base32 CIDs in
 * lower `b` or upper `B` multibase) and returns the canonical `sha256-<lowercase hex>`.
 * Throws {@link InvalidHashError} for anything else, including CIDs of other codecs or
 * hash functions: their digest is not the sha256 of the bytes.
 */
export function parseContentHash(input: string): ContentHash {
  if (typeof input !== 'string') throw new InvalidHashError(String(input));
  const s = input.trim();
  const lower = s.toLowerCase();
  if (lower.startsWith(PREFIX) && HEX64.test(lower.slice(PREFIX.length))) {
    return lower as ContentHash;
  }
  if (HEX64.test(lower)) return `${PREFIX}${lower}` as ContentHash;
  if (s.length > 1 && (s[0] === 'b' || s[0] === 'B')) {
    const body = s[0] === 'B' ? s.slice(1).toLowerCase() : s.slice(1);
    const bytes = base32Decode(body);
    if (
      bytes &&
      bytes.length === CID_HEADER.length + 32 &&
      CID_HEADER.every((b, i) => bytes[i] === b)
    ) {
      return `${PREFIX}${toHex(bytes.subarray(CID_HEADER.length))}` as ContentHash;
    }
  }
  throw new InvalidHashError(input);
}

/** The CIDv1 (raw, sha2-256, base32) for a content hash in any accepted form. */
export function cidOf(hash: string): string {
  const hex = parseContentHash(hash).slice(PREFIX.length);
  const bytes = new Uint8Array(CID_HEADER.length + 32);
  bytes.set(CID_HEADER);
  bytes.set(fromHex(hex), CID_HEADER.length);
  return `b${base32Encode(bytes)}`;
}

/** The hex digest without the `sha256-` prefix. */
export function hexOf(hash: ContentHash): string {
  return hash.slice(PREFIX.length);
}

export function hashFromHex(hex: string): ContentHash {
  return `${PREFIX}${hex}` as ContentHash;
}

export function toHex(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes) out += b.toString(16).padStart(2, '0');
  return out;
}

function fromHex(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/** RFC 4648 base32, lowercase, no padding (the multibase `b` alphabet). */
export function base32Encode(bytes: Uint8Array): string {
  let out = '';
  let bits = 0;
  let value = 0;
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += B32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += B32[(value << (5 - bits)) & 31];
  return out;
}

/** Returns undefined on any character outside the alphabet or non-zero trailing bits. */
export function base32Decode(text: string): Uint8Array | undefined {
  const out = new Uint8Array(Math.floor((text.length * 5) / 8));
  let bits = 0;
  let value = 0;
  let n = 0;
  for (const ch of text) {
    const v = B32.indexOf(ch);
    if (v < 0) return undefined;
    value = ((value << 5) | v) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      out[n++] = (value >>> (bits - 8)) & 0xff;
      bits -= 8;
    }
  }
  if (bits >= 5 || (value & ((1 << bits) - 1)) !== 0) return undefined;
  return out;
}
