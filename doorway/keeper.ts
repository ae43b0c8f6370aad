/**
 * What the doorway keeps for others: copies of commons items browsers offer it, in a
 * filesystem content store within `--store-quota` (and the disk's free space).
 */
import { statfs } from 'node:fs/promises';
import type { ContentStats, ContentStore } from '../src/content/node.ts';
import type { SpaceBudget } from '../src/net/index.ts';
import { listen } from '../src/wire/index.ts';

/** Left free on the disk whatever the quota says: the doorway's database and logs need room. */
const DISK_RESERVE = 256 * 2 ** 20;

/** The last `stats()` of each store, dropped on its next change. */
const tallies = new WeakMap<ContentStore, { stats?: Promise<ContentStats> }>();

/**
 * `store.stats()` reads every manifest; `/health` (anyone may ask, as often as they like) and
 * every offer would pay that each time. The figures only move when the store changes, so they
 * are counted again only then, and callers asking at once share one count.
 */
export function storeStats(store: ContentStore): Promise<ContentStats> {
  let tally = tallies.get(store);
  if (!tally) {
    const fresh: { stats?: Promise<ContentStats> } = {};
    listen(store, 'change', () => {
      fresh.stats = undefined;
    });
    tallies.set(store, fresh);
    tally = fresh;
  }
  if (!tally.stats) {
    const counting = store.stats();
    tally.stats = counting;
    // A failed count is not kept: the next caller tries again.
    counting.catch(() => {
      if (tally.stats === counting) tally.stats = undefined;
    });
  }
  return tally.stats;
}

/** Bytes a store's items and shards take. */
async function used(store: ContentStore): Promise<number> {
  return (await storeStats(store)).storedBytes;
}

/** The quota less what `store()` holds, and never more than the disk has free. */
export function keeperBudget(quota: number, dir: string, store: () => ContentStore): SpaceBudget {
  return {
    maxBytes: quota,
    async spaceLeft() {
      const [inUse, disk] = await Promise.all([used(store()), statfs(dir)]);
      return Math.min(quota - inUse, disk.bavail * disk.bsize - DISK_RESERVE);
    },
  };
}

/** `/health`'s account of a store. */
export async function storeUse(store: ContentStore, quota: number) {
  const stats = await storeStats(store);
  return { items: stats.items + stats.heldBlobs, bytes: stats.storedBytes, quota };
}
