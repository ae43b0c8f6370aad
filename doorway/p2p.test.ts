import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPair } from '@libp2p/crypto/keys';
import type { Libp2p } from '@libp2p/interface';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { multiaddr } from '@multiformats/multiaddr';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { IdentityError, KEY_FILE } from '../src/identity/node.ts';
import '../src/peer/node-websocket.ts';
import { createLogger } from './log.ts';
import { type Doorway, startDoorway } from './server.ts';
import { APP_FILES, newClient, sharedTempDir, testConfig, until } from './test-support.ts';

const silent = createLogger('silent');

interface PeerJson {
  peer_id: string;
  multiaddrs: string[];
  capabilities?: string[];
  nat_status?: string;
}

async function getJson<T>(doorway: Doorway, path: string): Promise<{ status: number; body: T }> {
  const response = await fetch(new URL(path, doorway.url));
  expect(response.headers.get('content-type')).toBe('application/json');
  return { status: response.status, body: (await response.json()) as T };
}

describe('doorway p2p', () => {
  let dir: string;
  let doorway: Doorway;
  const clients: Libp2p[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'doorway-p2p-'));
    await writeFile(join(dir, 'index.html'), '<!doctype html><title>app</title>');
    doorway = await startDoorway(testConfig(dir), silent);
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.stop()));
  });

  afterAll(async () => {
    await doorway?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('tells browsers where the relay is', async () => {
    const { status, body } = await getJson<{
      peer_id: string;
      multiaddrs: string[];
      protocols: string[];
    }>(doorway, '/api/v1/p2p/info');
    expect(status).toBe(200);
    expect(body.peer_id).toBe(doorway.p2p.peerId);
    expect(body.multiaddrs.length).toBeGreaterThan(0);
    for (const addr of body.multiaddrs) {
      expect(addr).toMatch(/^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/ws\/p2p\/12D3KooW\w+$/);
      expect(addr.endsWith(`/p2p/${body.peer_id}`)).toBe(true);
    }
    expect(body.protocols).toEqual(
      expect.arrayContaining([
        '/libp2p/circuit/relay/0.2.0/hop',
        '/ipfs/id/1.0.0',
        '/ipfs/id/push/1.0.0',
        '/ipfs/ping/1.0.0',
      ]),
    );
    const response = await fetch(new URL('/api/v1/p2p/info', doorway.url));
    expect(response.headers.get('access-control-allow-origin')).toBe('*');
  });

  it('lists a peer with a relay reservation, relays between peers, and forgets it on disconnect', async () => {
    const info = (await getJson<{ multiaddrs: string[] }>(doorway, '/api/v1/p2p/info')).body;
    const relayAddr = multiaddr(info.multiaddrs[0] as string);

    const a = await newClient();
    const b = await newClient();
    clients.push(a, b);
    const aId = a.peerId.toString();
    const bId = b.peerId.toString();
    await a.dial(relayAddr);

    // A's reservation gives it a /p2p-circuit address; identify-push tells the doorway.
    const listed = await until('the doorway to list A with a circuit address', async () => {
      const { body } = await getJson<{ peers: PeerJson[]; total: number }>(
        doorway,
        '/api/v1/federation/p2p-peers',
      );
      const entry = body.peers.find((p) => p.peer_id === aId);
      return entry?.multiaddrs.some((m) => m.includes('/p2p-circuit')) ? body : undefined;
    });
    expect(listed.total).toBe(listed.peers.length);
    expect(listed.peers[0]).toMatchObject({
      peer_id: doorway.p2p.peerId,
      // A full peer: it serves what it keeps over the shard protocol, the commons descriptions
      // it keeps over the Rust node's sync, and relays.
      capabilities: ['shard', 'sync', 'relay'],
      nat_status: 'Public',
    });
    const aEntry = listed.peers.find((p) => p.peer_id === aId) as PeerJson;
    expect(aEntry.nat_status).toBe('Private');
    expect(aEntry.capabilities).toEqual([]);
    const circuit = `${info.multiaddrs[0]}/p2p-circuit/p2p/${aId}`;
    expect(aEntry.multiaddrs).toContain(circuit);

    // Someone else asking for peers gets A; A asking does not get itself.
    const other = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString();
    const forOther = await getJson<{ peers: PeerJson[] }>(doorway, `/signal/${other}`);
    expect(forOther.status).toBe(200);
    expect(forOther.body.peers).toContainEqual({ peer_id: aId, multiaddrs: aEntry.multiaddrs });
    const forA = await getJson<{ peers: PeerJson[] }>(doorway, `/signal/${aId}`);
    expect(forA.body.peers.map((p) => p.peer_id)).not.toContain(aId);

    // B dials A through the doorway's relay, as browsers do to signal WebRTC.
    await b.dial(relayAddr);

    // The listing is bounded: the doorway, then the longest-connected peers; total counts all.
    await until('the doorway to list B too', async () =>
      doorway.p2p.peers.has(bId) ? true : undefined,
    );
    const two = await getJson<{ peers: PeerJson[]; total: number }>(
      doorway,
      '/api/v1/federation/p2p-peers?limit=2',
    );
    expect(two.body.peers.map((p) => p.peer_id)).toEqual([doorway.p2p.peerId, aId]);
    expect(two.body.total).toBe(3);
    const relayed = await b.dial(multiaddr(circuit));
    expect(relayed.remotePeer.toString()).toBe(aId);
    expect(relayed.limits).toBeDefined(); // the default limits apply
    expect(await b.services.ping.ping(multiaddr(circuit))).toBeGreaterThanOrEqual(0);

    const health = await getJson<{ p2p: { peers: number } }>(doorway, '/health');
    expect(health.body.p2p.peers).toBeGreaterThanOrEqual(2);

    await a.stop();
    await until('the doorway to forget A', async () =>
      doorway.p2p.peers.has(aId) ? undefined : true,
    );
    const after = await getJson<{ peers: PeerJson[] }>(doorway, `/signal/${bId}`);
    expect(after.body.peers.map((p) => p.peer_id)).not.toContain(aId);
    const federation = await getJson<{ peers: PeerJson[] }>(
      doorway,
      '/api/v1/federation/p2p-peers',
    );
    expect(federation.body.peers.map((p) => p.peer_id)).not.toContain(aId);
  });

  it('answers 400 for a malformed id and 405 for a wrong method', async () => {
    const bad = await getJson<{ error: string }>(doorway, '/signal/not-a-peer-id');
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatch(/not a PeerId/);
    for (const limit of ['0', '101', '2.5', 'all']) {
      const unbounded = await getJson<{ error: string }>(
        doorway,
        `/api/v1/federation/p2p-peers?limit=${limit}`,
      );
      expect(unbounded.status).toBe(400);
      expect(unbounded.body.error).toMatch(/limit must be an integer from 1 to 100/);
    }
    const post = await fetch(new URL('/api/v1/p2p/info', doorway.url), { method: 'POST' });
    expect(post.status).toBe(405);
  });
});

