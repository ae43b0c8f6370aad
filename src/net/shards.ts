/**
 * The mechanics of keeping an rs-4-7 blob's 7 shards on 7 distinct peers: asking peers what
 * they hold of it, placing shards on peers that hold nothing of it, and — when the whole blob
 * is not here — fetching enough shards to rebuild the missing ones locally. The `Replicator`
 * decides when; this module does.
 */
import type { PeerId } from '@libp2p/interface';
import { peerIdFromString } from '@libp2p/peer-id';
import {
  type ContentStore,
  type RemoteManifest,
  rebuildStripe,
  type ShardImportSession,
} from '../content/index.ts';
import { errorMessage } from '../wire/index.ts';
import { AllHoldersFailedError } from './errors.ts';
import type { FetchNode } from './fetch.ts';
import { PieceScheduler } from './piece-scheduler.ts';
import { type ReplicationGate, replicate } from './replicate/index.ts';
import { fetchHolding, type Holding, type Libp2pDialLike } from './shard/index.ts';

/** What a peer answered about a blob: what it holds, `null` for nothing, or unreachable (absent). */
export type Census = Map<string, Holding | null>;

/**
 * Asks every peer what it holds of `hash` (`Holds`), all at once. Peers that answer NotFound
 * hold nothing (`null`); peers that cannot be reached or fail are left out.
 */
export async function census(
  libp2p: Libp2pDialLike,
  peers: Iterable<string>,
  hash: string,
  totalShards: number,
  signal: AbortSignal,
  timeoutMs = 5_000,
): Promise<Census> {
  const out: Census = new Map();
  await Promise.all(
    [...new Set(peers)].map(async (id) => {
      try {
        out.set(
          id,
          await fetchHolding(libp2p, peerIdFromString(id), hash, {
            signal,
            timeoutMs,
            totalShards,
          }),
        );
      } catch (error) {
        if ((error as { name?: string }).name === 'ShardNotFoundError') out.set(id, null);
      }
    }),
  );
  signal.throwIfAborted();
  return out;
}

/** For each shard, a live peer that has it (the first found), or `null`. */
export function coverage(
  totalShards: number,
  held: Census,
  mine: readonly number[] = [],
  me = 'me',
): (string | null)[] {
  return Array.from({ length: totalShards }, (_, s) => {
    if (mine.includes(s)) return me;
    for (const [peer, holding] of held) {
      if (holding === 'all' || holding?.includes(s)) return peer;
    }
    return null;
  });
}

/**
 * Offers each of `shards` to a different peer of `candidates`, all shards at once, each
 * taking the next candidate when one declines or fails (`OfferShard`: the receiver pulls it
 * from us and keeps that shard only). Resolves with the peer that stored each placed shard;
 * shards left without a candidate are not in the map.
 */
export async function placeShards(
  libp2p: Libp2pDialLike,
  store: ContentStore,
  hash: string,
  shards: readonly number[],
  candidates: readonly string[],
  options: {
    gate: ReplicationGate;
    signal: AbortSignal;
    onPlaced?: (shard: number, peer: string) => void;
  },
): Promise<Map<number, string>> {
  const queue = [...candidates];
  const placed = new Map<number, string>();
  await Promise.all(
    shards.map(async (shard) => {
      for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
        const report = await replicate(libp2p, store, hash, [peerIdFromString(next)], {
          copies: 1,
          shard,
          gate: options.gate,
          signal: options.signal,
        });
        if (report.stored.length > 0) {
          placed.set(shard, next);
          options.onPlaced?.(shard, next);
          return;
        }
      }
    }),
  );
  return placed;
}

/**
 * Adds `shards` to this device's holding of the blob, fetched from the peers of `held` that
 * have them (verified piece by piece, then shard by shard). Throws `AllHoldersFailedError`
 * when they could not all be fetched; nothing of a failed fetch is kept.
 */
export async function fetchShards(
  node: FetchNode,
  store: ContentStore,
  manifest: RemoteManifest,
  shards: readonly number[],
  held: Census,
  signal: AbortSignal,
): Promise<void> {
  const session = await store.beginShardImport(manifest, shards, { signal });
  const failures: string[] = [];
  const holdings = new Map<string, Holding>();
  const sources: PeerId[] = [];
  for (const [peer, holding] of held) {
    if (holding && shards.some((s) => holding === 'all' || holding.includes(s))) {
      holdings.set(peer, holding);
      sources.push(peerIdFromString(peer));
    }
  }
  try {
    if (!session.complete) {
      const scheduler = new PieceScheduler(
        session,
        session.needed,
        node,
        signal,
        { holdings, substitute: false, timeoutMs: 10_000 },
        {
          joined: () => {},
          state: () => {},
          bytes: () => {},
          dropped: (id, error) => failures.push(`${id}: ${errorMessage(error)}`),
        },
      );
      await scheduler.run(sources, async () => []);
      if (!session.complete) throw new AllHoldersFailedError(manifest.blob_hash, failures);
    }
    await session.commit({ signal });
  } catch (error) {
    await session.abort();
    throw error;
  }
}

