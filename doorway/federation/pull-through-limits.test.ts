/**
 * PullThrough without a network: only hashes an attached browser holds are pulled, each piece
 * is served as soon as it is in (with a few after it asked for), an item the bridge does not
 * serve (not commons) is answered as unknown, a keeper's own shards are never pulled.
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
import { HoldingsRegistry } from './holdings.ts';
import { type PullSource, PullThrough } from './pull-through.ts';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function store(options: Partial<FsContentStoreOptions> = {}): Promise<ContentStore> {
  const dir = await mkdtemp(join(tmpdir(), 'elohim-pull-limits-'));
  const opened = await openFsContentStore({ dir, ...options });
  cleanups.push(async () => {
    opened.close();
    await rm(dir, { recursive: true, force: true });
  });
  return opened;
}

const bytes = pseudoRandomBytes(8 * 1024, 41);
/** 8 pieces of 1 KiB in one shard: room for a run of pieces. */
const small = { pieceSize: 1024 };

async function setUp(open: PullSource['open']) {
  const holder = await store(small);
  const item = await holder.put(new Blob([bytes]), { reach: 'commons' });
  const registry = new HoldingsRegistry();
  const pull = new PullThrough(registry, createLogger('silent'), { readAhead: 2 });
  cleanups.push(async () => pull.stop());
  const cacheStore = await store(small);
  const held = new Set<string>();
  cacheStore.addEventListener('change', ({ detail }) => held.add(detail.hash));
  const cache = {
    store: cacheStore,
    acquire: (hash: string) => (held.has(hash) ? () => {} : undefined),
  };
  pull.attach({ cache, open });
  return { holder, item, registry, cacheStore, pull, served: pull.serving(await store()) };
}

describe('pulling through for other peers', () => {
  it('pulls only what an attached browser holds', async () => {
    const calls = { open: 0, release: 0 };
    const { item, registry, served } = await setUp(async () => {
      calls.open++;
      return {
        manifest: item,
        ensure: async () => {},
        release: () => {
          calls.release++;
        },
      };
    });
    expect(await served.manifest(item.blob_hash)).toBeUndefined();
    await expect(served.readPiece(item.blob_hash, 0, 0)).rejects.toThrow();
    expect(calls.open).toBe(0);
    registry.apply('browser', { reset: true, added: [item.blob_hash], removed: [] });
    expect((await served.manifest(item.blob_hash))?.blob_hash).toBe(item.blob_hash);
    expect(calls).toEqual({ open: 1, release: 1 });
  });

  it('serves each piece as soon as it is pulled, before the item is whole', async () => {
    const asked: string[][] = [];
    let opened = 0;
    const world = await setUp(async () => {
      opened++;
      return {
        manifest: pulling.partialManifest,
        // Stands in for the bridge's pull: the pieces asked for, verified and written.
        ensure: async (pieces) => {
          asked.push(pieces.map((r) => `${r.shard}/${r.piece}`));
          for (const { shard, piece } of pieces) {
            if (!pulling.has(shard, piece)) {
              const piecesBytes = await world.holder.readPiece(world.item.blob_hash, shard, piece);
              await pulling.writePiece(shard, piece, piecesBytes);
            }
          }
        },
        release: () => {},
      };
    });
    const { storage_key: _key, ...manifest } = world.item;
    const pulling = await world.cacheStore.beginImport(manifest);
    const hash = world.item.blob_hash;
    world.registry.apply('browser', { reset: true, added: [hash], removed: [] });

    expect(await world.served.readPiece(hash, 0, 3)).toEqual(
      await world.holder.readPiece(hash, 0, 3),
    );
    // The piece read, then (not waited on) the two after it in its shard.
    expect(asked).toContainEqual(['0/3']);
    expect(asked).toContainEqual(['0/4', '0/5']);
    expect(opened).toBe(1);
    expect(world.pull.piecesPulled).toBe(1);
    // Not whole yet: the cache does not list it.
    expect(await world.cacheStore.has(hash)).toBe(false);

    // Once every piece is in and the pull committed, reads come from the cache.
    for (const { shard, piece } of pulling.missing()) {
      await pulling.writePiece(shard, piece, await world.holder.readPiece(hash, shard, piece));
    }
    await pulling.commit();
    expect(await world.served.readPiece(hash, 0, 7)).toEqual(
      await world.holder.readPiece(hash, 0, 7),
    );
    expect(opened).toBe(1);
    // …only while a browser still holds it.
    world.registry.forget('browser');
    await expect(world.served.readPiece(hash, 0, 0)).rejects.toThrow();
    expect(await world.served.manifest(hash)).toBeUndefined();
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
    const cache = { store: await store(), acquire: () => undefined };
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
