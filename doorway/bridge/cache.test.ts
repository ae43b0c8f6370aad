/** The LRU cache on its own: order, pins, budget, and the order surviving a restart. */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ContentHash } from '../../src/content/index.ts';
import { pseudoRandomBytes } from '../../src/test-support/bytes.ts';
import { ContentCache } from './cache.ts';

const KiB = 1024;
const SIZE = 10 * KiB; // `none`: stored bytes = size
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function cacheDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'elohim-cache-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function open(dir: string, maxBytes: number): Promise<ContentCache> {
  const cache = await ContentCache.open({ dir, maxBytes });
  cleanups.push(() => cache.close());
  return cache;
}

/** Adds a blob as a pull's commit would (the store's `added` event), once counted. */
async function add(cache: ContentCache, seed: number): Promise<ContentHash> {
  const m = await cache.store.put(pseudoRandomBytes(SIZE, seed));
  await cache.settled();
  return m.blob_hash as ContentHash;
}

const held = async (cache: ContentCache, hashes: string[]) =>
  Promise.all(hashes.map((h) => cache.store.has(h)));

describe('ContentCache', () => {
  it('evicts least recently used first; a read blob counts as used; pins hold', async () => {
    const cache = await open(await cacheDir(), 3 * SIZE);
    const [a, b, c] = [await add(cache, 1), await add(cache, 2), await add(cache, 3)];
    expect(cache.stats()).toEqual({ bytes: 3 * SIZE, items: 3, maxBytes: 3 * SIZE });
    cache.acquire(a)?.(); // A used: B is now the least recent
    const unpinB = cache.pin(b);
    const d = await add(cache, 4);
    // B is pinned (being read): C goes instead.
    expect(await held(cache, [a, b, c, d])).toEqual([true, true, false, true]);
    unpinB();
    await cache.settled();
    expect(cache.stats().bytes).toBeLessThanOrEqual(3 * SIZE);
    await add(cache, 5);
    // B, released, is the least recent now.
    expect(await cache.store.has(b)).toBe(false);
    expect(cache.acquire(b)).toBeUndefined();
  });

  it('keeps its order across a restart, and tolerates a damaged index', async () => {
    const dir = await cacheDir();
    const first = await ContentCache.open({ dir, maxBytes: 10 * SIZE });
    const [a, b, c] = [await add(first, 1), await add(first, 2), await add(first, 3)];
    first.acquire(a)?.(); // order: B, C, A
    await first.close();
    expect(JSON.parse(await readFile(join(dir, 'lru.json'), 'utf8'))).toEqual({ order: [b, c, a] });

    // Reopened with room for two: the least recent (B) goes at once.
    const second = await open(dir, 2 * SIZE);
    expect(await held(second, [a, b, c])).toEqual([true, false, true]);
    expect(second.stats()).toMatchObject({ items: 2, bytes: 2 * SIZE });
    await second.close();

    await writeFile(join(dir, 'lru.json'), '{ not json');
    const third = await open(dir, 2 * SIZE);
    expect(third.stats()).toMatchObject({ items: 2, bytes: 2 * SIZE });
  });

  it('refuses a budget that is not a number of bytes', async () => {
    const dir = await cacheDir();
    for (const maxBytes of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      await expect(ContentCache.open({ dir, maxBytes })).rejects.toBeInstanceOf(RangeError);
    }
  });
});
