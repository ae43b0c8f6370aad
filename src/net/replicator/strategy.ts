/**
 * The seam between the scheduler (when an item's round runs) and a strategy (what a round does
 * for one kind of item). The scheduler owns timers, backoff, peer-change triggers and the
 * periodic re-check; a strategy asks holders what they hold and makes what is missing.
 */
import type { ContentStore } from '../../content/index.ts';
import type { ReachItem, TrustView } from '../../reach/index.ts';
import type { TypedEventTarget } from '../../wire/index.ts';
import type { Libp2pDialLike } from '../shard/index.ts';
import type { ReplicaHealth, ReplicaKind } from './health.ts';

/** What the replicator needs of the node (a `PeerNode` is one). */
export interface ReplicatorNode
  extends Pick<
    TypedEventTarget<{ change: CustomEvent<void> }>,
    'addEventListener' | 'removeEventListener'
  > {
  readonly libp2p: Libp2pDialLike;
  /** Peers other than doorways with a direct connection now; `change` fires when they may differ. */
  directPeers(): string[];
  /**
   * Doorways with an open connection now (WebSockets: no relay limits), which keep whole copies
   * of commons items offered to them; `change` fires when they may differ.
   */
  connectedDoorways(): string[];
}

/** What every strategy works with: the node to reach peers through and the local store. */
export interface StrategyDeps {
  node: ReplicatorNode;
  store: ContentStore;
}

/**
 * A round's verdict: done (checked again later), or short with the reason, to be tried again
 * with backoff (default), at the next check, or at once.
 */
export type Outcome =
  | { done: true }
  | { done: false; reason: string; next?: 'backoff' | 'check' | 'now' };

/** One item's round as a strategy sees it. */
export interface ItemRound {
  /** The item's health now (a new object after each `set`). */
  readonly health: ReplicaHealth;
  readonly item: ReachItem;
  /** Read once for the round: who this device is and whom it trusts. */
  readonly trust: TrustView;
  /** Aborted when the replicator closes or the item is removed. */
  readonly signal: AbortSignal;
  /** Updates the item's health; a `change` event fires when it differs. */
  set(patch: Partial<ReplicaHealth>): void;
  /** Stops looking after the item: the store no longer holds it. */
  untrack(): void;
}

/** What peers did since the last node change. */
export interface PeerChange {
  /** A direct peer that was not there before. */
  arrived: boolean;
  /** Direct peers that are gone. */
  left: readonly string[];
}

export interface ReplicaStrategy {
  readonly kind: ReplicaKind;
  /** Copies or shards wanted. */
  readonly wanted: number;
  /** The health lists a holder per shard (`shards`), starting empty. */
  readonly perShard: boolean;
  /**
   * After peers came or went: how long to let them settle before checking an idle item again
   * (ms), or undefined when the change does not concern it.
   */
  afterPeerChange(health: ReplicaHealth, change: PeerChange): number | undefined;
  round(round: ItemRound): Promise<Outcome>;
}

/**
 * Authored items: a new peer may take what the others declined; a peer gone may have held a
 * copy or shard. Either is worth a look at once.
 */
export function authoredPeerChange(health: ReplicaHealth, change: PeerChange): number | undefined {
  const lost = change.left.some((p) => health.stored.includes(p));
  return lost || (change.arrived && health.state !== 'replicated') ? 0 : undefined;
}
