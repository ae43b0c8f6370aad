/**
 * What the doorway keeps for others: copies of commons items browsers offer it, in a
 * filesystem content store within `--store-quota` (and the disk's free space).
 */
import { statfs } from 'node:fs/promises';
import type { ContentStore } from '../src/content/node.ts';
import type { SpaceBudget } from '../src/net/index.ts';

/** Left free on the disk whatever the quota says: the doorway's database and logs need room. */
const DISK_RESERVE = 256 * 2 ** 20;

/** Bytes a store's items and shards take. */
async function used(store: ContentStore): Promise<number> {
  return (await store.stats()).storedBytes;
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
  const stats = await store.stats();
  return { items: stats.items + stats.heldBlobs, bytes: stats.storedBytes, quota };
}
