import type { Reach, StoredManifest } from '../content/index.ts';
import { CopyLocations } from './CopyLocations.tsx';
import {
  replicaHealthAlarm,
  replicaHealthDot,
  replicaHealthText,
  replicaHealthTitle,
} from './replicaHealthText.ts';
import { useReplicaHealth } from './useReplicaHealth.ts';

/**
 * Whether enough peers keep a copy of an item stored here, so it outlives this browser.
 * Nothing for items this browser does not spread (fetched from others, or replication off).
 */
export function ReplicaHealthChip({ hash, reach }: { hash: string; reach: Reach }) {
  const health = useReplicaHealth(hash);
  if (!health) return null;
  return (
    <span
      className="chip chip--replica"
      title={replicaHealthTitle(health)}
      data-testid="replica-health"
      data-state={health.state}
      data-stored={health.stored.length}
      data-doorway={health.doorways?.length ? 'kept' : undefined}
      data-tone={replicaHealthAlarm(health) ? 'alarm' : 'calm'}
    >
      <span className={`dot ${replicaHealthDot(health)}`} aria-hidden="true" />
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
        doorways={health?.doorways?.length ?? 0}
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
