/**
 * The trust client against the doorway's conductor EMULATOR, in-process, through the real
 * @holochain/client: connect flow, operations, the offline outbox, reconnection.
 */
import 'fake-indexeddb/auto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPair } from '@libp2p/crypto/keys';
import type { PrivateKey } from '@libp2p/interface';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  acceptClusterKey,
  type ClusterKeyGrant,
  createClusterKey,
  deriveRelationshipKey,
  grantClusterKey,
} from '../reach/index.ts';
import { listen } from '../wire/index.ts';
import { HolochainTrustClient } from './client.ts';
import { TrustInputError, TrustOfflineError, TrustRefusedError } from './errors.ts';
import { certifyDevice, startTestDoorway, type TestDoorway } from './test-support.ts';
import type { TrustSignal, TrustState } from './types.ts';

const randomHash = () =>
  `sha256-${[...crypto.getRandomValues(new Uint8Array(32))].map((b) => b.toString(16).padStart(2, '0')).join('')}`;

let dbCounter = 0;
const newDbName = () => `trust-test-${++dbCounter}`;

/** A browser-shaped address: this peer reached over WebRTC, signalled through a relay. */
async function webrtcAddr(key: PrivateKey, port = 4001): Promise<string> {
  const relay = peerIdFromPrivateKey(await generateKeyPair('Ed25519'));
  return `/ip4/127.0.0.1/tcp/${port}/ws/p2p/${relay}/p2p-circuit/webrtc/p2p/${peerIdFromPrivateKey(key)}`;
}

const dirs: string[] = [];
const open: HolochainTrustClient[] = [];

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'trust-client-'));
  dirs.push(dir);
  return dir;
}

async function newClient(
  doorway: string,
  deviceKey: PrivateKey,
  dbName = newDbName(),
  agentKey?: PrivateKey,
): Promise<HolochainTrustClient> {
  const client = await HolochainTrustClient.create({
    doorway,
    deviceKey,
    ...(agentKey ? { agentKey } : {}),
    dbName,
    minBackoffMs: 50,
    maxBackoffMs: 250,
    callTimeoutMs: 5_000,
  });
  open.push(client);
  return client;
}

const CONTEXT = 'elohim-cluster-grant-v1';
const newClusterId = () =>
  Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString('base64url');

/** A grant of `clusterKey` from `from` (whose key is `fromKey`) to `to`, as src/family makes it. */
async function grantFor(
  clusterKey: CryptoKey,
  cluster: string,
  from: { key: PrivateKey; me: string },
  to: string,
): Promise<ClusterKeyGrant> {
  const wrapping = await deriveRelationshipKey(from.key.raw, from.me, to, CONTEXT);
  return grantClusterKey(clusterKey, { cluster, from: from.me, to, context: CONTEXT }, wrapping);
}

/** Whether two AES-GCM KEKs are the same key: one wraps an item key, the other unwraps it. */
async function sameKek(a: CryptoKey, b: CryptoKey): Promise<boolean> {
  const item = await crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, true, ['encrypt']);
  const iv = new Uint8Array(12);
  const wrapped = await crypto.subtle.wrapKey('raw', item, a, { name: 'AES-GCM', iv });
  return crypto.subtle
    .unwrapKey('raw', wrapped, b, { name: 'AES-GCM', iv }, 'AES-GCM', false, ['encrypt'])
    .then(
      () => true,
      () => false,
    );
}

async function connected(client: HolochainTrustClient): Promise<void> {
  await expect.poll(() => client.state.status, { timeout: 10_000 }).toBe('connected');
}

afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()));
});

afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

