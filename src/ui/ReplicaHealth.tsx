import type { Reach, StoredManifest } from '../content/index.ts';
import type { ReplicaHealth } from '../net/index.ts';
import { CopyLocations } from './CopyLocations.tsx';
import { useReplicaHealth } from './useReplicaHealth.ts';

/**
 * "2 of 2 copies on peers", "1 of 2 copies on peers — waiting for peers", "7 of 7 shards on
 * distinct peers", "private: stays on this device"; for shards kept for others, "7 of 7
 * shards online", "4 of 7 shards online — rebuilding…".
 */
export function replicaHealthText(health: ReplicaHealth, reach: Reach): string {
  if (health.state === 'local') return `${reach}: stays on this device`;
  const placed = (health.shards ?? []).filter((p) => p !== null).length;
  const count =
    health.kind === 'copies'
      ? `${health.stored.length} of ${health.wanted} ${health.wanted === 1 ? 'copy' : 'copies'} on peers`
      : health.kind === 'shards'
        ? `${placed} of ${health.wanted} shards on distinct peers`
        : `${placed} of ${health.wanted} shards online`;
  if (health.state === 'replicating') return `${count} — copying…`;
  if (health.state === 'repairing') return `${count} — rebuilding the missing shards…`;
  if (health.state === 'waiting') {
    return health.kind === 'kept' ? `${count} — short` : `${count} — waiting for peers`;
  }
  return count;
}

const DOT: Record<ReplicaHealth['state'], string> = {
  replicated: 'dot--ok',
  replicating: 'dot--wait',
  repairing: 'dot--wait',
  waiting: 'dot--wait',
  local: '',
};

/**
 * Whether enough peers keep a copy of an item stored here, so it outlives this browser.
 * Nothing for items this browser does not spread (fetched from others, or replication off).
 */
export function ReplicaHealthChip({ hash, reach }: { hash: string; reach: Reach }) {
  const health = useReplicaHealth(hash);
  if (!health) return null;
  return (
    <span
      className="chip"
      title={health.reason ?? 'Peers that keep a copy serve it while this browser is away'}
      data-testid="replica-health"
      data-state={health.state}
      data-stored={health.stored.length}
    >
      <span className={`dot ${DOT[health.state]}`} aria-hidden="true" />
      <span className="visually-hidden">{health.kind === 'copies' ? 'Copies: ' : 'Shards: '}</span>
      {replicaHealthText(health, reach)}
    </span>
  );
}

/** The details' "Where copies live": this browser, the peers that confirmed a copy, and why any are missing. */
export function ReplicaLocations({ item }: { item: StoredManifest }) {
  const health = useReplicaHealth(item.blob_hash);
  return (
    <>
      {health && (
        <p data-testid="details-replica-health" data-state={health.state}>
          {replicaHealthText(health, item.reach)}
          {health.reason && health.state !== 'replicated' && (
            <span className="muted small"> ({health.reason})</span>
          )}
        </p>
      )}
      {/* Replicas are only ever pulled over direct connections. */}
      <CopyLocations
        item={item}
        holders={
          health?.kind === 'shards'
            ? health.shards?.flatMap((peerId, shard) =>
                peerId === null ? [] : [{ peerId, direct: true, shard }],
              )
            : health?.stored.map((peerId) => ({ peerId, direct: true }))
        }
      />
    </>
  );
}
