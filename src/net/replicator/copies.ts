/**
 * `copies`: an item authored here (none/chunked) is offered whole (`replicate`,
 * `/elohim/replicate/1.0.0`) to direct peers until `copies` of them confirmed storing it.
 */
import type { PeerId } from '@libp2p/interface';
import { peerIdFromString } from '@libp2p/peer-id';
import { isMyDevice } from '../../reach/index.ts';
import { replicate, replicationGate } from '../replicate/index.ts';
import { census } from '../shards.ts';
import { MAX_AWAY, SHARDS, shortPeer } from './health.ts';
import {
  authoredPeerChange,
  type ItemRound,
  type Outcome,
  type ReplicaStrategy,
  type StrategyDeps,
} from './strategy.ts';

export class CopiesStrategy implements ReplicaStrategy {
  readonly kind = 'copies';
  readonly perShard = false;
  readonly afterPeerChange = authoredPeerChange;

  constructor(
    private readonly deps: StrategyDeps,
    /** Peers that should hold a whole copy. */
    readonly wanted: number,
  ) {}

  /** Keeps the copies that are still there, offers more to direct peers. */
  async round(round: ItemRound): Promise<Outcome> {
    const { node, store } = this.deps;
    const { hash, wanted } = round.health;
    const online = node.directPeers();
    const before = await this.#stillHolding(round, new Set(online));
    if (before.length >= wanted) return { done: true };
    // The person's own devices first: a copy there is theirs, in their library.
    const mine = (p: PeerId) => isMyDevice(round.trust, p);
    const candidates: PeerId[] = online
      .filter((p) => !before.includes(p))
      .map((p) => peerIdFromString(p))
      .sort((a, b) => Number(mine(b)) - Number(mine(a)));
    if (candidates.length === 0) {
      return {
        done: false,
        next: 'check',
        reason:
          online.length === 0 ? 'no other peer is online' : 'every peer online holds it already',
      };
    }
    round.set({ state: 'replicating', reason: undefined });
    const report = await replicate(node.libp2p, store, hash, candidates, {
      copies: wanted - before.length,
      gate: replicationGate(round.item, round.trust),
      signal: round.signal,
      // Each confirmation shows at once, not when the whole round ends.
      onProgress: (p) => round.set({ stored: [...before, ...p.stored] }),
    });
    round.set({
      stored: [...before, ...report.stored],
      // New copies make good what was lost first.
      ...(round.health.lost ? { lost: Math.max(0, round.health.lost - report.stored.length) } : {}),
    });
    if (round.health.stored.length >= wanted) return { done: true };
    const misses = report.peers.filter((p) => p.state !== 'stored');
    return {
      done: false,
      reason:
        misses
          .slice(0, 2)
          .map((p) => `${shortPeer(p.peer)} ${p.state}: ${p.reason ?? 'no reason given'}`)
          .join('; ') || 'too few peers online',
    };
  }

  /**
   * The keepers that still hold the whole item: asked now, with those that were away at the
   * last check and are `online` again (one still away is not dialled). One that answers
   * without it lost it; one that does not answer is away.
   */
  async #stillHolding(round: ItemRound, online: ReadonlySet<string>): Promise<string[]> {
    const { stored, hash } = round.health;
    const away = (round.health.away ?? []).map((a) => a.peer);
    const asked = [...new Set([...stored, ...away.filter((p) => online.has(p))])];
    if (asked.length === 0) return [];
    const held = await census(this.deps.node.libp2p, asked, hash, SHARDS, round.signal);
    const still = asked.filter((p) => held.get(p) === 'all');
    const lost = asked.filter((p) => held.has(p) && held.get(p) !== 'all').length;
    // A keeper may be both stored and away (offered again while it did not answer), and one
    // not direct may still answer through the relay: hence the Set and the filter.
    const stillAway = [
      ...new Set([...away.filter((p) => !online.has(p)), ...asked.filter((p) => !held.has(p))]),
    ]
      .filter((p) => !still.includes(p))
      .slice(-MAX_AWAY)
      .map((peer) => ({ peer }));
    round.set({
      stored: still,
      away: stillAway.length > 0 ? stillAway : undefined,
      ...(lost > 0 ? { lost: (round.health.lost ?? 0) + lost } : {}),
    });
    return still;
  }
}
