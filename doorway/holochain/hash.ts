import { dhtLocationFrom32 } from '@holochain/client';
import { blake2b } from '@noble/hashes/blake2.js';

/**
 * HoloHashes as Holochain lays them out: 3 type bytes, a 32-byte core, 4 location bytes.
 * The location bytes are Holochain's DHT location of the core: blake2b-128 of the core, its 16
 * bytes folded to 4 by XOR (bytes 0–3 ^ 4–7 ^ 8–11 ^ 12–15). `dhtLocationFrom32` in
 * @holochain/client computes exactly that; we reuse it so browser and doorway agree.
 */
export const HASH_PREFIX = {
  agent: Uint8Array.of(0x84, 0x20, 0x24),
  entry: Uint8Array.of(0x84, 0x21, 0x24),
  action: Uint8Array.of(0x84, 0x29, 0x24),
  dna: Uint8Array.of(0x84, 0x2d, 0x24),
} as const;
export type HashKind = keyof typeof HASH_PREFIX;

export const HOLO_HASH_LENGTH = 39;

/** A full 39-byte HoloHash of `kind` around a 32-byte core. */
export function holoHash(kind: HashKind, core: Uint8Array): Uint8Array {
  if (core.length !== 32) throw new Error(`a HoloHash core is 32 bytes, got ${core.length}`);
  const out = new Uint8Array(HOLO_HASH_LENGTH);
  out.set(HASH_PREFIX[kind], 0);
  out.set(core, 3);
  out.set(dhtLocationFrom32(core), 35);
  return out;
}

/** The HoloHash of some bytes: blake2b-256 of them as the core (how Holochain hashes content). */
export function hashBytes(kind: HashKind, bytes: Uint8Array): Uint8Array {
  return holoHash(kind, blake2b(bytes, { dkLen: 32 }));
}

/** The Holochain agent key wrapping an Ed25519 public key (docs/design.md §2: also the libp2p PeerId). */
export function agentKeyFromEd25519(publicKey: Uint8Array): Uint8Array {
  return holoHash('agent', publicKey);
}

/** Whether `bytes` is a 39-byte HoloHash of `kind` (location bytes not checked). */
export function isHoloHash(bytes: unknown, kind: HashKind): bytes is Uint8Array {
  if (!(bytes instanceof Uint8Array) || bytes.length !== HOLO_HASH_LENGTH) return false;
  const prefix = HASH_PREFIX[kind];
  return bytes[0] === prefix[0] && bytes[1] === prefix[1] && bytes[2] === prefix[2];
}

/** Whether the last 4 bytes are the DHT location of the core (true for every hash Holochain makes). */
export function hasValidLocation(hash: Uint8Array): boolean {
  const loc = dhtLocationFrom32(hash.subarray(3, 35));
  return loc.every((b, i) => hash[35 + i] === b);
}

/** The Ed25519 public key inside an agent key. */
export function ed25519OfAgent(agent: Uint8Array): Uint8Array {
  return agent.subarray(3, 35);
}

/** Holochain's text form: `u` + base64url without padding (`encodeHashToBase64`). */
export function hashToB64(hash: Uint8Array): string {
  return `u${Buffer.from(hash).toString('base64url')}`;
}

export function hashFromB64(text: string): Uint8Array {
  if (!text.startsWith('u')) throw new Error(`a HoloHash in text starts with "u", got "${text}"`);
  return new Uint8Array(Buffer.from(text.slice(1), 'base64url'));
}

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.from(a).equals(Buffer.from(b));
}