describe('HolochainTrustClient with a running doorway', () => {
  let doorway: TestDoorway;
  beforeAll(async () => {
    doorway = await startTestDoorway(await tempDir());
    return () => doorway.close();
  });

  it('connects, registers, announces; another device finds it as a holder; withdraw hides it', async () => {
    const keyA = await generateKeyPair('Ed25519');
    const a = await newClient(doorway.url, keyA);
    const b = await newClient(doorway.url, await generateKeyPair('Ed25519'));
    const signals: TrustSignal[] = [];
    listen<TrustSignal>(a, 'signal', (s) => signals.push(s));
    await connected(a);
    await connected(b);
    expect(a.me).toMatch(/^uhCAk/);
    expect(a.peerId).toBe(peerIdFromPrivateKey(keyA).toString());

    const addr = await webrtcAddr(keyA);
    expect(
      await a.registerAgent({ display_name: 'Alice', peer_id: a.peerId, multiaddrs: [addr] }),
    ).toBe('sent');
    expect(await b.getHuman(a.me)).toMatchObject({
      agent: a.me,
      displayName: 'Alice',
      peerId: a.peerId,
      multiaddrs: [addr],
      profileReach: 'commons',
    });

    const hash = randomHash();
    const stranger = peerIdFromPrivateKey(await generateKeyPair('Ed25519'));
    const announced = await a.announce(hash, {
      multiaddrs: [addr, `/ip4/10.0.0.7/tcp/4001/p2p/${stranger}`, '/ip4/10.0.0.8/tcp/4001'],
    });
    expect(announced).toBe('sent');
    expect(a.queued).toBe(0);

    // My own record is never a holder for me.
    expect(await a.findHolders(hash)).toEqual([]);
    const holders = await b.findHolders(hash);
    expect(holders).toHaveLength(1);
    const [holder] = holders;
    expect(holder?.peerId.toString()).toBe(a.peerId);
    expect(holder?.agent).toBe(a.me);
    expect(holder?.capability).toBe('blob_serving');
    // The address naming another peer is dropped; one without /p2p/ gets the holder's.
    expect(holder?.multiaddrs).toEqual([addr, `/ip4/10.0.0.8/tcp/4001/p2p/${a.peerId}`]);

    expect(await a.myAnnouncements()).toEqual([
      expect.objectContaining({ hash, online: true, capability: 'blob_serving' }),
    ]);
    await expect.poll(() => signals.some((s) => s.type === 'ContentServerCommitted')).toBe(true);
    expect(signals.find((s) => s.type === 'ContentServerCommitted')).toMatchObject({
      zome: 'infrastructure',
      payload: { server: { content_hash: hash, online: true } },
    });

    expect(await a.withdraw(hash)).toBe('sent');
    expect(await b.findHolders(hash)).toEqual([]);
    expect((await a.myAnnouncements())[0]).toMatchObject({ hash, online: false });
  });

  it('round-trips relationships, and invited profiles show only to related agents', async () => {
    const a = await newClient(doorway.url, await generateKeyPair('Ed25519'));
    const b = await newClient(doorway.url, await generateKeyPair('Ed25519'));
    const c = await newClient(doorway.url, await generateKeyPair('Ed25519'));
    await Promise.all([connected(a), connected(b), connected(c)]);

    await a.registerAgent({ display_name: 'Ana', multiaddrs: [], profile_reach: 'invited' });
    expect(await b.getHuman(a.me)).toBeUndefined();

    const made = await a.createRelationship(b.me, 'friend');
    expect(made).toMatchObject({ initiator: a.me, otherAgent: b.me, type: 'friend' });
    expect(await a.myRelationships()).toEqual([made]);
    expect(await b.myRelationships()).toEqual([made]);
    expect(await c.myRelationships()).toEqual([]);

    expect((await b.getHuman(a.me))?.displayName).toBe('Ana');
    expect(await c.getHuman(a.me)).toBeUndefined();
  });

  it('publishes a cluster key grant to a family member, who is signalled, lists it and opens it', async () => {
    const keyA = await generateKeyPair('Ed25519');
    const keyB = await generateKeyPair('Ed25519');
    const a = await newClient(doorway.url, keyA);
    const b = await newClient(doorway.url, keyB);
    const c = await newClient(doorway.url, await generateKeyPair('Ed25519'));
    await Promise.all([connected(a), connected(b), connected(c)]);
    const signals: TrustSignal[] = [];
    listen<TrustSignal>(b, 'signal', (s) => signals.push(s));

    await a.createRelationship(b.me, 'family');
    await a.createRelationship(c.me, 'contact');
    const clusterKey = await createClusterKey();
    const cluster = newClusterId();
    const grant = await grantFor(clusterKey, cluster, { key: keyA, me: a.me }, b.me);
    expect(await a.grantClusterKey(grant)).toBe('sent');
    await expect.poll(() => signals.map((s) => s.type)).toContain('ClusterKeyGranted');
    expect(signals.find((s) => s.type === 'ClusterKeyGranted')?.zome).toBe('imagodei');

    const received = await b.myClusterKeyGrants();
    expect(received.map((g) => g.grant)).toEqual([grant]);
    expect(received[0]?.updatedAt).toBeGreaterThan(Date.now() - 60_000);
    expect((await a.myClusterKeyGrants()).map((g) => g.grant)).toEqual([grant]);
    const opened = await acceptClusterKey(
      received[0]?.grant as ClusterKeyGrant,
      await deriveRelationshipKey(keyB.raw, b.me, a.me, CONTEXT),
    );
    expect(await sameKek(clusterKey, opened)).toBe(true);

    const family = { owner: a.me, members: [b.me], clusters: [cluster] };
    expect(await a.familyCluster(a.me)).toEqual(family);
    expect(await b.familyCluster(a.me)).toEqual(family);
    // A contact is not family: it neither sees the family nor can be granted the key.
    expect(await c.familyCluster(a.me)).toBeUndefined();
    const toContact = await grantFor(clusterKey, cluster, { key: keyA, me: a.me }, c.me);
    await expect(a.grantClusterKey(toContact)).rejects.toThrow(/must be in your family/);
    expect(a.queued).toBe(0);
    expect(await c.myClusterKeyGrants()).toEqual([]);
  });

  it('checks a grant before queueing it', async () => {
    const keyA = await generateKeyPair('Ed25519');
    const a = await newClient(doorway.url, keyA);
    const b = await newClient(doorway.url, await generateKeyPair('Ed25519'));
    const grant = await grantFor(
      await createClusterKey(),
      newClusterId(),
      { key: keyA, me: a.me },
      b.me,
    );
    const bad: [ClusterKeyGrant, RegExp][] = [
      [{ ...grant, from: b.me }, /made by this device/],
      [{ ...grant, to: a.me }, /not to yourself/],
      [{ ...grant, cluster: 'short' }, /not a cluster id/],
      [{ ...grant, v: 2 as never }, /version 1/],
    ];
    for (const [g, message] of bad) {
      await expect(a.grantClusterKey(g)).rejects.toThrow(message);
      await expect(a.grantClusterKey(g)).rejects.toBeInstanceOf(TrustInputError);
    }
    expect(a.queued).toBe(0);
  });

  it('reports a refused change to its caller and drops it from the outbox', async () => {
    const key = await generateKeyPair('Ed25519');
    const a = await newClient(doorway.url, key);
    await connected(a);
    const refused = a.announce(randomHash(), {
      multiaddrs: [await webrtcAddr(key)],
      region: 'r'.repeat(65),
    });
    await expect(refused).rejects.toBeInstanceOf(TrustRefusedError);
    await expect(refused).rejects.toThrow(/region/);
    expect(a.queued).toBe(0);
  });

  it('announces without addresses once setAddresses gives some, and re-announces on change', async () => {
    const key = await generateKeyPair('Ed25519');
    const a = await newClient(doorway.url, key);
    const b = await newClient(doorway.url, await generateKeyPair('Ed25519'));
    await Promise.all([connected(a), connected(b)]);
    await a.registerAgent({ display_name: 'Addy', multiaddrs: [] });

    const hash = randomHash();
    // Not dialable yet (no relay reservation): it waits in the outbox.
    expect(await a.announce(hash)).toBe('queued');
    expect(a.queued).toBe(1);
    expect(await b.findHolders(hash)).toEqual([]);

    const first = await webrtcAddr(key, 4001);
    await a.setAddresses([first]);
    await expect.poll(() => a.queued).toBe(0);
    expect((await b.findHolders(hash))[0]?.multiaddrs).toEqual([first]);

    const second = await webrtcAddr(key, 4002);
    await a.setAddresses([second]);
    await expect.poll(async () => (await b.findHolders(hash))[0]?.multiaddrs).toEqual([second]);
    expect((await b.getHuman(a.me))?.multiaddrs).toEqual([second]);
  });

  it("lists each of a person's devices that holds an item; one letting go or moving leaves the other; a removed device is not believed", async () => {
    const agentKey = await generateKeyPair('Ed25519');
    const deviceKey = await generateKeyPair('Ed25519');
    const one = await newClient(doorway.url, agentKey);
    const two = await newClient(doorway.url, deviceKey, newDbName(), agentKey);
    const other = await newClient(doorway.url, await generateKeyPair('Ed25519'));
    await Promise.all([connected(one), connected(two), connected(other)]);
    const device = await certifyDevice(one, agentKey, deviceKey);
    expect(await one.myDevices()).toEqual(new Set([device]));
    expect(await two.myDevices()).toEqual(new Set([one.me]));

    const hash = randomHash();
    const atOne = await webrtcAddr(agentKey, 4001);
    const atTwo = await webrtcAddr(deviceKey, 4002);
    await one.setAddresses([atOne]);
    await two.setAddresses([atTwo]);
    expect(await one.announce(hash)).toBe('sent');
    expect(await two.announce(hash)).toBe('sent');
    const listed = async (client: HolochainTrustClient) =>
      (await client.findHolders(hash))
        .map((h) => `${h.peerId} ${h.agent} ${h.multiaddrs.join(',')}`)
        .sort();
    // Someone else finds both devices, each at its own addresses, both as the person.
    expect(await listed(other)).toEqual(
      [`${one.peerId} ${one.me} ${atOne}`, `${two.peerId} ${one.me} ${atTwo}`].sort(),
    );
    // Each device finds the other, never itself.
    expect(await listed(two)).toEqual([`${one.peerId} ${one.me} ${atOne}`]);
    expect(await listed(one)).toEqual([`${two.peerId} ${one.me} ${atTwo}`]);

    // Device 1 moves: only its own addresses change.
    const movedOne = await webrtcAddr(agentKey, 4003);
    await one.setAddresses([movedOne]);
    await expect
      .poll(() => listed(other))
      .toEqual([`${one.peerId} ${one.me} ${movedOne}`, `${two.peerId} ${one.me} ${atTwo}`].sort());
    // Device 2 lets go of it: device 1 is still listed.
    expect((await two.myAnnouncements())[0]).toMatchObject({ online: true, thisDevice: true });
    expect(await two.withdraw(hash)).toBe('sent');
    expect(await listed(other)).toEqual([`${one.peerId} ${one.me} ${movedOne}`]);
    expect((await two.myAnnouncements())[0]).toMatchObject({ online: true, thisDevice: false });
    expect((await one.myAnnouncements())[0]).toMatchObject({ online: true, thisDevice: true });

    // Device 2 holds it again, then is removed: its addresses are not believed any more, and
    // device 1's next write of the record leaves them out.
    expect(await two.announce(hash)).toBe('sent');
    expect(await listed(other)).toHaveLength(2);
    await one.removeDevice(device);
    expect(await one.myDevices()).toEqual(new Set());
    other.devices.clear();
    expect(await listed(other)).toEqual([`${one.peerId} ${one.me} ${movedOne}`]);
    expect(await one.announce(hash)).toBe('sent');
    const [record] = await one.myAnnouncements();
    expect(record?.endpoints.map((e) => e.url)).toEqual([movedOne]);
  });
});

