/**
 * PullThrough's gates, without a network: only hashes an attached browser holds are pulled,
 * an item over the size cap is refused before any piece is asked for, an item the bridge does
 * not serve (not commons) is answered as unknown.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type ContentStore, openFsContentStore } from '../../src/content/node.ts';
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

async function store(): Promise<ContentStore> {
  const dir = await mkdtemp(join(tmpdir(), 'elohim-pull-limits-'));
  const opened = await openFsContentStore({ dir, hashing: 'inline' });
  cleanups.push(async () => {
    opened.close();
    await rm(dir, { recursive: true, force: true });
  });
  return opened;
}

async function setUp(open: PullSource['open']) {
  const holder = await store();
  const item = await holder.put(new Blob([pseudoRandomBytes(8 * 1024, 41)]), { reach: 'commons' });
  const registry = new HoldingsRegistry();
  const pull = new PullThrough(registry, createLogger('silent'), { maxBytes: 4 * 1024 });
  cleanups.push(async () => pull.stop());
  const cache = { store: await store(), acquire: () => undefined, pin: () => () => {} };
  pull.attach({ cache, open });
  return { item, registry, served: pull.serving(await store()) };
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

  it('answers as unknown what the bridge would not serve', async () => {
    const { item, registry, served } = await setUp(async (hash) => {
      throw new NotServedError(hash, 'its reach is private, not commons');
    });
    registry.apply('browser', { reset: true, added: [item.blob_hash], removed: [] });
    expect(await served.manifest(item.blob_hash)).toBeUndefined();
  });
});
