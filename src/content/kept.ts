/**
 * What this device keeps for other peers — whole copies they asked it to keep and shards of
 * their large files — as opposed to the person's own items (see `origin.ts`), the bytes it
 * takes, and letting go of all of it.
 */
import type { ShardHolding } from './backend.ts';
import type { ContentStore } from './content-store.ts';
import { type StoredManifest, storedBytes } from './manifest.ts';
import { isKept } from './origin.ts';

/** Everything kept here for others, and the bytes it takes. */
export interface KeptForOthers {
  /** Whole copies kept for a peer, newest first. */
  copies: StoredManifest[];
  /** Shards of other people's rs-4-7 files. */
  shards: ShardHolding[];
  /** Bytes stored for all of them. */
  bytes: number;
}

/** Bytes one kept item takes here: a whole copy as stored, or the shards held. */
export function keptBytes(item: StoredManifest | ShardHolding): number {
  return 'manifest' in item ? item.shards.length * item.manifest.shard_size : storedBytes(item);
}

export async function keptForOthers(store: ContentStore): Promise<KeptForOthers> {
  const [all, shards] = await Promise.all([store.list(), store.holdings()]);
  const copies = all.filter(isKept);
  let bytes = 0;
  for (const item of [...copies, ...shards]) bytes += keptBytes(item);
  return { copies, shards, bytes };
}

/**
 * Lets go of everything kept for others (the person's own items stay, also those that were
 * kept for others before the person fetched them). Resolves with how many items went.
 */
export async function releaseAll(
  store: ContentStore,
  options: { signal?: AbortSignal } = {},
): Promise<number> {
  const { copies, shards } = await keptForOthers(store);
  let released = 0;
  for (const hash of new Set([...copies, ...shards].map((i) => i.blob_hash))) {
    options.signal?.throwIfAborted();
    if (await store.release(hash)) released++;
  }
  return released;
}
