/**
 * `kept`: an item this device keeps shards of without the blob. Its holders together keep all
 * 7 shards online: when fewer are (holders left and its author is away), one of them — the one
 * whose PeerId sorts first — fetches enough shards to rebuild the missing ones, places each on
 * a peer that holds nothing of it, and drops what it fetched. With no such peer, a keeper whose
 * shard another keeper also has takes a missing shard instead.
 */
import type { PeerId } from '@libp2p/interface';
import type { HolderFinder } from '../fetch.ts';
import { replicationGate } from '../replicate/index.ts';
import { type Census, census, coverage, moveShard, repairShards } from '../shards.ts';
import { SHARDS, shortPeer } from './health.ts';
import type { ItemRound, Outcome, ReplicaStrategy, StrategyDeps } from './strategy.ts';

/** Peers coming and going settle for this long before kept items are checked again. */
const SETTLE_MS = 1_500;

export interface KeptOptions {
  /** Rebuild when fewer than this many of the 7 shards are online. */
  repairBelow: number;
  /** Holders beyond the direct peers (e.g. the trust layer's). */
  finder: HolderFinder | undefined;
}

export class KeptShardsStrategy implements ReplicaStrategy {
  readonly kind = 'kept';
  readonly wanted = SHARDS;
  readonly perShard = true;

  constructor(
    private readonly deps: StrategyDeps,
    private readonly options: KeptOptions,
  ) {}

  /** Every holder counts, so any change is worth a look once it settles. */
  afterPeerChange(): number {
    return SETTLE_MS;
  }

  /**
   * Counts the shards online among all holders; when too few are, the first holder by PeerId
   * rebuilds the missing ones and places them on peers holding none.
   */
  async round(round: ItemRound): Promise<Outcome> {
    const { node, store } = this.deps;
    const { signal } = round;
    const hash = round.health.hash;
    const holding = await store.holding(hash);
    if (!holding) {
      round.untrack();
      return { done: true };
    }
    const mine = holding.shards.map((s) => s.index);
    const manifest = holding.manifest;
    const peers = new Set(node.directPeers());
    if (this.options.finder) {
      for (const p of await this.options.finder.findHolders(hash, { signal }).catch(() => [])) {
        peers.add(p.toString());
      }
    }
    const held = await census(node.libp2p, peers, hash, manifest.total_shards, signal);
    const online = coverage(manifest.total_shards, held, mine);
    const holders = [...held].filter(([, h]) => h !== null).map(([p]) => p);
    round.set({ stored: holders, shards: online, mine });
    const up = online.filter((p) => p !== null).length;
    if (up >= this.options.repairBelow || up === manifest.total_shards) return { done: true };
    if (up < manifest.data_shards) {
      return {
        done: false,
        next: 'check',
        reason: `only ${up} of ${manifest.total_shards} shards are online: it cannot be rebuilt until more of its holders return`,
      };
    }
    const me = (node.libp2p as { peerId?: PeerId }).peerId?.toString() ?? '';
    const missing = online.flatMap((p, s) => (p === null ? [s] : []));
    const empty = [...held]
      .filter(([, h]) => h === null)
      .map(([p]) => p)
      .sort();
    const repairNode = { libp2p: node.libp2p, isDirectPeer: () => true };
    const plan = { manifest, mine, online, held };
    if (empty.length === 0) {
      // Nobody is free to take a missing shard, but a shard two keepers have is one too
      // many: all its keepers but the first by PeerId take missing shards instead, in order.
      const extras = duplicateKeepers(manifest.total_shards, held, mine, me);
      const mineAt = extras.findIndex((x) => x.peer === me);
      const to = missing[mineAt];
      if (mineAt === -1 || to === undefined) {
        return {
          done: false,
          next: 'check',
          reason: `${up} of ${manifest.total_shards} shards online; no peer that holds none of it is online to take the others`,
        };
      }
      round.set({ state: 'repairing', reason: undefined });
      const from = (extras[mineAt] as { shard: number }).shard;
      await moveShard(repairNode, store, { ...plan, from, to }, signal);
      return { done: false, next: 'now', reason: 'checking the rebuilt shard' };
    }
    const repairer = [me, ...holders].sort()[0] as string;
    if (repairer !== me) {
      return {
        done: false,
        next: 'check',
        reason: `${up} of ${manifest.total_shards} shards online; ${shortPeer(repairer)} rebuilds the others`,
      };
    }
    round.set({ state: 'repairing', reason: undefined });
    await repairShards(
      repairNode,
      store,
      { ...plan, targets: missing.slice(0, empty.length), candidates: empty },
      { gate: replicationGate(round.item, round.trust), signal },
    );
    // Count again now: the new holders should answer.
    return { done: false, next: 'now', reason: 'checking the rebuilt shards' };
  }
}

/**
 * Keepers of a shard that another keeper with a smaller PeerId also has (this device among
 * them, as `me`), sorted by PeerId: each is one copy too many.
 */
function duplicateKeepers(
  totalShards: number,
  held: Census,
  mine: readonly number[],
  me: string,
): { peer: string; shard: number }[] {
  const extras: { peer: string; shard: number }[] = [];
  for (let shard = 0; shard < totalShards; shard++) {
    const keepers = [...held]
      .filter(([, h]) => Array.isArray(h) && h.includes(shard))
      .map(([p]) => p);
    if (mine.includes(shard)) keepers.push(me);
    for (const peer of keepers.sort().slice(1)) extras.push({ peer, shard });
  }
  return extras.sort((a, b) => (a.peer < b.peer ? -1 : a.peer > b.peer ? 1 : a.shard - b.shard));
}
