/**
 * The doorway as a keeper: a real doorway (in this process) and real Node peers that connect
 * to it over WebSockets, as browsers do. It keeps the commons copies offered to it, refuses
 * the others, is listed in its own trust layer as a holder, serves what it keeps to a peer
 * that never met the author, and keeps it across a restart.
 */
import 'fake-indexeddb/auto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { peerIdFromString } from '@libp2p/peer-id';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { openFsContentStore } from '../src/content/node.ts';
import { replicate } from '../src/net/index.ts';
import { type Peer, startNodePeer } from '../src/peer/node.ts';
import { pseudoRandomBytes } from '../src/test-support/bytes.ts';
import { storeStats } from './keeper.ts';
import { createLogger } from './log.ts';
import { type Doorway, startDoorway } from './server.ts';
import { APP_FILES, testConfig, until } from './test-support.ts';

const KiB = 1024;
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function tempDir(name: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `elohim-keeper-${name}-`));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function doorwayIn(dir: string, quota = 64 * 1024 * KiB): Promise<Doorway> {
  await writeFile(join(dir, 'index.html'), APP_FILES['index.html'] as string);
  const doorway = await startDoorway(
    testConfig(dir, { storeQuota: quota }),
    createLogger('silent'),
  );
  let closed = false;
  cleanups.push(async () => {
    if (!closed) await doorway.close();
  });
  const close = doorway.close.bind(doorway);
  return Object.assign(doorway, {
    close: async () => {
      closed = true;
      await close();
    },
  });
}

let names = 0;
/** A Node peer that reaches the doorway as a browser does: WebSockets, its trust layer. */
async function peerOf(doorway: Doorway): Promise<Peer> {
  const peer = await startNodePeer({
    dataDir: await tempDir(`peer${++names}`),
    listen: [],
    doorways: [doorway.url.slice(0, -1)],
    dialListedPeers: false,
    content: {
      thresholds: { chunkedAbove: 64 * KiB, rsAbove: 1024 * KiB },
      chunkSize: 16 * KiB,
      pieceSize: 16 * KiB,
    },
    copies: 0,
    trust: { displayName: `peer ${names}` },
  });
  cleanups.push(async () => {
    await peer.stop();
    peer.store.close();
  });
  await until('the peer to reach the doorway', () =>
    peer.node.snapshot().doorways[0]?.status === 'connected' ? true : undefined,
  );
  return peer;
}

const doorwayId = (doorway: Doorway) => peerIdFromString(doorway.p2p.peerId);

describe('the doorway keeps commons items for others', () => {
  it('keeps a commons copy, is listed as its holder, serves it to a stranger and keeps it across a restart', async () => {
    const dir = await tempDir('doorway');
    let doorway = await doorwayIn(dir);
    const author = await peerOf(doorway);
    const bytes = pseudoRandomBytes(200 * KiB, 7);
    const { blob_hash: hash } = await author.store.put(new Blob([bytes]), {
      reach: 'commons',
      name: 'kept.bin',
    });

    const report = await replicate(author.node.libp2p, author.store, hash, [doorwayId(doorway)], {
      copies: 1,
    });
    expect(report.stored).toEqual([doorway.p2p.peerId]);
    const kept = await doorway.p2p.peer.store.manifest(hash);
    expect(kept?.reach).toBe('commons');
    const health = (await (await fetch(new URL('/health', doorway.url))).json()) as {
      store: { kept: { items: number; bytes: number } };
    };
    expect(health.store.kept.items).toBe(1);
    expect(health.store.kept.bytes).toBeGreaterThanOrEqual(bytes.length);

    // The doorway announced it in its own trust layer: the author sees it listed.
    const trust = author.trustClient;
    if (!trust) throw new Error('the author has no trust client');
    await until(
      'the doorway to be listed as a holder',
      async () => {
        const holders = await trust.findHolders(hash, { capability: null });
        return holders.some((h) => h.peerId.toString() === doorway.p2p.peerId) ? true : undefined;
      },
      15_000,
    );

    // The author leaves; a peer that never met it fetches from the doorway.
    await author.stop();
    await doorway.close();
    doorway = await doorwayIn(dir);
    expect((await doorway.p2p.peer.store.manifest(hash))?.blob_hash).toBe(hash);
    const stranger = await peerOf(doorway);
    const fetched = await stranger.fetch(hash, { timeoutMs: 10_000 });
    expect(fetched.blob_hash).toBe(hash);
    const got = new Uint8Array(await (await stranger.store.getBlob(hash)).arrayBuffer());
    expect(Buffer.from(got).equals(Buffer.from(bytes))).toBe(true);
  });

  it('refuses items whose reach is not commons, and everything with a quota of 0', async () => {
    const doorway = await doorwayIn(await tempDir('doorway'));
    const author = await peerOf(doorway);
    const anyone = () => true;
    for (const reach of ['private', 'invited', 'local'] as const) {
      const { blob_hash: hash } = await author.store.put(
        new Blob([pseudoRandomBytes(8 * KiB, reach.length)]),
        { reach },
      );
      // Offered anyway (a modified app): the doorway declines and holds nothing.
      const report = await replicate(author.node.libp2p, author.store, hash, [doorwayId(doorway)], {
        copies: 1,
        gate: anyone,
      });
      expect(report.stored).toEqual([]);
      expect(report.peers[0]?.state).toBe('declined');
    }
    expect((await doorway.p2p.peer.store.stats()).items).toBe(0);

    const closed = await doorwayIn(await tempDir('closed'), 0);
    const other = await peerOf(closed);
    const { blob_hash: hash } = await other.store.put(new Blob([pseudoRandomBytes(8 * KiB, 1)]), {
      reach: 'commons',
    });
    const report = await replicate(other.node.libp2p, other.store, hash, [doorwayId(closed)], {
      copies: 1,
    });
    expect(report.stored).toEqual([]);
    expect((await closed.p2p.peer.store.stats()).items).toBe(0);
  });
});

describe('storeStats', () => {
  it('counts a store once per change however often it is asked', async () => {
    const store = await openFsContentStore({ dir: await tempDir('stats') });
    cleanups.push(async () => store.close());
    const count = vi.spyOn(store, 'stats');
    // A burst of /health requests and offers at once: one count.
    const burst = await Promise.all(Array.from({ length: 50 }, () => storeStats(store)));
    expect(burst.every((s) => s.items === 0)).toBe(true);
    expect(count).toHaveBeenCalledTimes(1);
    await storeStats(store);
    expect(count).toHaveBeenCalledTimes(1);
    // A change makes the next answer a fresh count.
    await store.put(pseudoRandomBytes(10 * KiB, 7));
    expect((await storeStats(store)).items).toBe(1);
    expect(count).toHaveBeenCalledTimes(2);
  });
});
