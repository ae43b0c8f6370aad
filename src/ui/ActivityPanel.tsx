import { peerIdFromString } from '@libp2p/peer-id';
import { useEffect, useRef, useState } from 'react';
import { agentKeyOfPeer } from '../reach/index.ts';
import type { LibraryItem, StoredNotice, SyncRuntime } from '../sync/index.ts';
import type { TrustClient } from '../trust/index.ts';
import { listen } from '../wire/index.ts';
import {
  type ActivityEntry,
  noticeEntries,
  ownLibraryEntries,
  pushEntries,
  SHOWN,
} from './activity.ts';
import { useContacts } from './useContacts.ts';
import { syncReady } from './useSync.ts';

const KIND_HELP: Record<string, string> = {
  Local: 'made here',
  New: 'just received',
  Backfill: 'caught up from history',
  Outlier: 'arrived after a gap (the gap is being filled)',
};

/** The agent behind a PeerId string (its Ed25519 key), if it parses as one. */
function agentOf(peerId: string): string | undefined {
  try {
    return agentKeyOfPeer(peerIdFromString(peerId));
  } catch {
    return undefined;
  }
}

/**
 * The feed and the raw events it was made from, kept current. `nameOf` is read at each event
 * (contacts load later than the feed starts).
 */
function useActivity(nameOf: { current: (agent: string) => string | undefined }) {
  const [entries, setEntries] = useState<ActivityEntry[]>([]);
  const [events, setEvents] = useState<StoredNotice[]>([]);
  useEffect(() => {
    let stops: (() => void)[] = [];
    let live = true;
    const follow = (sync: SyncRuntime) => {
      const { libraries, repo } = sync;
      const ownIds = new Set<string>([libraries.shared.documentId, libraries.own.documentId]);
      // What was there when the page opened is not news.
      let known = libraries.entries();
      const seen = new Map<string, Record<string, LibraryItem>>();
      const onLibrary = () => {
        const now = libraries.entries();
        const added = ownLibraryEntries(known, now, Date.now());
        known = now;
        if (added.length > 0) setEntries((feed) => pushEntries(feed, added));
      };
      const onNotice = (notice: StoredNotice) => {
        setEvents((all) => [notice, ...all].slice(0, SHOWN));
        const handle = repo.handles[notice.event.doc_id as keyof typeof repo.handles];
        const doc: unknown = handle?.isReady() ? handle.doc() : undefined;
        const made = noticeEntries(
          notice,
          {
            doc,
            mine: (id) => ownIds.has(id),
            entry: (hash) => libraries.entry(hash),
            nameOfPeer: (peer) => {
              const agent = agentOf(peer);
              return agent ? nameOf.current(agent) : undefined;
            },
            nameOfAgent: (agent) => nameOf.current(agent),
            seen: (id) => seen.get(id),
          },
          Date.now(),
        );
        const items = (doc as { items?: Record<string, LibraryItem> } | undefined)?.items;
        if (items) seen.set(notice.event.doc_id, { ...items });
        if (made.length > 0) setEntries((feed) => pushEntries(feed, made));
      };
      stops = [libraries.onChange(onLibrary), listen<StoredNotice>(sync.log, 'stored', onNotice)];
    };
    void syncReady().then((sync) => {
      if (live) follow(sync);
    });
    return () => {
      live = false;
      for (const stop of stops) stop();
    };
  }, [nameOf]);
  return { entries, events };
}

/**
 * What changed, in words, newest first: what this person added, removed or described, what
 * people shared, history caught up. The sync events it comes from (/elohim/sync/1.0.0, with
 * how each arrived) are under "Technical details".
 */
export function ActivityPanel({ trust }: { trust: TrustClient | undefined }) {
  const { contacts } = useContacts(trust);
  const nameOf = useRef<(agent: string) => string | undefined>(() => undefined);
  nameOf.current = (agent) => contacts.find((c) => c.agent === agent)?.name;
  const { entries, events } = useActivity(nameOf);
  return (
    <section className="panel activity" aria-labelledby="activity-heading" data-testid="activity">
      <h2 id="activity-heading">Activity</h2>
      {entries.length === 0 ? (
        <p className="muted small">What you and others add or change shows up here.</p>
      ) : (
        <ol className="activity__list" aria-live="polite">
          {entries.map((e) => (
            <li key={e.key} data-testid="activity-entry" data-kind={e.kind}>
              {e.text}{' '}
              <span className="muted small">
                ·{' '}
                <time dateTime={new Date(e.at).toISOString()}>
                  {new Date(e.at).toLocaleTimeString()}
                </time>
              </span>
            </li>
          ))}
        </ol>
      )}
      {events.length > 0 && (
        <details className="disclosure">
          <summary>Technical details</summary>
          <ol className="activity__list">
            {events.map(({ event, kind, origin }) => (
              <li
                key={`${origin ?? 'me'}:${event.position}`}
                data-testid="activity-event"
                data-kind={kind}
                title={`${KIND_HELP[kind] ?? kind}; document ${event.doc_id}`}
              >
                <span className={`badge badge--${kind.toLowerCase()}`}>{kind}</span>{' '}
                <span className="muted small">
                  #{event.position} {origin ? `from ${origin.slice(0, 8)}…` : 'here'} ·{' '}
                  {new Date(event.timestamp).toLocaleTimeString()}
                </span>
              </li>
            ))}
          </ol>
        </details>
      )}
    </section>
  );
}