describe('HolochainTrustClient when the doorway goes away', () => {
  it('queues changes while offline, keeps them across a reload, replays them in order, reconnects', async () => {
    const dir = await tempDir();
    let doorway = await startTestDoorway(dir);
    const { port, url } = doorway;
    try {
      const keyA = await generateKeyPair('Ed25519');
      const dbA = newDbName();
      const a = await newClient(url, keyA, dbA);
      const b = await newClient(url, await generateKeyPair('Ed25519'));
      const states: TrustState['status'][] = [];
      listen<TrustState>(b, 'state', (s) => states.push(s.status));
      await Promise.all([connected(a), connected(b)]);

      const kept = randomHash();
      const addr = await webrtcAddr(keyA);
      expect(await a.announce(kept, { multiaddrs: [addr] })).toBe('sent');

      await doorway.close();
      await expect.poll(() => a.state.status).not.toBe('connected');
      await expect.poll(() => b.state.status).not.toBe('connected');
      await expect(b.findHolders(kept)).rejects.toBeInstanceOf(TrustOfflineError);
      expect(b.state.error).toBeTruthy();

      const queueEvents: number[] = [];
      listen<{ queued: number }>(a, 'queue', ({ queued }) => queueEvents.push(queued));
      const fresh = randomHash();
      const gone = randomHash();
      expect(await a.announce(fresh, { multiaddrs: [addr] })).toBe('queued');
      expect(await a.announce(gone, { multiaddrs: [addr] })).toBe('queued');
      // The last of announce/withdraw for one hash wins: still two entries.
      expect(await a.withdraw(gone)).toBe('queued');
      expect(await a.withdraw(kept)).toBe('queued');
      expect(a.queued).toBe(3);
      expect(queueEvents).toEqual([1, 2, 3]);

      // Reload: a new client on the same database sees the same outbox.
      await a.close();
      const a2 = await newClient(url, keyA, dbA);
      expect(a2.queued).toBe(3);
      const replayed: string[] = [];
      listen<TrustSignal>(a2, 'signal', (s) => {
        const server = (s.payload as { server?: { content_hash: string } }).server;
        if (s.type === 'ContentServerCommitted' && server) replayed.push(server.content_hash);
      });

      doorway = await startTestDoorway(dir, port);
      await Promise.all([connected(a2), connected(b)]);
      await expect.poll(() => a2.queued, { timeout: 10_000 }).toBe(0);

      const holders = await b.findHolders(fresh);
      expect(holders.map((h) => h.peerId.toString())).toEqual([a2.peerId]);
      expect(holders[0]?.multiaddrs).toEqual([addr]);
      expect(await b.findHolders(gone)).toEqual([]);
      expect(await b.findHolders(kept)).toEqual([]);
      // In the order of the last change: `gone` was never registered, so its withdrawal wrote nothing.
      await expect.poll(() => replayed).toEqual([fresh, kept]);
      expect(states).toContain('offline');
      expect(states.at(-1)).toBe('connected');
    } finally {
      await doorway.close();
    }
  });

  it('queues a grant made offline (no addresses needed) and publishes it on reconnect', async () => {
    const dir = await tempDir();
    let doorway = await startTestDoorway(dir);
    const { port, url } = doorway;
    try {
      const keyA = await generateKeyPair('Ed25519');
      const a = await newClient(url, keyA);
      const b = await newClient(url, await generateKeyPair('Ed25519'));
      await Promise.all([connected(a), connected(b)]);
      await a.createRelationship(b.me, 'family');
      await doorway.close();
      await expect.poll(() => a.state.status).not.toBe('connected');

      const key = await createClusterKey();
      const cluster = newClusterId();
      const first = await grantFor(key, cluster, { key: keyA, me: a.me }, b.me);
      const second = await grantFor(key, cluster, { key: keyA, me: a.me }, b.me);
      expect(await a.grantClusterKey(first)).toBe('queued');
      // The same member and cluster: one entry, the latest grant.
      expect(await a.grantClusterKey(second)).toBe('queued');
      expect(a.queued).toBe(1);

      doorway = await startTestDoorway(dir, port);
      a.reconnect();
      b.reconnect();
      await Promise.all([connected(a), connected(b)]);
      await expect.poll(() => a.queued, { timeout: 10_000 }).toBe(0);
      expect((await b.myClusterKeyGrants()).map((g) => g.grant)).toEqual([second]);
    } finally {
      await doorway.close();
    }
  });

  it('keeps retrying while the doorway is down and says why', async () => {
    const dir = await tempDir();
    const probe = await startTestDoorway(dir);
    const { port, url } = probe;
    await probe.close();

    const a = await newClient(url, await generateKeyPair('Ed25519'));
    await expect.poll(() => a.state.status).toBe('offline');
    expect(a.state.error).toMatch(/Cannot reach the doorway/);
    expect(a.state.retryAt).toBeGreaterThan(0);
    expect(await a.registerAgent({ display_name: 'Late', multiaddrs: [] })).toBe('queued');

    const doorway = await startTestDoorway(dir, port);
    try {
      a.reconnect();
      await connected(a);
      await expect.poll(() => a.queued).toBe(0);
      expect((await a.getHuman(a.me))?.displayName).toBe('Late');
    } finally {
      await doorway.close();
    }
  });
});
