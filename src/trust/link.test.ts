import 'fake-indexeddb/auto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPair } from '@libp2p/crypto/keys';
import type { PrivateKey } from '@libp2p/interface';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { afterAll, expect, it } from 'vitest';
import { type ContentStore, openContentStore } from '../content/index.ts';
import { pseudoRandomBytes } from '../test-support/bytes.ts';
import { HolochainTrustClient } from './client.ts';
import { linkTrust } from './link.ts';
import { certifyDevice, startTestDoorway } from './test-support.ts';

const cleanup: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const step of cleanup.reverse()) await step();
});

let n = 0;
async function client(doorway: string, key: PrivateKey, agentKey?: PrivateKey) {
  const c = await HolochainTrustClient.create({
    doorway,
    deviceKey: key,
    ...(agentKey ? { agentKey } : {}),
    dbName: `trust-link-${++n}`,
    minBackoffMs: 50,
    maxBackoffMs: 250,
  });
  cleanup.push(() => c.close());
  return c;
}

/** A node whose dialable address is a browser-shaped WebRTC address. */
function fakeNode(key: PrivateKey) {
  const node = new EventTarget() as EventTarget & {
    snapshot(): { dialAddrs: string[]; workingOffline: boolean };
  };
  const relay = peerIdFromPrivateKey(key); // any valid peer id will do for the relay part
  const addr = `/ip4/127.0.0.1/tcp/4001/ws/p2p/${relay}/p2p-circuit/webrtc/p2p/${peerIdFromPrivateKey(key)}`;
  let workingOffline = false;
  node.snapshot = () => ({ dialAddrs: [addr], workingOffline });
  const setOffline = (offline: boolean) => {
    workingOffline = offline;
    node.dispatchEvent(new Event('change'));
  };
  return { node, addr, setOffline };
}

it('announces what is stored (not private), withdraws what is removed, reconciles on start', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'trust-link-'));
  cleanup.push(() => rm(dir, { recursive: true, force: true }));
  const doorway = await startTestDoorway(dir);
  cleanup.push(() => doorway.close());
  const store: ContentStore = await openContentStore({
    dbName: `trust-link-store-${++n}`,
    locks: null,
  });
  cleanup.push(() => store.close());

  // Stored before the link exists: announced by the reconciliation.
  const early = await store.put(pseudoRandomBytes(1000, 1), { reach: 'commons' });
  const keyA = await generateKeyPair('Ed25519');
  const a = await client(doorway.url, keyA);
  const b = await client(doorway.url, await generateKeyPair('Ed25519'));
  const { node, addr, setOffline } = fakeNode(keyA);
  const errors: unknown[] = [];
  const stop = linkTrust(a, node, store, { displayName: 'Ana', onError: (e) => errors.push(e) });
  cleanup.push(stop);

  const holders = async (hash: string) =>
    (await b.findHolders(hash)).map((h) => h.peerId.toString());
  await expect.poll(() => holders(early.blob_hash), { timeout: 10_000 }).toEqual([a.peerId]);

  const later = await store.put(pseudoRandomBytes(1000, 2), { reach: 'commons' });
  const secret = await store.put(pseudoRandomBytes(1000, 3), { reach: 'private' });
  await expect.poll(() => holders(later.blob_hash), { timeout: 10_000 }).toEqual([a.peerId]);
  const [found] = await b.findHolders(later.blob_hash);
  expect(found?.multiaddrs).toEqual([addr]);
  expect(await b.getHuman(a.me)).toMatchObject({ displayName: 'Ana', peerId: a.peerId });

  await store.remove(later.blob_hash);
  await expect.poll(() => holders(later.blob_hash), { timeout: 10_000 }).toEqual([]);
  // Private items are never announced.
  expect(await holders(secret.blob_hash)).toEqual([]);
  expect((await a.myAnnouncements()).map((x) => x.hash)).not.toContain(secret.blob_hash);

  // Working offline: listed nowhere; back online: listed again.
  setOffline(true);
  await expect.poll(() => holders(early.blob_hash), { timeout: 10_000 }).toEqual([]);
  setOffline(false);
  await expect.poll(() => holders(early.blob_hash), { timeout: 10_000 }).toEqual([a.peerId]);
  expect(errors).toEqual([]);
});

