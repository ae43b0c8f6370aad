/**
 * Keeping what this browser authored alive on other peers, and helping keep alive what it
 * keeps shards of for others: one scheduler (`Replicator`), one strategy per kind of item, and
 * a step that offers commons items authored here to the connected doorways (`keepOnDoorway`).
 * What this device keeps for others stays under the person's cap (`keepingPolicy`, the
 * replicate server's policy).
 *
 *   const replicator = new Replicator({ node, store, trust: () => trust, copies: 2 });
 *   replicator.addEventListener('change', (e) => show(e.detail.hash, e.detail.health));
 */
export type { ReplicaChange, ReplicaHealth, ReplicaHealthState, ReplicaKind } from './health.ts';
export { type KeepingOptions, keepingPolicy } from './keeping.ts';
export { Replicator, type ReplicatorEvents, type ReplicatorOptions } from './replicator.ts';
export type { ReplicatorNode } from './strategy.ts';
