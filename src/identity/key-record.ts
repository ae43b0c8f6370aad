/**
 * This browser's identity key, read by the service worker so it can open invited items named
 * for this agent (the relationship key is derived from it). The app keeps the key as libp2p's
 * protobuf (`elohim-identity` / `keys` / `device`, `device-key.ts`; `agent` on a paired device,
 * `staged.ts`); libp2p's key code is not bundled here, so the few bytes of protobuf are read
 * directly. The worker never creates the key: the app does, on its first start.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { type AgentKey, agentKeyFromEd25519 } from '../reach/index.ts';
import { storedPersonKey } from './staged.ts';

/** libp2p's `KeyType.Ed25519` in the PrivateKey protobuf. */
const ED25519 = 1;

/** The Ed25519 seed (32 bytes) of a libp2p PrivateKey protobuf `{ 1: Type, 2: Data }`. */
export function ed25519SeedFromProtobuf(bytes: Uint8Array): Uint8Array {
  let type: number | undefined;
  let data: Uint8Array | undefined;
  let at = 0;
  const varint = () => {
    let value = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      const b = bytes[at++];
      if (b === undefined) throw new Error('The identity key record is cut short.');
      value += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return value;
    }
    throw new Error('The identity key record has an over-long number.');
  };
  while (at < bytes.byteLength) {
    const tag = varint();
    const field = tag >>> 3;
    const wire = tag & 7;
    if (wire === 0) {
      const v = varint();
      if (field === 1) type = v;
    } else if (wire === 2) {
      const n = varint();
      if (at + n > bytes.byteLength) throw new Error('The identity key record is cut short.');
      if (field === 2) data = bytes.subarray(at, at + n);
      at += n;
    } else {
      throw new Error(`The identity key record has an unexpected field (wire type ${wire}).`);
    }
  }
  if (type !== ED25519 || !data || data.byteLength < 32) {
    throw new Error('The identity key of this browser is not an Ed25519 key.');
  }
  return data.slice(0, 32);
}

export interface DeviceIdentity {
  me: AgentKey;
  /** The Ed25519 seed: `mySecret` for deriveRelationshipKey. */
  secret: Uint8Array;
}

/** The agent key and seed of an Ed25519 key kept as libp2p's protobuf (throws for another key). */
export function identityOf(protobuf: Uint8Array): DeviceIdentity {
  const secret = ed25519SeedFromProtobuf(protobuf);
  return { me: agentKeyFromEd25519(ed25519.getPublicKey(secret)), secret };
}

/**
 * This browser's agent key and its secret (the person's agent key on a paired device, else the
 * device key), or `undefined` when the app never made one.
 */
export async function loadDeviceIdentity(dbName?: string): Promise<DeviceIdentity | undefined> {
  const stored = await storedPersonKey(dbName);
  return stored && identityOf(stored);
}