describe('doorway relay limits', () => {
  it('relays without limits when both limits are 0', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'doorway-unlimited-'));
    await writeFile(join(dir, 'index.html'), '<!doctype html><title>app</title>');
    const doorway = await startDoorway(
      testConfig(dir, { relayDataLimit: 0, relayDurationLimit: 0 }),
      silent,
    );
    const a = await newClient();
    const b = await newClient();
    try {
      const relayAddr = multiaddr(doorway.p2p.multiaddrs()[0] as string);
      await a.dial(relayAddr);
      const circuit = await until('A to get a circuit address', async () =>
        a.getMultiaddrs().find((m) => m.toString().includes('/p2p-circuit')),
      );
      const relayed = await b.dial(circuit);
      expect(relayed.remotePeer.equals(a.peerId)).toBe(true);
      expect(relayed.limits).toBeUndefined();
    } finally {
      await Promise.all([a.stop(), b.stop()]);
      await doorway.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('doorway identity', () => {
  const dir = sharedTempDir('doorway-id-', APP_FILES);

  it('keeps its PeerId across restarts with the same data dir', async () => {
    const first = await startDoorway(testConfig(dir()), silent);
    const id = first.p2p.peerId;
    await first.close();
    await first.close(); // idempotent
    const second = await startDoorway(testConfig(dir()), silent);
    try {
      expect(second.p2p.peerId).toBe(id);
      const { body } = await getJson<{ peer_id: string }>(second, '/api/v1/p2p/info');
      expect(body.peer_id).toBe(id);
    } finally {
      await second.close();
    }
    const elsewhere = await startDoorway(
      testConfig(dir(), { dataDir: join(dir(), 'other') }),
      silent,
    );
    try {
      expect(elsewhere.p2p.peerId).not.toBe(id);
    } finally {
      await elsewhere.close();
    }
  });

  it('refuses a data dir whose key file is not a key', async () => {
    const dataDir = join(dir(), 'broken');
    await rm(dataDir, { recursive: true, force: true });
    const { mkdir } = await import('node:fs/promises');
    await mkdir(dataDir);
    await writeFile(join(dataDir, KEY_FILE), 'garbage');
    await expect(startDoorway(testConfig(dir(), { dataDir }), silent)).rejects.toThrow(
      IdentityError,
    );
  });
});