it('after a failover to a doorway with its own trust layer, registers and announces again there', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'trust-link-move-'));
  cleanup.push(() => rm(dir, { recursive: true, force: true }));
  // Two emulators: two separate trust layers, as with two doorways that share no conductor.
  const first = await startTestDoorway(join(dir, 'first'));
  const second = await startTestDoorway(join(dir, 'second'));
  cleanup.push(
    () => first.close(),
    () => second.close(),
  );
  const store: ContentStore = await openContentStore({
    dbName: `trust-link-store-${++n}`,
    locks: null,
  });
  cleanup.push(() => store.close());
  const item = await store.put(pseudoRandomBytes(1000, 4), { reach: 'commons' });
  const key = await generateKeyPair('Ed25519');
  const a = await client(first.url, key);
  const { node } = fakeNode(key);
  const errors: unknown[] = [];
  cleanup.push(linkTrust(a, node, store, { displayName: 'Ana', onError: (e) => errors.push(e) }));
  const onFirst = await client(first.url, await generateKeyPair('Ed25519'));
  const onSecond = await client(second.url, await generateKeyPair('Ed25519'));
  const holders = async (asker: HolochainTrustClient) =>
    (await asker.findHolders(item.blob_hash)).map((h) => h.peerId.toString());
  await expect.poll(() => holders(onFirst), { timeout: 10_000 }).toEqual([a.peerId]);
  expect(await holders(onSecond)).toEqual([]);

  a.moveTo(second.url);
  await expect.poll(() => holders(onSecond), { timeout: 10_000 }).toEqual([a.peerId]);
  await expect
    .poll(async () => (await onSecond.getHuman(a.me))?.displayName, { timeout: 10_000 })
    .toBe('Ana');
  expect(errors).toEqual([]);
});

it('started while the trust layer is away, queues nothing of its own: it registers on connecting', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'trust-link-away-'));
  cleanup.push(() => rm(dir, { recursive: true, force: true }));
  let doorway = await startTestDoorway(dir);
  const port = doorway.port;
  cleanup.push(() => doorway.close());
  const store: ContentStore = await openContentStore({
    dbName: `trust-link-store-${++n}`,
    locks: null,
  });
  cleanup.push(() => store.close());
  const key = await generateKeyPair('Ed25519');
  const a = await client(doorway.url, key);
  await expect.poll(() => a.state.status, { timeout: 10_000 }).toBe('connected');
  await doorway.close();
  await expect.poll(() => a.state.status, { timeout: 10_000 }).not.toBe('connected');

  const { node } = fakeNode(key);
  const errors: unknown[] = [];
  cleanup.push(linkTrust(a, node, store, { displayName: 'Ana', onError: (e) => errors.push(e) }));
  // What the person does is queued (and counted); the link's own registration is not.
  const item = await store.put(pseudoRandomBytes(1000, 5), { reach: 'commons' });
  await expect.poll(() => a.queued, { timeout: 10_000 }).toBeGreaterThan(0);
  expect(a.queued).toBe(1);

  doorway = await startTestDoorway(dir, port);
  await expect.poll(() => a.queued, { timeout: 10_000 }).toBe(0);
  const asker = await client(doorway.url, await generateKeyPair('Ed25519'));
  await expect
    .poll(async () => (await asker.getHuman(a.me))?.displayName, { timeout: 10_000 })
    .toBe('Ana');
  await expect
    .poll(async () => (await asker.findHolders(item.blob_hash)).map((h) => `${h.peerId}`), {
      timeout: 10_000,
    })
    .toEqual([a.peerId]);
  expect(errors).toEqual([]);
});

it("a person's second device announces on start what it holds, though the first device's record lists it; working offline takes only its own part out", async () => {
  const dir = await mkdtemp(join(tmpdir(), 'trust-link-devices-'));
  cleanup.push(() => rm(dir, { recursive: true, force: true }));
  const doorway = await startTestDoorway(dir);
  cleanup.push(() => doorway.close());
  const stores = await Promise.all(
    [1, 2].map(() => openContentStore({ dbName: `trust-link-store-${++n}`, locks: null })),
  );
  for (const s of stores) cleanup.push(() => s.close());
  const [storeOne, storeTwo] = stores as [ContentStore, ContentStore];
  const bytes = pseudoRandomBytes(1000, 5);
  const item = await storeOne.put(bytes, { reach: 'commons' });
  await storeTwo.put(bytes, { reach: 'commons' });

  const agentKey = await generateKeyPair('Ed25519');
  const deviceKey = await generateKeyPair('Ed25519');
  const one = await client(doorway.url, agentKey);
  const other = await client(doorway.url, await generateKeyPair('Ed25519'));
  const errors: unknown[] = [];
  const onError = (e: unknown) => errors.push(e);
  cleanup.push(linkTrust(one, fakeNode(agentKey).node, storeOne, { displayName: 'Ana', onError }));
  const holders = async () =>
    (await other.findHolders(item.blob_hash)).map((h) => h.peerId.toString()).sort();
  await expect.poll(holders, { timeout: 10_000 }).toEqual([one.peerId]);
  await expect.poll(() => one.state.status).toBe('connected');
  await certifyDevice(one, agentKey, deviceKey);
  await one.myDevices();

  // Device 2 starts: the record names device 1 only, so it adds itself.
  const two = await client(doorway.url, deviceKey, agentKey);
  const { node, setOffline } = fakeNode(deviceKey);
  cleanup.push(linkTrust(two, node, storeTwo, { displayName: 'Ana', onError }));
  await expect.poll(holders, { timeout: 10_000 }).toEqual([one.peerId, two.peerId].sort());
  // Device 2 works offline: device 1 is still listed.
  setOffline(true);
  await expect.poll(holders, { timeout: 10_000 }).toEqual([one.peerId]);
  expect(errors).toEqual([]);
});
