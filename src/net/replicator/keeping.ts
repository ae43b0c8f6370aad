/**
 * What this device keeps for other peers — whole copies they asked it to keep (the replicate
 * protocol) and shards of their large files — apart from the person's own items, within a
 * cap the person sets, and letting go of it.
 */
import {
  type ContentStore,
  isKept,
  type ShardHolding,
  type StoredManifest,
  storedBytes,
} from '../../content/index.ts';
import type { HoldGate, ReplicaPolicy, SpaceBudget } from '../replicate/index.ts';

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

export interface KeepingOptions {
  /** Whether this device takes copies for others now (the person's setting, read per offer). */
  willing: () => boolean;
  /** The most bytes kept for others (read per offer): offers that would go over are declined. */
  capBytes: () => number;
  /** The largest item and the space the device has left. */
  budget: SpaceBudget;
  mayHold: HoldGate;
}

/**
 * The replicate server's policy for a person's device: nothing while they do not want to keep
 * copies for others, and no more than their cap in all (what is kept counts, not what the
 * person added or fetched), within the space the device has left.
 */
export function keepingPolicy(store: ContentStore, options: KeepingOptions): ReplicaPolicy {
  return {
    willing: options.willing,
    maxBytes: options.budget.maxBytes,
    mayHold: options.mayHold,
    spaceLeft: async () => {
      const [left, kept] = await Promise.all([
        options.budget.spaceLeft().catch(() => undefined),
        keptForOthers(store),
      ]);
      const underCap = Math.max(0, options.capBytes() - kept.bytes);
      return left === undefined ? underCap : Math.min(left, underCap);
    },
  };
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
