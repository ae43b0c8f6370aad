/**
 * What the replicator reports about each item it looks after (shown by the UI, mirrored to the
 * other tabs), and the pieces every strategy shares.
 */
import type { ContentHash } from '../../content/index.ts';

/**
 * - `local`: no peer this device knows may hold it (e.g. private with no other own device).
 * - `replicating`: an offer round is running. `replicated`: all wanted copies or shards are
 *   on live peers. `repairing`: this device is rebuilding missing shards.
 * - `waiting`: short; retried after a pause, and whenever peers come or go.
 */
export type ReplicaHealthState = 'local' | 'replicating' | 'replicated' | 'waiting' | 'repairing';

/**
 * `copies`: whole copies of an item authored here; `shards`: the 7 shards of an rs-4-7 item
 * authored here, one per peer; `kept`: an item this device keeps shards of for others.
 */
export type ReplicaKind = 'copies' | 'shards' | 'kept';

export interface ReplicaHealth {
  hash: ContentHash;
  kind: ReplicaKind;
  /** Copies asked for, or 7 (shards). */
  wanted: number;
  /**
   * `copies`: peers that hold a copy; `shards`: peers that keep one of its shards; `kept`:
   * the other live peers holding some of it, at the last check.
   */
  stored: string[];
  /**
   * `shards`: the peer keeping each shard (null: none yet); `kept`: for each shard, a live
   * holder (`me` for this device), or null when no live holder has it.
   */
  shards?: (string | null)[];
  /** `kept`: the shards this device keeps. */
  mine?: number[];
  /**
   * Authored commons items: the doorways that confirmed holding a whole copy at the last check
   * (asked with `Holds` like any holder). They come in addition to `stored`, not among them:
   * an item a doorway keeps outlives this browser even while too few peers hold it.
   */
  doorways?: string[];
  state: ReplicaHealthState;
  /** Why it is short or stays here, in words for people. */
  reason?: string;
  /**
   * Authored items: copies or shards a peer had confirmed and then said it no longer holds
   * (asked and answered: not merely offline) and that were not made again elsewhere yet; 0
   * or absent when none. The one shortfall worth an alarm: few peers online is not one.
   */
  lost?: number;
  /**
   * Authored items: keepers that held a copy (or, `shards`, the shard numbered `shard`) and did
   * not answer at the last check (offline, a page reloading). Not counted in `stored`, so that
   * copies or shards are placed elsewhere meanwhile, but asked again once connected: back with
   * it, it counts again; back without it (and not placed again elsewhere), it was lost.
   */
  away?: AwayKeeper[];
}

export interface AwayKeeper {
  peer: string;
  shard?: number;
}

/** Keepers remembered while away, per item: more than the copies anyone asks for, and 7 shards. */
export const MAX_AWAY = 8;

/** The `detail` of a replicator's `change` event: `health` is undefined once the item was removed. */
export interface ReplicaChange {
  hash: ContentHash;
  health: ReplicaHealth | undefined;
}

/** The shards of an rs-4-7 item. */
export const SHARDS = 7;

export function shortPeer(peer: string): string {
  return `…${peer.slice(-6)}`;
}

/** A copy the caller may keep: later changes to the replicator's own record do not reach it. */
export function copyHealth(h: ReplicaHealth): ReplicaHealth {
  return {
    ...h,
    stored: [...h.stored],
    ...(h.shards ? { shards: [...h.shards] } : {}),
    ...(h.mine ? { mine: [...h.mine] } : {}),
    ...(h.doorways ? { doorways: [...h.doorways] } : {}),
    ...(h.away ? { away: h.away.map((a) => ({ ...a })) } : {}),
  };
}
