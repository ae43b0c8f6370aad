/**
 * Two `Peer`s in Node, over TCP on 127.0.0.1, each with its filesystem store, through the same
 * code a browser tab runs: they replicate what one authors, fetch (verified) what the other
 * holds, and sync descriptions (documents and event log in files, as a doorway keeps them).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DocHandle, DocumentId } from '@automerge/automerge-repo';
import { multiaddr } from '@multiformats/multiaddr';
import { afterEach, describe, expect, it } from 'vitest';
import type { ContentStore } from '../content/index.ts';
import type { ItemMeta, SyncRuntime } from '../sync/index.ts';
import { openNodeSync } from '../sync/node.ts';
import { pseudoRandomBytes } from '../test-support/bytes.ts';
import { type Peer, startNodePeer } from './node.ts';

const KiB = 1024;
const cleanups: (() => Promise<unknown>)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface TestPeer {
  peer: Peer;
  store: ContentStore;
  sync: SyncRuntime;
}

async function startPeer(name: string, copies: number): Promise<TestPeer> {
  const dataDir = await mkdtemp(join(tmpdir(), `elohim-peer-${name}-`));
  cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
  let sync: Promise<SyncRuntime> | undefined;
  const peer = await startNodePeer({
    dataDir,
    content: {
      thresholds: { chunkedAbove: 64 * KiB, rsAbove: 256 * KiB },
      chunkSize: 16 * KiB,
      pieceSize: 16 * KiB,
    },
    copies,
    // Nothing here asks the OS for free space: a fixed budget.
    budget: { maxBytes: 64 * 1024 * KiB, spaceLeft: async () => 64 * 1024 * KiB },
    sync: (agent) => {
      sync ??= openNodeSync({ agent, dir: dataDir });
      return sync;
    },
  });
  cleanups.push(async () => {
    await peer.stop();
    await (await sync)?.shutdown();
    peer.store.close();
  });
  return { peer, store: peer.store, sync: await (sync as unknown as Promise<SyncRuntime>) };
}

async function until(check: () => boolean | Promise<boolean>, what: string, ms = 15_000) {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function bytesOf(store: ContentStore, hash: string): Promise<Uint8Array> {
  return new Uint8Array(await (await store.getBlob(hash)).arrayBuffer());
}

describe('Peer in Node', () => {
  it('two peers over TCP replicate, fetch verified and sync, as two browsers do', async () => {
    const a = await startPeer('a', 1);
    const b = await startPeer('b', 0);
    const listening = b.peer.node.libp2p.getMultiaddrs();
    expect(listening.some((ma) => ma.toString().startsWith('/ip4/127.0.0.1/tcp/'))).toBe(true);
    await a.peer.node.libp2p.dial(listening.map((ma) => multiaddr(ma.toString())));
    await until(() => a.peer.node.directPeers().includes(b.peer.node.peerId), 'a direct link');

    // Replicate: what A authors (commons) is offered to its direct peers; B keeps a copy.
    const authored = pseudoRandomBytes(200 * KiB, 1);
    const manifest = await a.store.put(authored, {
      name: 'authored.bin',
      reach: 'commons',
      authorId: a.peer.agent,
    });
    expect(manifest.encoding).toBe('chunked');
    await until(() => b.store.has(manifest.blob_hash), 'B to keep a copy');
    expect(await bytesOf(b.store, manifest.blob_hash)).toEqual(authored);

    // Fetch: A gets what only B holds, verified piece by piece and whole.
    const held = pseudoRandomBytes(300 * KiB, 2);
    const heldManifest = await b.store.put(held, { name: 'held.bin', reach: 'commons' });
    expect(heldManifest.encoding).toBe('rs-4-7');
    const fetched = await a.peer.fetch(heldManifest.blob_hash);
    expect(fetched.blob_hash).toBe(heldManifest.blob_hash);
    expect(await bytesOf(a.store, heldManifest.blob_hash)).toEqual(held);

    // Sync: A describes its item; B receives A's events and the description.
    await a.sync.addItem(manifest, { title: 'A shared file' });
    const origin = a.peer.node.peerId;
    await until(async () => (await b.sync.log.contiguous(origin)) >= 3, "B to receive A's events");
    const entry = a.sync.libraries.entry(manifest.blob_hash);
    expect(entry?.meta_doc).toBeDefined();
    const handle = await b.sync.repo.find<ItemMeta>(entry?.meta_doc as DocumentId, {
      signal: AbortSignal.timeout(10_000),
    });
    expect((handle as DocHandle<ItemMeta>).doc().title).toBe('A shared file');
  });
});
