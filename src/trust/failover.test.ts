/**
 * Failover of the trust-layer connection (TrustConnection.moveTo): when the doorway in use stops
 * answering, the client logs in through another with the same device key, at once. Two doorways
 * with conductor EMULATORS, in-process (separate trust databases: the agent registers anew).
 */
import 'fake-indexeddb/auto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { afterEach, describe, expect, it } from 'vitest';
import { HolochainTrustClient } from './client.ts';
import { startTestDoorway } from './test-support.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

let dbs = 0;
async function doorway() {
  const dir = await mkdtemp(join(tmpdir(), 'trust-failover-'));
  const started = await startTestDoorway(dir);
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await started.close();
  };
  cleanups.push(async () => {
    await close();
    await rm(dir, { recursive: true, force: true });
  });
  return { url: started.url, close };
}

async function client(url: string, connectTimeoutMs = 15_000): Promise<HolochainTrustClient> {
  const created = await HolochainTrustClient.create({
    doorway: url,
    deviceKey: await generateKeyPair('Ed25519'),
    dbName: `trust-failover-${++dbs}`,
    minBackoffMs: 50,
    maxBackoffMs: 250,
    callTimeoutMs: 5_000,
    connectTimeoutMs,
  });
  cleanups.push(() => created.close());
  return created;
}

describe('the trust client moves to another doorway', () => {
  it('logs in there with the same agent key when its doorway died', async () => {
    const d1 = await doorway();
    const d2 = await doorway();
    const a = await client(d1.url);
    await expect.poll(() => a.state.status, { timeout: 10_000 }).toBe('connected');
    const me = a.me;

    await d1.close();
    await expect.poll(() => a.state.status, { timeout: 10_000 }).toBe('offline');
    a.moveTo(d2.url);
    expect(a.doorway).toBe(d2.url);
    await expect.poll(() => a.state.status, { timeout: 5_000 }).toBe('connected');
    expect(a.state.doorway).toBe(d2.url);
    expect(a.me).toBe(me);
    // Calls go to D2's trust layer now, as this same agent.
    expect(await a.registerAgent({ display_name: 'Moved', multiaddrs: [] })).toBe('sent');
    expect((await a.getHuman(me))?.displayName).toBe('Moved');
  });

  it('does not wait for a doorway that hangs to time out', async () => {
    // Accepts TCP connections and never answers: a connect attempt would wait its whole timeout.
    const sockets = new Set<Socket>();
    const hanging = createServer((socket) => sockets.add(socket));
    await new Promise<void>((resolve) => hanging.listen(0, '127.0.0.1', resolve));
    cleanups.push(async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => hanging.close(() => resolve()));
    });
    const port = (hanging.address() as { port: number }).port;
    const d2 = await doorway();

    const a = await client(`http://127.0.0.1:${port}`, 60_000);
    await expect.poll(() => sockets.size, { timeout: 5_000 }).toBeGreaterThan(0);
    a.moveTo(d2.url);
    await expect.poll(() => a.state.status, { timeout: 5_000 }).toBe('connected');
  });
});
