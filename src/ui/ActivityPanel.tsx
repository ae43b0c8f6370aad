import { useEffect, useState } from 'react';
import type { StoredNotice } from '../sync/index.ts';
import { listen } from '../wire/index.ts';
import { syncReady } from './useSync.ts';

const SHOWN = 30;

const KIND_HELP: Record<string, string> = {
  Local: 'made here',
  New: 'just received',
  Backfill: 'caught up from history',
  Outlier: 'arrived after a gap (the gap is being filled)',
};

/**
 * The sync activity feed: every edit recorded here or received from a peer, newest first,
 * with how it arrived (the event kinds of /elohim/sync/1.0.0).
 */
export function ActivityPanel() {
  const [events, setEvents] = useState<StoredNotice[]>([]);
  useEffect(() => {
    let stop = () => {};
    let live = true;
    void syncReady().then((sync) => {
      if (!live) return;
      stop = listen<StoredNotice>(sync.log, 'stored', (notice) =>
        setEvents((all) => [notice, ...all].slice(0, SHOWN)),
      );
    });
    return () => {
      live = false;
      stop();
    };
  }, []);
  return (
    <section className="panel activity" aria-labelledby="activity-heading" data-testid="activity">
      <h2 id="activity-heading">Activity</h2>
      {events.length === 0 ? (
        <p className="muted small">Edits made here and received from peers show up here.</p>
      ) : (
        <ol className="activity__list" aria-live="polite">
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
      )}
    </section>
  );
}
