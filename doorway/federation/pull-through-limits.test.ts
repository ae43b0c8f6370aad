/**
 * PullThrough's gates, without a network: only hashes an attached browser holds are pulled,
 * an item over the size cap is refused before any piece is asked for, an item the bridge does
 * not serve (not commons) is answered as unknown.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type ContentStore,
  type FsContentStoreOptions,
  openFsContentStore,
} from '../../src/content/node.ts';
import { pseudoRandomBytes } from '../../src/test-support/bytes.ts';
import { NotServedError } from '../bridge/index.ts';
import { createLogger } from '../log.ts';
import { PullTooLargeError } from './errors.ts';
import { HoldingsRegistry } from './holdings.ts';
import { type PullSource, PullThrough } from './pull-through.ts';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function store(options: Partial<FsContentStoreOptions> = {}): Promise<ContentStore> {
  const dir = await mkdtemp(join(tmpdir(), 'elohim-pull-limits-'));
  const opened = await openFsContentStore({ dir, hashing: 'inline', ...options });
  cleanups.push(async () => {
    opened.close();
    await rm(dir, { recursive: true, force: true });
  });
  return opened;
}

const bytes = pseudoRandomBytes(8 * 1024, 41);

async function setUp(open: PullSource['open'], maxBytes = 4 * 1024) {
  const holder = await store();
  const item = await holder.put(new Blob([bytes]), { reach: 'commons' });
  const registry = new HoldingsRegistry();
  const pull = new PullThrough(registry, createLogger('silent'), { maxBytes });
  cleanups.push(async () => pull.stop());
  const cacheStore = await store();
  const cache = {
    store: cacheStore,
    acquire: (hash: string) => (held.has(hash) ? () => {} : undefined),
    pin: () => () => {},
  };
  const held = new Set<string>();
  cacheStore.addEventListener('change', ({ detail }) => held.add(detail.hash));
  pull.attach({ cache, open });
  return { item, registry, cacheStore, served: pull.serving(await store()) };
}

describe('pulling through for other peers', () => {
  it('pulls only what an attached browser holds, and nothing over the size cap', async () => {
    const calls = { open: 0, ensure: 0, release: 0 };
    const { item, registry, served } = await setUp(async () => {
      calls.open++;
      return {
        manifest: item,
        ensure: async () => {
          calls.ensure++;
        },
        release: () => {
          calls.release++;
        },
      };
    });
    expect(await served.manifest(item.blob_hash)).toBeUndefined();
    expect(calls.open).toBe(0);
    registry.apply('browser', { reset: true, added: [item.blob_hash], removed: [] });
    await expect(served.manifest(item.blob_hash)).rejects.toThrow(PullTooLargeError);
    expect(calls).toEqual({ open: 1, ensure: 0, release: 1 });
  });

  it('answers Holds and Manifest with the holder manifest; the first piece pulls the item', async () => {
    const calls = { open: 0, ensure: 0 };
    let cacheStore: ContentStore | undefined;
    const world = await setUp(async () => {
      calls.open++;
      return {
        manifest: world.item,
        // Stands in for the bridge's pull: every piece written, the import commits.
        ensure: async () => {
          calls.ensure++;
          await cacheStore?.put(new Blob([bytes]), { reach: 'commons' });
        },
        release: () => {},
      };
    }, 64 * 1024);
    cacheStore = world.cacheStore;
    world.registry.apply('browser', { reset: true, added: [world.item.blob_hash], removed: [] });
    expect((await world.served.manifest(world.item.blob_hash))?.blob_hash).toBe(
      world.item.blob_hash,
    );
    expect(calls).toEqual({ open: 1, ensure: 0 });
    const piece = await world.served.readPiece(world.item.blob_hash, 0, 0);
    expect(piece).toEqual(bytes.subarray(0, piece.byteLength));
    expect(calls).toEqual({ open: 2, ensure: 1 });
    // Pulled: read from the cache now, while the browser still holds it; not once it left.
    await world.served.readPiece(world.item.blob_hash, 0, 0);
    expect(calls.ensure).toBe(1);
    world.registry.forget('browser');
    await expect(world.served.readPiece(world.item.blob_hash, 0, 0)).rejects.toThrow();
    expect(await world.served.manifest(world.item.blob_hash)).toBeUndefined();
  });

  it('answers as unknown what the bridge would not serve', async () => {
    const { item, registry, served } = await setUp(async (hash) => {
      throw new NotServedError(hash, 'its reach is private, not commons');
    });
    registry.apply('browser', { reset: true, added: [item.blob_hash], removed: [] });
    expect(await served.manifest(item.blob_hash)).toBeUndefined();
  });

  it('leaves to the keeper what it keeps shards of: its shards are served, nothing is pulled', async () => {
    // rs-4-7 at this size, so the keeper can hold some shards of it and not the blob.
    const rs = { thresholds: { chunkedAbove: 1024, rsAbove: 2048 }, pieceSize: 1024 };
    const holder = await store(rs);
    const item = await holder.put(new Blob([bytes]), { reach: 'commons' });
    expect(item.encoding).toBe('rs-4-7');
    const kept = await store(rs);
    const { storage_key: _key, ...manifest } = item;
    const session = await kept.beginShardImport(manifest, [5]);
    for (const { shard, piece } of session.needed) {
      await session.writePiece(shard, piece, await holder.readPiece(item.blob_hash, shard, piece));
    }
    await session.commit();

    let opened = 0;
    const registry = new HoldingsRegistry();
    const pull = new PullThrough(registry, createLogger('silent'));
    cleanups.push(async () => pull.stop());
    const cache = { store: await store(), acquire: () => undefined, pin: () => () => {} };
    pull.attach({
      cache,
      open: async () => {
        opened++;
        throw new Error('the keeper holds shards of it: nothing should be pulled');
      },
    });
    const served = pull.serving(kept);
    // A browser attached to the doorway holds the whole item.
    registry.apply('browser', { reset: true, added: [item.blob_hash], removed: [] });

    expect(await pull.onlyBrowsersHold(item.blob_hash)).toBe(false);
    // As the shard server locates it: no manifest of the blob, the holding with shard 5.
    expect(await served.manifest(item.blob_hash)).toBeUndefined();
    expect((await served.holding(item.blob_hash))?.shards.map((s) => s.index)).toEqual([5]);
    expect(await served.readPiece(item.blob_hash, 5, 0)).toEqual(
      await holder.readPiece(item.blob_hash, 5, 0),
    );
    expect(opened).toBe(0);
  });
});
