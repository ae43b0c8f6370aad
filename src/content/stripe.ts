/**
 * One rs-4-7 stripe: piece j of each of the 7 shards covers the same byte range of its shard,
 * so any 4 verified pieces of a stripe rebuild the other 3. Every rebuild — a verified read,
 * an import from parity shards, a keeper regenerating lost shards — goes through here.
 */
import { DATA_SHARDS, reconstructShards, TOTAL_SHARDS } from '../erasure/index.ts';

export interface StripePiece {
  shard: number;
  bytes: Uint8Array;
}

/**
 * The pieces of `wanted` shards rebuilt from the `present` pieces of one stripe (at least
 * {@link DATA_SHARDS} of the {@link TOTAL_SHARDS}, all of one length, each verified by the
 * caller). Rebuilt bytes are only as good as the pieces given: the caller checks them against
 * the manifest's piece hashes. Throws the erasure module's `InsufficientShardsError` with
 * fewer than 4 pieces.
 */
export function rebuildStripe(
  present: Iterable<StripePiece>,
  wanted: readonly number[],
): StripePiece[] {
  const stripe: (Uint8Array | null)[] = new Array(TOTAL_SHARDS).fill(null);
  for (const p of present) {
    if (!Number.isInteger(p.shard) || p.shard < 0 || p.shard >= TOTAL_SHARDS) {
      throw new RangeError(`An rs-4-7 stripe has shards 0..${TOTAL_SHARDS - 1}, not ${p.shard}.`);
    }
    stripe[p.shard] = p.bytes;
  }
  const all = reconstructShards(stripe);
  return wanted.map((shard) => {
    const bytes = all[shard];
    if (!bytes) {
      throw new RangeError(`An rs-4-7 stripe has shards 0..${TOTAL_SHARDS - 1}, not ${shard}.`);
    }
    return { shard, bytes };
  });
}
