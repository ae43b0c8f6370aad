import type { FamilySnapshot, GrantStatus, KeyStatus } from '../family/index.ts';
import type { AgentKey } from '../reach/index.ts';

const GRANT_LABELS: Record<GrantStatus, string> = {
  shared: 'has your family key',
  queued: 'family key waits for the doorway',
  pending: 'family key not shared yet (tried again shortly)',
};

const KEY_LABELS: Record<KeyStatus, string> = {
  received: 'you hold their family key',
  waiting: 'waiting for their family key',
  unreadable: 'their family key could not be opened',
};

interface Props {
  snapshot: FamilySnapshot | undefined;
  /** Whether the trust layer answers now: while it does not, nobody is being asked. */
  reachable: boolean;
  nameOf: (agent: AgentKey) => string;
}

/**
 * The family cluster: the people I named family (who receive "Only my family" items, sealed
 * with my family key) and whether each holds the key; the families I belong to and whether I
 * hold theirs.
 */
export function FamilyCluster({ snapshot, reachable, nameOf }: Props) {
  return (
    <div
      className="family"
      data-testid="family-cluster"
      data-status={snapshot?.status ?? 'starting'}
    >
      <h3 className="small">Family</h3>
      {(!snapshot || snapshot.status === 'starting') && reachable ? (
        <p className="muted small" aria-busy="true">
          Looking up your family…
        </p>
      ) : !snapshot ||
        snapshot.status === 'starting' ||
        (snapshot.status === 'offline' && snapshot.syncedAt === undefined) ? (
        // Offline from the start, the cluster may never leave 'starting': say so rather than
        // wait in silence ("Asking…" forever, issue 20).
        <p className="muted small" role="status" data-testid="family-unknown">
          Your family shows here once you are connected
          {snapshot?.error ? ` (${snapshot.error})` : ''}.
        </p>
      ) : (
        <>
          {snapshot.members.length === 0 ? (
            <p className="muted small">
              No family yet: tick “Family” when you add a contact, or press “Make family” beside
              one. Only they receive what you store for your family.
            </p>
          ) : (
            <ul className="family__list" aria-label="Your family">
              {snapshot.members.map((m) => (
                <li
                  key={m.agent}
                  data-testid="family-member"
                  data-agent={m.agent}
                  data-key-status={m.key}
                >
                  {nameOf(m.agent)} <span className="muted small">— {GRANT_LABELS[m.key]}</span>
                </li>
              ))}
            </ul>
          )}
          {snapshot.memberOf.length > 0 && (
            <ul className="family__list" aria-label="Families you belong to">
              {snapshot.memberOf.map((f) => (
                <li
                  key={f.owner}
                  data-testid="family-of"
                  data-owner={f.owner}
                  data-key-status={f.key}
                  title={f.error}
                >
                  {nameOf(f.owner)} names you family{' '}
                  <span className="muted small">
                    ({f.members.length} {f.members.length === 1 ? 'member' : 'members'}) —{' '}
                    {KEY_LABELS[f.key]}
                  </span>
                </li>
              ))}
            </ul>
          )}
          {snapshot.status === 'offline' && snapshot.error && (
            <p className="muted small" role="status">
              Family not up to date: {snapshot.error}
            </p>
          )}
        </>
      )}
    </div>
  );
}
