import 'fake-indexeddb/auto';
import { generateKeyPair, privateKeyToProtobuf } from '@libp2p/crypto/keys';
import { describe, expect, it } from 'vitest';
import { agentKeyFromEd25519 } from '../reach/index.ts';
import { loadOrCreateDeviceKey as loadApp } from './device-key.ts';
import { ed25519SeedFromProtobuf, loadDeviceIdentity } from './key-record.ts';

describe('the identity key as the service worker reads it', () => {
  it('is the seed of the key libp2p stores', async () => {
    const key = await generateKeyPair('Ed25519');
    const seed = ed25519SeedFromProtobuf(privateKeyToProtobuf(key));
    expect(Buffer.compare(seed, key.raw.subarray(0, 32))).toBe(0);
  });

  it('refuses other key types and cut records', async () => {
    const rsaLike = Uint8Array.of(0x08, 0x00, 0x12, 0x02, 1, 2);
    expect(() => ed25519SeedFromProtobuf(rsaLike)).toThrow(/not an Ed25519 key/);
    const key = await generateKeyPair('Ed25519');
    const cut = privateKeyToProtobuf(key).subarray(0, 20);
    expect(() => ed25519SeedFromProtobuf(cut)).toThrow(/cut short/);
  });

  it("reads the app's key from IndexedDB, and nothing when the app never made one", async () => {
    expect(await loadDeviceIdentity('identity-none')).toBeUndefined();
    const key = await loadApp('identity-app');
    const identity = await loadDeviceIdentity('identity-app');
    expect(identity?.me).toBe(agentKeyFromEd25519(key.publicKey.raw));
    expect(Buffer.compare(identity?.secret ?? new Uint8Array(), key.raw.subarray(0, 32))).toBe(0);
  });
});
