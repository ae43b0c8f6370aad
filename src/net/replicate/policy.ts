/**
 * The two replication gates, as functions the caller hands to `replicate` (sender: may this
 * peer hold it?) and to `replicateServer` (receiver: may and will I hold it?), plus
 * ready-made ones over the reach policy and a `TrustView`.
 */
import type { PeerId } from '@libp2p/interface';
import type { Reach } from '../../content/index.ts';
import {
  agentKeyOfPeer,
  type Decision,
  isMyDevice,
  mayDeliver,
  mayReplicateTo,
  type ReachItem,
  type TrustView,
} from '../../reach/index.ts';
import type { PushPolicy } from '../shard/index.ts';
import type { ReplicaOffer } from './codec.ts';

/** A gate may answer a bare boolean; a `Decision` adds the reason shown in reports and logs. */
export type GateAnswer = Decision | boolean;

/** Sender side: whether `peer` may be offered the item at all. Nothing is sent when it says no. */
export type ReplicationGate = (peer: PeerId) => GateAnswer | Promise<GateAnswer>;

/** Receiver side: whether this device may and will hold what `from` offers. */
export type HoldGate = (offer: ReplicaOffer, from: PeerId) => GateAnswer | Promise<GateAnswer>;

export function toDecision(answer: GateAnswer, what: string): Decision {
  if (typeof answer !== 'boolean') return answer;
  return { allow: answer, reason: answer ? `${what} allowed it` : `${what} refused it` };
}

/**
 * Pushes go to peers allowed to hold the item: `mayReplicateTo` with the peer's agent key
 * (a peer whose key maps to no agent gets commons only).
 */
export function replicationGate(item: ReachItem, trust: TrustView): ReplicationGate {
  return (peer) => mayReplicateTo(item, agentKeyOfPeer(peer), trust);
}

/**
 * This device holds an offered item only if it could receive it: `mayDeliver` with itself as
 * the requester. An offer carries no invited list, so `invited` items are held only by the
 * owner's own devices; an item without an owner is held only when it is commons.
 */
export function holdGate(trust: TrustView): HoldGate {
  return (offer) => {
    if (offer.owner === null) {
      return offer.reach === 'commons'
        ? { allow: true, reason: 'commons: anyone may hold it' }
        : { allow: false, reason: `${offer.reach}: the offer names no owner` };
    }
    return mayDeliver({ reach: offer.reach, owner: offer.owner }, trust.me, trust);
  };
}

/**
 * Space a device gives to what others hand it (copies, shards, pushes): the same bound for
 * every way in. `spaceLeft` answers undefined when unknown (no estimate: only `maxBytes` holds).
 */
export interface SpaceBudget {
  /** Largest blob taken. */
  maxBytes: number;
  /** Bytes this device can still store. */
  spaceLeft: () => Promise<number | undefined>;
}

/** Why `size` bytes do not fit `budget` (reason words for reports), or undefined when they do. */
export async function overBudget(size: number, budget: SpaceBudget): Promise<string | undefined> {
  if (size > budget.maxBytes) {
    return `too large: ${size} bytes is over this peer's limit of ${budget.maxBytes} bytes for what others store here`;
  }
  const left = await budget.spaceLeft().catch(() => undefined);
  if (left !== undefined && size > left) {
    return `quota: ${size} bytes offered, ${Math.max(0, left)} bytes left on this peer`;
  }
  return undefined;
}

/** What the browser's storage manager says is left, when it says. */
export async function storageEstimate(): Promise<number | undefined> {
  const storage = (globalThis as { navigator?: { storage?: StorageManager } }).navigator?.storage;
  const est = await storage?.estimate?.();
  return est?.quota !== undefined && est.usage !== undefined ? est.quota - est.usage : undefined;
}

/**
 * Who may `Push` a blob into this device's store: only this person's other devices (a
 * stranger's bytes would otherwise be stored as commons and served onward), within the same
 * budget as copies kept for others. Everyone else offers over the replicate protocol.
 */
export function pushPolicy(trust: () => TrustView, budget: SpaceBudget): PushPolicy {
  return {
    from: (peer) => isMyDevice(trust(), peer),
    refuse: (_peer, _hash, size) => overBudget(size, budget),
  };
}

/** The default on both sides when the caller gives no gate: commons moves, nothing else does. */
export function commonsOnly(reach: Reach, side: 'send' | 'hold'): Decision {
  if (reach === 'commons') return { allow: true, reason: 'commons: anyone may hold it' };
  const option =
    side === 'send' ? 'options.gate (e.g. replicationGate)' : 'policy.mayHold (e.g. holdGate)';
  return {
    allow: false,
    reason: `${reach}: only commons replicates without a trust check; give ${option}`,
  };
}
