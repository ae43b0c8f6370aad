/**
 * Agent keys: the device's Ed25519 public key as a Holochain AgentPubKey (docs/design.md §2),
 * in the base64 form the trust layer uses (`u` + base64url of `84 20 24` + 32-byte key + 4
 * location bytes). Policy compares these strings; key agreement needs the 32 raw bytes inside.
 */
import { blake2b } from '@noble/hashes/blake2.js';
import { equalBytes, fromBase64Url, toBase64Url } from './bytes.ts';
import { InvalidAgentKeyError } from './errors.ts';

/** `uhCAk…` (53 characters). */
export type AgentKey = string;

const AGENT_PREFIX = Uint8Array.of(0x84, 0x20, 0x24);

/** Holochain's DHT location: blake2b-128 of the core, XOR-folded to 4 bytes (holo_hash). */
function dhtLocation(core: Uint8Array): Uint8Array {
  const h = blake2b(core, { dkLen: 16 });
  const out = h.slice(0, 4);
  for (let i = 4; i < 16; i++) out[i % 4] = (out[i % 4] as number) ^ (h[i] as number);
  return out;
}

export function agentKeyFromEd25519(publicKey: Uint8Array): AgentKey {
  if (publicKey.byteLength !== 32) {
    throw new InvalidAgentKeyError(
      toBase64Url(publicKey),
      `an Ed25519 public key has 32 bytes, not ${publicKey.byteLength}`,
    );
  }
  const hash = new Uint8Array(39);
  hash.set(AGENT_PREFIX, 0);
  hash.set(publicKey, 3);
  hash.set(dhtLocation(publicKey), 35);
  return `u${toBase64Url(hash)}`;
}

/** The 32-byte Ed25519 public key inside an agent key; the location bytes are checked too. */
export function ed25519FromAgentKey(agent: AgentKey): Uint8Array<ArrayBuffer> {
  if (!agent.startsWith('u')) throw new InvalidAgentKeyError(agent, 'it must start with "u"');
  const hash = fromBase64Url(agent.slice(1));
  if (hash?.byteLength !== 39) {
    throw new InvalidAgentKeyError(agent, 'it must be base64url of 39 bytes');
  }
  if (!equalBytes(hash.subarray(0, 3), AGENT_PREFIX)) {
    throw new InvalidAgentKeyError(
      agent,
      'it is a HoloHash of another type (prefix is not 84 20 24)',
    );
  }
  const core = hash.slice(3, 35);
  if (!equalBytes(hash.subarray(35), dhtLocation(core))) {
    throw new InvalidAgentKeyError(
      agent,
      'its location bytes do not match (mistyped or truncated?)',
    );
  }
  return core;
}

/** The shape of a libp2p `PeerId` we need (structural, so this module does not depend on libp2p). */
export interface PeerIdLike {
  readonly publicKey?: { readonly type: string; readonly raw: Uint8Array } | undefined;
}

/**
 * The agent key of an authenticated libp2p peer's own Ed25519 PeerId key: the agent itself, or
 * a device an agent certified (`DeviceDirectory` in src/trust maps it on; docs/design.md §2).
 * Other key types (RSA, secp256k1) map to no agent: `undefined`, which the
 * gates treat as an unknown peer (commons only).
 */
export function agentKeyOfPeer(peer: PeerIdLike): AgentKey | undefined {
  const key = peer.publicKey;
  return key?.type === 'Ed25519' && key.raw.byteLength === 32
    ? agentKeyFromEd25519(key.raw)
    : undefined;
}
