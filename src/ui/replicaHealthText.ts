/** The words and colour of an item's replica health, as the library row and details show them. */
import type { Reach } from '../content/index.ts';
import type { ReplicaHealth } from '../net/index.ts';

/** Whether a doorway confirmed keeping a whole copy (at the last check). */
export function keptOnDoorway(health: ReplicaHealth): boolean {
  return (health.doorways?.length ?? 0) > 0;
}

/**
 * "2 of 2 copies on peers", "1 of 2 copies on peers — waiting for peers", "7 of 7 shards on
 * distinct peers", "private: stays on this device"; for shards kept for others, "7 of 7
 * shards online", "4 of 7 shards online — rebuilding…". A commons item a doorway keeps leads
 * with "Kept on the doorway · ": it outlives this browser, so too few peers is no longer
 * something to wait for.
 */
export function replicaHealthText(health: ReplicaHealth, reach: Reach): string {
  if (health.state === 'local') return `${reach}: stays on this device`;
  const onDoorway = keptOnDoorway(health) ? 'Kept on the doorway · ' : '';
  const placed = (health.shards ?? []).filter((p) => p !== null).length;
  const count =
    health.kind === 'copies'
      ? `${health.stored.length} of ${health.wanted} ${health.wanted === 1 ? 'copy' : 'copies'} on peers`
      : health.kind === 'shards'
        ? `${placed} of ${health.wanted} shards on distinct peers`
        : `${placed} of ${health.wanted} shards online`;
  if (health.state === 'replicating') return `${onDoorway}${count} — copying…`;
  if (health.state === 'repairing') return `${count} — rebuilding the missing shards…`;
  if (health.state === 'waiting' && !onDoorway) {
    return health.kind === 'kept' ? `${count} — short` : `${count} — waiting for peers`;
  }
  return `${onDoorway}${count}`;
}

const DOT: Record<ReplicaHealth['state'], string> = {
  replicated: 'dot--ok',
  replicating: 'dot--wait',
  repairing: 'dot--wait',
  waiting: 'dot--wait',
  local: '',
};

/** The status dot's class: kept on a doorway, an item short of peers is safe, not amber. */
export function replicaHealthDot(health: ReplicaHealth): string {
  return keptOnDoorway(health) && health.state === 'waiting' ? DOT.replicated : DOT[health.state];
}

/** The chip's tooltip: who serves it while this browser is away, and why it is short. */
export function replicaHealthTitle(health: ReplicaHealth): string {
  const why = keptOnDoorway(health)
    ? 'The doorway keeps a copy and serves it while this browser is away'
    : 'Peers that keep a copy serve it while this browser is away';
  return health.reason ? `${why}. ${health.reason}` : why;
}