/**
 * Rebuilds `targets` from 4 shards this device holds of the blob (`sources`), stripe by
 * stripe: every source piece is verified as it is read, every rebuilt piece against the
 * manifest before it is written, and each rebuilt shard against its hash at the commit.
 */
export async function rebuildShards(
  store: ContentStore,
  manifest: RemoteManifest,
  sources: readonly number[],
  targets: readonly number[],
  signal: AbortSignal,
): Promise<void> {
  if (sources.length < manifest.data_shards) {
    throw new RangeError(
      `Rebuilding shards of ${manifest.blob_hash} takes ${manifest.data_shards} of them; got ${sources.length}.`,
    );
  }
  const session: ShardImportSession = await store.beginShardImport(manifest, targets, { signal });
  try {
    const stripes = (manifest.piece_hashes[0] as string[]).length;
    for (let j = 0; j < stripes && !session.complete; j++) {
      signal.throwIfAborted();
      const present = [];
      for (const shard of sources.slice(0, manifest.data_shards)) {
        present.push({ shard, bytes: await store.readPiece(manifest.blob_hash, shard, j) });
      }
      for (const p of rebuildStripe(present, session.shards)) {
        await session.writePiece(p.shard, j, p.bytes);
      }
    }
    await session.commit({ signal });
  } catch (error) {
    await session.abort();
    throw error;
  }
}

/** What a repair works from: the census of the blob's holders. */
export interface RepairPlan {
  manifest: RemoteManifest;
  /** The shards this device keeps, and keeps again afterwards. */
  mine: readonly number[];
  /** For each shard, a live holder or null ({@link coverage}). */
  online: readonly (string | null)[];
  held: Census;
}

/**
 * Holds 4 shards of the blob for the time of `use` — ours first, the rest fetched from their
 * holders — then drops whatever `use` leaves to drop and what was fetched: this device keeps
 * `keep` only.
 */
async function withFourShards<T>(
  node: FetchNode,
  store: ContentStore,
  plan: RepairPlan,
  signal: AbortSignal,
  use: (sources: number[]) => Promise<{ value: T; keep: readonly number[] }>,
): Promise<T> {
  const { manifest, mine, online, held } = plan;
  const available = online.flatMap((p, s) => (p !== null ? [s] : []));
  const sources = [...mine, ...available.filter((s) => !mine.includes(s))].slice(
    0,
    manifest.data_shards,
  );
  const fetched = sources.filter((s) => !mine.includes(s));
  let keep: readonly number[] = mine;
  try {
    if (fetched.length > 0) {
      await fetchShards(node, store, manifest, fetched, held, signal);
    }
    const done = await use(sources);
    keep = done.keep;
    return done.value;
  } finally {
    const holding = await store.holding(manifest.blob_hash).catch(() => undefined);
    const extra = (holding?.shards ?? []).map((s) => s.index).filter((s) => !keep.includes(s));
    if (extra.length > 0) await store.dropShards(manifest.blob_hash, extra).catch(() => []);
  }
}

/**
 * Rebuilds the missing `targets` from 4 shards and offers `targets[i]` to `candidates[i]`
 * only (both in a stable order): two keepers repairing at once from the same census offer the
 * same shard to the same peer, which keeps it once. This device keeps `mine` only afterwards.
 */
export function repairShards(
  node: FetchNode,
  store: ContentStore,
  plan: RepairPlan & { targets: readonly number[]; candidates: readonly string[] },
  options: { gate: ReplicationGate; signal: AbortSignal },
): Promise<Map<number, string>> {
  const hash = plan.manifest.blob_hash;
  return withFourShards(node, store, plan, options.signal, async (sources) => {
    await rebuildShards(store, plan.manifest, sources, plan.targets, options.signal);
    const placed = new Map<number, string>();
    await Promise.all(
      plan.targets.map(async (shard, i) => {
        const peer = plan.candidates[i];
        if (peer === undefined) return;
        const got = await placeShards(node.libp2p, store, hash, [shard], [peer], options);
        for (const [s, p] of got) placed.set(s, p);
      }),
    );
    return { value: placed, keep: plan.mine };
  });
}

/**
 * This device keeps `to` (rebuilt from 4 shards) instead of `from`: a keeper whose shard
 * another keeper also has takes a missing one when no peer is free to take it.
 */
export function moveShard(
  node: FetchNode,
  store: ContentStore,
  plan: RepairPlan & { from: number; to: number },
  signal: AbortSignal,
): Promise<void> {
  const keep = [...plan.mine.filter((s) => s !== plan.from), plan.to];
  return withFourShards(node, store, plan, signal, async (sources) => {
    await rebuildShards(store, plan.manifest, sources, [plan.to], signal);
    return { value: undefined, keep };
  });
}
