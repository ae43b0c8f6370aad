import { useEffect, useRef, useState } from 'react';
import {
  type BackupContact,
  type BackupItem,
  missingLinks,
  RESTORE_CONTACTS_KEY,
  RESTORE_ITEMS_KEY,
} from '../backup/index.ts';
import type { ContentStore } from '../content/index.ts';
import type { Family } from '../family/index.ts';
import type { TrustClient } from '../trust/index.ts';
import { listen } from '../wire/index.ts';
import { errorMessage } from './format.ts';
import { contentUrl } from './serviceWorker.ts';
import { contactsChanged } from './useContacts.ts';
import type { PeerState } from './usePeerNode.ts';
import { addToLibrary } from './useSync.ts';

/** How long each item is looked for before it is left for "Try again". */
const FIND_MS = 30_000;

function pending<T>(key: string): T[] {
  try {
    const value = JSON.parse(localStorage.getItem(key) ?? '[]');
    return Array.isArray(value) ? value : [];
  } catch {
    return [];
  }
}

function save(key: string, list: unknown[]): void {
  if (list.length === 0) localStorage.removeItem(key);
  else localStorage.setItem(key, JSON.stringify(list));
}

/**
 * Puts back the trust links a restored backup lists and this agent no longer has (another
 * doorway's trust layer, or one that lost them); family through the family service, so the
 * family key is granted again. Runs once the trust layer connects; what is done is dropped
 * from the list.
 */
function useRestoreContacts(trust: TrustClient | undefined, family: Family | undefined): void {
  useEffect(() => {
    if (!trust) return;
    let running = false;
    const run = async () => {
      const contacts = pending<BackupContact>(RESTORE_CONTACTS_KEY);
      if (running || contacts.length === 0 || trust.state.status !== 'connected') return;
      running = true;
      try {
        const links = await trust.myRelationships();
        for (const { agent, type } of missingLinks(contacts, links, trust.me)) {
          if (type === 'family' && family) await family.addMember(agent);
          else await trust.createRelationship(agent, type);
        }
        save(RESTORE_CONTACTS_KEY, []);
        contactsChanged();
      } catch {
        // Tried again on the next connect.
      } finally {
        running = false;
      }
    };
    void run();
    return listen(trust, 'state', () => void run());
  }, [trust, family]);
}

type ItemState = 'waiting' | 'fetching' | 'failed';

/**
 * The items of a restored backup, fetched back one at a time from the peers and doorways that
 * hold them, each joining the library (under its name and shared description) when verified.
 * One tab fetches (a Web Lock); what could not be found stays listed for "Try again".
 */
export function RestoreQueue({
  store,
  peer,
  trust,
  family,
}: {
  store: ContentStore | undefined;
  peer: PeerState;
  trust: TrustClient | undefined;
  family: Family | undefined;
}) {
  useRestoreContacts(trust, family);
  const [items, setItems] = useState(() => pending<BackupItem>(RESTORE_ITEMS_KEY));
  const [states, setStates] = useState<Record<string, ItemState>>({});
  const [error, setError] = useState<string>();
  const [attempt, setAttempt] = useState(0);
  const service = useRef(peer.status === 'running' ? peer.service : undefined);
  service.current = peer.status === 'running' ? peer.service : undefined;
  const ready = service.current !== undefined && store !== undefined;

  useEffect(() => {
    if (!ready || !store) return;
    // Each "Try again" (a new attempt) runs the queue again.
    void attempt;
    const abort = new AbortController();
    const done = (hash: string) => {
      const left = pending<BackupItem>(RESTORE_ITEMS_KEY).filter((i) => i.hash !== hash);
      save(RESTORE_ITEMS_KEY, left);
      setItems(left);
    };
    void navigator.locks
      .request('elohim-restore-queue', { signal: abort.signal }, async () => {
        for (const item of pending<BackupItem>(RESTORE_ITEMS_KEY)) {
          if (abort.signal.aborted) return;
          setStates((s) => ({ ...s, [item.hash]: 'fetching' }));
          try {
            const manifest = (await store.has(item.hash))
              ? await store.manifest(item.hash)
              : await service.current?.fetch(item.hash, {
                  signal: abort.signal,
                  findForMs: FIND_MS,
                });
            if (!manifest) throw new Error('The network is not running.');
            await addToLibrary(manifest, { metaDoc: item.meta, title: item.name });
            done(item.hash);
          } catch (e) {
            if (abort.signal.aborted) return;
            setError(errorMessage(e));
            setStates((s) => ({ ...s, [item.hash]: 'failed' }));
          }
        }
      })
      .catch(() => {});
    return () => abort.abort();
  }, [ready, store, attempt]);

  if (items.length === 0) return null;
  const failed = items.filter((i) => states[i.hash] === 'failed').length;
  return (
    <section
      className="panel restore-queue"
      aria-labelledby="restore-queue-heading"
      data-testid="restore-queue"
    >
      <h2 id="restore-queue-heading">Getting your items back</h2>
      <p className="muted small">
        Your backup lists these items. Each comes back from the peers and doorways that hold it,
        verified, and joins your library. Each opens already, streamed from whoever holds it while
        it comes back.
      </p>
      <ul>
        {items.map((item) => (
          <li key={item.hash} data-testid="restore-item" data-hash={item.hash}>
            <a
              href={contentUrl(item.hash)}
              target="_blank"
              rel="noopener"
              data-testid="restore-open"
            >
              {item.name}
            </a>{' '}
            <span className="muted small">
              {states[item.hash] === 'failed'
                ? '— not found yet'
                : states[item.hash] === 'fetching'
                  ? '— fetching…'
                  : '— waiting'}
            </span>
          </li>
        ))}
      </ul>
      {failed > 0 && (
        <>
          <p role="alert" className="error small">
            {failed === 1 ? 'One item was' : `${failed} items were`} not found on any peer or
            doorway now ({error}). Try again when the people who hold them are online.
          </p>
          <button type="button" onClick={() => setAttempt((n) => n + 1)}>
            Try again
          </button>{' '}
          <button
            type="button"
            onClick={() => {
              save(RESTORE_ITEMS_KEY, []);
              setItems([]);
            }}
          >
            Stop looking
          </button>
        </>
      )}
    </section>
  );
}
