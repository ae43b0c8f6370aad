/**
 * `shards`: an rs-4-7 item authored here is spread one shard per peer: its 7 shards on 7
 * distinct peers (any 4 rebuild it, at 7/4 of its size instead of N whole copies). A shard
 * whose peer left, or no longer keeps it, goes elsewhere.
 */
import { replicationGate } from '../replicate/index.ts';
import { census, placeShards } from '../shards.ts';
import { MAX_AWAY, SHARDS } from './health.ts';
import {
  authoredPeerChange,
  type ItemRound,
  type Outcome,
  type ReplicaStrategy,
  type StrategyDeps,
} from './strategy.ts';

export class AuthoredShardsStrategy implements ReplicaStrategy {
  readonly kind = 'shards';
  readonly wanted = SHARDS;
  readonly perShard = true;
  readonly afterPeerChange = authoredPeerChange;

  constructor(private readonly deps: StrategyDeps) {}

  async round(round: ItemRound): Promise<Outcome> {
    const { node, store } = this.deps;
    const { hash } = round.health;
    const shards = [...(round.health.shards ?? [])];
    // Keepers away at the last check are asked again once connected (never dialled while away).
    const connected = new Set(node.directPeers());
    const returning = (round.health.away ?? []).filter((a) => connected.has(a.peer));
    const stillAway = (round.health.away ?? []).filter((a) => !connected.has(a.peer));
    const held = await census(
      node.libp2p,
      [...shards.filter((p): p is string => p !== null), ...returning.map((a) => a.peer)],
      hash,
      SHARDS,
      round.signal,
    );
    const keeps = (peer: string, shard: number) => {
      const h = held.get(peer);
      return h === 'all' || (h?.includes(shard) ?? false);
    };
    let lost = 0;
    shards.forEach((peer, s) => {
      if (peer === null || keeps(peer, s)) return;
      // Its keeper answered without it: lost. Not answering (offline) is not a loss: it is away.
      if (held.has(peer)) lost++;
      else stillAway.push({ peer, shard: s });
      shards[s] = null;
    });
    for (const a of returning) {
      const s = a.shard;
      if (s === undefined) continue;
      if (!held.has(a.peer)) stillAway.push(a);
      else if (keeps(a.peer, s)) {
        // Back with its shard: it keeps it again, unless the shard went elsewhere meanwhile.
        if (shards[s] === null) shards[s] = a.peer;
      } else if (shards[s] === null) lost++;
    }
    round.set({
      away: stillAway.length > 0 ? stillAway.slice(-MAX_AWAY) : undefined,
      ...(lost > 0 ? { lost: (round.health.lost ?? 0) + lost } : {}),
    });
    setShards(round, shards);
    const missing = shards.flatMap((p, s) => (p === null ? [s] : []));
    if (missing.length === 0) return { done: true };
    const online = node.directPeers();
    const candidates = online.filter((p) => !shards.includes(p));
    if (candidates.length === 0) {
      return { done: false, next: 'check', reason: fewPeers(missing.length, online.length) };
    }
    round.set({ state: 'replicating', reason: undefined });
    await placeShards(node.libp2p, store, hash, missing, candidates, {
      gate: replicationGate(round.item, round.trust),
      signal: round.signal,
      onPlaced: (shard, peer) => {
        shards[shard] = peer;
        setShards(round, shards);
        // A shard placed again makes good one that was lost.
        if (round.health.lost) round.set({ lost: round.health.lost - 1 });
      },
    });
    const left = shards.filter((p) => p === null).length;
    if (left === 0) return { done: true };
    return { done: false, reason: fewPeers(left, online.length) };
  }
}

function setShards(round: ItemRound, shards: (string | null)[]): void {
  round.set({ shards: [...shards], stored: shards.filter((p): p is string => p !== null) });
}

function fewPeers(missing: number, online: number): string {
  const placed = SHARDS - missing;
  const risk =
    placed < 4 ? `; until 4 peers keep a shard it cannot be rebuilt without this browser` : '';
  return `${missing} shard(s) wait for peers that hold nothing of it (${online} peer(s) online)${risk}`;
}
