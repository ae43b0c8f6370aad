import 'fake-indexeddb/auto';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { afterEach, describe, expect, it } from 'vitest';
import { type ContentStore, openContentStore } from '../content/index.ts';
import { pseudoRandomBytes } from '../test-support/bytes.ts';
import { agentKeyFromEd25519 } from './agent.ts';
import { deliveryGate, openStored, putAtReach } from './content.ts';
import { loadOrCreateSealingKey } from './keys.ts';
import { isSealed, openedMime, sealedMime } from './mime.ts';
import type { TrustView } from './policy.ts';

let n = 0;
const stores: ContentStore[] = [];
afterEach(() => {
  for (const s of stores.splice(0)) s.close();
});
async function open() {
  const store = await openContentStore({ dbName: `reach-content-${++n}`, locks: null });
  stores.push(store);
  return store;
}
async function agent() {
  const key = await generateKeyPair('Ed25519');
  return { peer: peerIdFromPrivateKey(key), agent: agentKeyFromEd25519(key.publicKey.raw) };
}
const bytesOf = async (s: ReadableStream<Uint8Array>) =>
  new Uint8Array(await new Response(s).arrayBuffer());
const contains = (hay: Uint8Array, needle: Uint8Array) =>
  Buffer.from(hay).indexOf(Buffer.from(needle)) >= 0;

describe('sealed types', () => {
  it('keeps the plaintext type beside the sealed marker', () => {
    const m = { mime_type: sealedMime('video/webm') };
    expect(isSealed(m)).toBe(true);
    expect(openedMime(m)).toBe('video/webm');
    expect(isSealed({ mime_type: 'video/webm' })).toBe(false);
    expect(openedMime({ mime_type: 'text/plain' })).toBe('text/plain');
  });
});

describe('putAtReach', () => {
  it('private: stored as ciphertext, opened with the device key', async () => {
    const store = await open();
    const me = await agent();
    const device = await loadOrCreateSealingKey({ dbName: `reach-device-${++n}` });
    const plain = pseudoRandomBytes(200_000);
    const m = await putAtReach(store, new Blob([plain], { type: 'image/png' }), {
      reach: 'private',
      owner: me.agent,
      device,
      name: 'secret.png',
    });
    expect(m.reach).toBe('private');
    expect(m.author_id).toBe(me.agent);
    expect(openedMime(m)).toBe('image/png');
    const stored = await bytesOf(store.get(m.blob_hash));
    expect(contains(stored, plain.subarray(1000, 1064))).toBe(false);
    const opened = await bytesOf(openStored(m, store.get(m.blob_hash), { me: me.agent, device }));
    expect(Buffer.compare(opened, plain)).toBe(0);
  });

  it('commons: stored as is', async () => {
    const store = await open();
    const me = await agent();
    const plain = pseudoRandomBytes(5_000);
    const m = await putAtReach(store, new Blob([plain]), { reach: 'commons', owner: me.agent });
    expect(Buffer.compare(await bytesOf(store.get(m.blob_hash)), plain)).toBe(0);
  });

  it('reaches that need agreed keys are refused with a next step, nothing stored', async () => {
    const store = await open();
    const me = await agent();
    await expect(
      putAtReach(store, new Blob([new Uint8Array(10)]), { reach: 'invited', owner: me.agent }),
    ).rejects.toThrow(/choose private/);
    expect(await store.list()).toEqual([]);
  });
});

describe('deliveryGate', () => {
  it('serves commons to anyone, private to nobody else, unknown hashes to nobody', async () => {
    const store = await open();
    const me = await agent();
    const stranger = await agent();
    const device = await loadOrCreateSealingKey({ dbName: `reach-device-${++n}` });
    const view: TrustView = {
      me: me.agent,
      myDevices: new Set(),
      links: new Map(),
      cluster: new Set(),
    };
    const refused: string[] = [];
    const allow = deliveryGate(
      store,
      () => view,
      (_p, _h, reason) => refused.push(reason),
    );
    const open1 = await putAtReach(store, new Blob([new Uint8Array(100).fill(1)]), {
      reach: 'commons',
      owner: me.agent,
    });
    const secret = await putAtReach(store, new Blob([new Uint8Array(100).fill(2)]), {
      reach: 'private',
      owner: me.agent,
      device,
    });
    const ctx = (blobHash: string) => ({ op: 'get' as const, blobHash: blobHash as never });
    expect(await allow(stranger.peer, open1.blob_hash as never, ctx(open1.blob_hash))).toBe(true);
    expect(await allow(stranger.peer, secret.blob_hash as never, ctx(secret.blob_hash))).toBe(
      false,
    );
    expect(refused).toHaveLength(1);
    const missing = `sha256-${'1'.repeat(64)}`;
    expect(await allow(stranger.peer, missing as never, ctx(missing))).toBe(false);
  });
});
