/**
 * Doorways as keepers (issue 15): each commons item authored here is also offered whole to
 * every connected doorway, over the browser's WebSocket connection to it (no relay limits). A
 * doorway keeps it within its own quota and lists itself as a holder in the trust layer, so
 * the item outlives this browser even while no peer that holds it is online.
 *
 * A step beside the item's strategy, not a strategy: a doorway does not count toward `copies`
 * or `shards` (the person asked for that many peers), and it never sees an item that came from
 * peers (`kept`) or whose reach is narrower than commons — a doorway serves what it keeps to
 * anyone, over plain HTTP too. Every encoding goes whole (an rs-4-7 item too: the doorway
 * pulls and verifies all 7 shards), since one doorway holding a shard would rebuild nothing.
 */
import { peerIdFromString } from '@libp2p/peer-id';
import type { Reach } from '../../content/index.ts';
import { logger } from '../../wire/index.ts';
import { replicate } from '../replicate/index.ts';
import { census } from '../shards.ts';
import { type ReplicaKind, SHARDS, shortPeer } from './health.ts';
import type { ItemRound, StrategyDeps } from './strategy.ts';

const log = logger('replicator');

export class DoorwayKeeper {
  constructor(
    private readonly deps: StrategyDeps,
    /** Read before every offer: the person may turn keeping on doorways off at any time. */
    private readonly enabled: () => boolean,
  ) {}

  /** Whether doorways are asked to keep items of this kind and reach at all. */
  concerns(kind: ReplicaKind, reach: Reach): boolean {
    return kind !== 'kept' && reach === 'commons';
  }

  /** Whether new offers are made now (what doorways keep already is still checked when off). */
  get offering(): boolean {
    return this.enabled();
  }

  /**
   * Asks the recorded and the connected doorways whether they hold the whole item (one that
   * lost it, or is gone, drops out of `doorways`), then offers it to each connected doorway
   * that does not — unless keeping on doorways is off. Resolves `true` when an offer failed (a
   * doorway busy or gone mid-transfer, worth asking again soon) rather than being declined (a
   * doorway's quota or policy, asked again at the next check). Rejects only with the round's
   * abort reason.
   */
  async round(round: ItemRound): Promise<boolean> {
    if (!this.concerns(round.health.kind, round.item.reach)) return false;
    try {
      return await this.#keep(round);
    } catch (e) {
      if (round.signal.aborted) throw e;
      log.error('keeping %s on the doorways failed: %e', round.health.hash, e);
      return true;
    }
  }

  async #keep(round: ItemRound): Promise<boolean> {
    const { node, store } = this.deps;
    const { hash } = round.health;
    const connected = node.connectedDoorways();
    const asked = new Set([...(round.health.doorways ?? []), ...connected]);
    if (asked.size === 0) return false;
    const held = await census(node.libp2p, asked, hash, SHARDS, round.signal);
    const holding = [...asked].filter((p) => held.get(p) === 'all');
    round.set({ doorways: holding });
    const candidates = connected.filter((p) => !holding.includes(p));
    if (candidates.length === 0 || !this.enabled()) return false;
    round.set({ state: 'replicating', reason: undefined });
    const report = await replicate(
      node.libp2p,
      store,
      hash,
      candidates.map((p) => peerIdFromString(p)),
      {
        // Each doorway is asked; the default gate lets commons go and nothing else.
        copies: candidates.length,
        signal: round.signal,
        onProgress: (p) => round.set({ doorways: [...holding, ...p.stored] }),
      },
    );
    round.set({ doorways: [...holding, ...report.stored] });
    for (const miss of report.peers.filter((p) => p.state !== 'stored')) {
      log(
        'doorway %s did not keep %s (%s): %s',
        shortPeer(miss.peer),
        hash,
        miss.state,
        miss.reason ?? 'no reason given',
      );
    }
    return report.peers.some((p) => p.state === 'failed');
  }
}
