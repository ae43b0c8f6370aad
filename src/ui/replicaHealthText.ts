/**
 * The words and colour of an item's replica health, as the library row and details show them.
 * Calm by default: few peers online is how a small network is, not a fault, so it reads in
 * neutral grey with what happens next. Amber only when a copy was lost (a peer that had
 * confirmed it answered that it no longer holds it) and has not been made again.
 */
import type { Reach } from '../content/index.ts';
import type { ReplicaHealth } from '../net/index.ts';

/** Whether a doorway confirmed keeping a whole copy (at the last check). */
export function keptOnDoorway(health: ReplicaHealth): boolean {
  return (health.doorways?.length ?? 0) > 0;
}

/** Copies or shards lost and not made again yet. */
function lost(health: ReplicaHealth): number {
  return health.state === 'replicated' ? 0 : (health.lost ?? 0);
}

function plural(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** "2 of 2 copies on peers", "7 of 7 shards on distinct peers", "5 of 7 shards online". */
function countText(health: ReplicaHealth): string {
  const placed = (health.shards ?? []).filter((p) => p !== null).length;
  if (health.kind === 'copies') {
    return `${health.stored.length} of ${plural(health.wanted, 'copy', 'copies')} on peers`;
  }
  return health.kind === 'shards'
    ? `${placed} of ${health.wanted} shards on distinct peers`
    : `${placed} of ${health.wanted} shards online`;
}

/** Waiting for peers, said calmly: what there is and what happens next. */
function fewPeersText(health: ReplicaHealth): string {
  if (health.kind === 'kept') return countText(health);
  const placed =
    health.kind === 'copies'
      ? health.stored.length
      : (health.shards ?? []).filter((p) => p !== null).length;
  if (placed === 0) {
    return health.kind === 'copies'
      ? 'Only on this device for now — copied when a peer can take it'
      : 'Only on this device for now — its shards go out when peers can take them';
  }
  return health.kind === 'copies'
    ? `${plural(placed, 'copy', 'copies')} on ${placed === 1 ? 'a peer' : 'peers'} — more when others come online`
    : `${placed} of ${health.wanted} shards on peers — more when others come online`;
}

/**
 * "2 of 2 copies on peers"; short of peers, calmly: "1 copy on a peer — more when others come
 * online", "Only on this device for now — copied when a peer can take it"; a loss: "A copy
 * was lost — 1 of 2 copies on peers"; "7 of 7 shards on distinct peers", "private: stays on
 * your devices"; for shards kept for others, "5 of 7 shards online", "4 of 7 shards online —
 * rebuilding…". A commons item a doorway keeps leads with "Kept on the doorway · ": it
 * outlives this browser, so too few peers is no longer something to wait for.
 */
export function replicaHealthText(health: ReplicaHealth, reach: Reach): string {
  if (health.state === 'local') return `${reach}: stays on your devices`;
  const onDoorway = keptOnDoorway(health) ? 'Kept on the doorway · ' : '';
  const count = countText(health);
  const gone = lost(health);
  if (gone > 0) {
    const what =
      health.kind === 'copies'
        ? gone === 1
          ? 'A copy was lost'
          : `${gone} copies were lost`
        : `${plural(gone, 'shard was', 'shards were')} lost`;
    return `${onDoorway}${what} — ${count}`;
  }
  if (health.state === 'replicating') return `${onDoorway}${count} — copying…`;
  if (health.state === 'repairing') return `${count} — rebuilding the missing shards…`;
  if (health.state === 'waiting' && !onDoorway) return fewPeersText(health);
  return `${onDoorway}${count}`;
}

/**
 * The status dot's class: green when all copies are there (or a doorway keeps one), amber
 * only for a loss not made good, neutral grey otherwise (copying, or waiting for peers).
 */
export function replicaHealthDot(health: ReplicaHealth): string {
  if (health.state === 'local') return '';
  if (lost(health) > 0 && !keptOnDoorway(health)) return 'dot--wait';
  if (health.state === 'replicated' || keptOnDoorway(health)) return 'dot--ok';
  return '';
}

/** Whether the health is worth the person's attention (a loss), for an accessible alert. */
export function replicaHealthAlarm(health: ReplicaHealth): boolean {
  return replicaHealthDot(health) === 'dot--wait';
}

/** The chip's tooltip: who serves it while this browser is away, and why it is short. */
export function replicaHealthTitle(health: ReplicaHealth): string {
  const why = keptOnDoorway(health)
    ? 'The doorway keeps a copy and serves it while this browser is away'
    : 'Peers that keep a copy serve it while this browser is away';
  return health.reason ? `${why}. ${health.reason}` : why;
}
