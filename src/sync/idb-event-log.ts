/**
 * The event log (`event-log.ts`) in IndexedDB, so positions survive reloads and are shared by
 * all tabs.
 *
 * Database `elohim-sync` (configurable), version 1:
 *  - `local`    keyPath `position`; unique index `by_change` on [doc_id, change_hash].
 *               Each append reads the last position and adds the next one in ONE readwrite
 *               transaction, and IndexedDB runs readwrite transactions on a store one at a
 *               time across all connections (tabs), so two tabs never take the same number.
 *  - `remote`   keyPath [origin, position]: events received from `origin`.
 *  - `cursors`  keyPath `origin` → `contiguous`, updated in the same transaction as the events.
 *  - `docs`     keyPath `doc_id`: every document named by any stored event.
 *
 * Tabs: every stored event is emitted as `stored` by the instance that stored it and, over a
 * BroadcastChannel named `elohim-sync:<dbName>`, by the instances of the other tabs
 * (`here: false`). That is how the tab running the SyncService learns of edits recorded in
 * other tabs (and announces them), and how every tab can show the activity feed.
 */
import { type DBSchema, type IDBPDatabase, openDB } from 'idb';
import { TypedEventEmitter } from '../wire/index.ts';
import { type EventKind, isEventKind, isSyncEvent, type SyncEvent } from './codec.ts';
import {
  assertSameEvent,
  type EventLog,
  type EventLogEvents,
  type StoredNotice,
  type StoredRemoteEvent,
} from './event-log.ts';

export const DEFAULT_SYNC_DB_NAME = 'elohim-sync';
const DB_VERSION = 1;

interface CursorRecord {
  origin: string;
  contiguous: number;
}

interface DocRecord {
  doc_id: string;
  first_seen: number;
}

interface SyncDB extends DBSchema {
  local: { key: number; value: SyncEvent; indexes: { by_change: [string, string] } };
  remote: { key: [string, number]; value: StoredRemoteEvent };
  cursors: { key: string; value: CursorRecord };
  docs: { key: string; value: DocRecord };
}

/** idb request promises reject too when their transaction aborts; `tx.done` reports it once. */
function quiet(p: Promise<unknown>): void {
  p.catch(() => {});
}

/** A notice from another tab, checked before it is believed. */
function isNotice(v: unknown): v is Omit<StoredNotice, 'here'> {
  const n = v as Partial<StoredNotice> | null;
  return (
    isSyncEvent(n?.event) &&
    isEventKind(n?.kind) &&
    (n?.origin === undefined || typeof n.origin === 'string')
  );
}

export class IdbEventLog extends TypedEventEmitter<EventLogEvents> implements EventLog {
  private readonly channel: BroadcastChannel | undefined;

  private constructor(
    private readonly db: IDBPDatabase<SyncDB>,
    channelName: string | undefined,
  ) {
    super();
    if (channelName !== undefined && typeof BroadcastChannel === 'function') {
      this.channel = new BroadcastChannel(channelName);
      this.channel.onmessage = (m: MessageEvent) => {
        if (isNotice(m.data))
          this.safeDispatchEvent('stored', { detail: { ...m.data, here: false } });
      };
    }
  }

  /** `broadcast: false` keeps this instance out of the cross-tab notices (tests). */
  static async open(opts: { dbName?: string; broadcast?: boolean } = {}): Promise<IdbEventLog> {
    const name = opts.dbName ?? DEFAULT_SYNC_DB_NAME;
    const db = await openDB<SyncDB>(name, DB_VERSION, {
      upgrade(db) {
        const local = db.createObjectStore('local', { keyPath: 'position' });
        local.createIndex('by_change', ['doc_id', 'change_hash'], { unique: true });
        db.createObjectStore('remote', { keyPath: ['origin', 'position'] });
        db.createObjectStore('cursors', { keyPath: 'origin' });
        db.createObjectStore('docs', { keyPath: 'doc_id' });
      },
      blocking(_current, _next, event) {
        // Another tab wants a newer schema: step aside instead of blocking it forever.
        (event.target as IDBDatabase).close();
      },
    });
    return new IdbEventLog(db, opts.broadcast === false ? undefined : `elohim-sync:${name}`);
  }

  close(): void {
    this.channel?.close();
    this.db.close();
  }

  private notify(event: SyncEvent, kind: EventKind, origin: string | undefined): void {
    this.safeDispatchEvent('stored', { detail: { event, kind, origin, here: true } });
    this.channel?.postMessage({ event, kind, origin });
  }

  /**
   * Records a change made here as the next local event. Returns `undefined` when that change
   * is already recorded (e.g. another tab saw it first), so it is announced once.
   */
  async appendLocal(
    docId: string,
    changeHash: string,
    timestamp = Date.now(),
  ): Promise<SyncEvent | undefined> {
    const tx = this.db.transaction(['local', 'docs'], 'readwrite');
    const local = tx.objectStore('local');
    let event: SyncEvent | undefined;
    if ((await local.index('by_change').getKey([docId, changeHash])) === undefined) {
      const last = await local.openKeyCursor(null, 'prev');
      event = {
        position: (last?.key ?? 0) + 1,
        doc_id: docId,
        change_hash: changeHash,
        kind: 'Local',
        timestamp,
      };
      quiet(local.add(event));
      await this.noteDoc(tx.objectStore('docs'), docId, timestamp);
    }
    await tx.done;
    if (event) this.notify(event, 'Local', undefined);
    return event;
  }

  /** The last local position (0 when nothing was recorded yet). */
  async localHead(): Promise<number> {
    const cursor = await this.db.transaction('local').store.openKeyCursor(null, 'prev');
    return cursor?.key ?? 0;
  }

  /** Local events after `since`, at most `limit`, and whether more follow. */
  async localSince(
    since: number,
    limit: number,
  ): Promise<{ events: SyncEvent[]; hasMore: boolean }> {
    const range = IDBKeyRange.lowerBound(since, true);
    const rows = await this.db.getAll('local', range, limit + 1);
    return { events: rows.slice(0, limit), hasMore: rows.length > limit };
  }

  /** The local event that recorded `changeHash` of `docId`, if any. */
  async localEventFor(docId: string, changeHash: string): Promise<SyncEvent | undefined> {
    return this.db.getFromIndex('local', 'by_change', [docId, changeHash]);
  }

  /** Highest position p such that every event of 1…p that `origin` sends us is stored. */
  async contiguous(origin: string): Promise<number> {
    return (await this.db.get('cursors', origin))?.contiguous ?? 0;
  }

  async remoteEvent(origin: string, position: number): Promise<StoredRemoteEvent | undefined> {
    return this.db.get('remote', [origin, position]);
  }

  /** All stored events from `origin`, by position. */
  async remoteEvents(origin: string): Promise<StoredRemoteEvent[]> {
    return this.db.getAll('remote', IDBKeyRange.bound([origin, 0], [origin, Infinity]));
  }

  /**
   * Stores events from `origin` with the kinds given, skipping positions already stored with
   * the same change, and advances the contiguous cursor, all in one transaction. A stored
   * position with a different change fails the whole batch with `ConflictingEventError`
   * (nothing is stored). Returns the events actually added.
   *
   * `covers` says that every event of positions `after`+1 … `through` that the origin sends
   * us is among `events` (or stored): the positions in between that are missing are events
   * about documents we may not receive, and the cursor moves past them — if it had reached
   * `after`.
   */
  async addRemote(
    origin: string,
    events: readonly { event: SyncEvent; kind: Exclude<EventKind, 'Local'> }[],
    covers?: { after: number; through: number },
  ): Promise<StoredRemoteEvent[]> {
    const tx = this.db.transaction(['remote', 'cursors', 'docs'], 'readwrite');
    const remote = tx.objectStore('remote');
    const added: StoredRemoteEvent[] = [];
    const now = Date.now();
    try {
      for (const { event, kind } of events) {
        const existing = await remote.get([origin, event.position]);
        if (existing) {
          assertSameEvent(origin, existing, event);
          continue;
        }
        const row: StoredRemoteEvent = { ...event, kind, origin, received_at: now };
        quiet(remote.add(row));
        await this.noteDoc(tx.objectStore('docs'), event.doc_id, now);
        added.push(row);
      }
      const cursors = tx.objectStore('cursors');
      let contiguous = (await cursors.get(origin))?.contiguous ?? 0;
      const start = contiguous;
      if (covers && covers.after <= contiguous) contiguous = Math.max(contiguous, covers.through);
      while (await remote.getKey([origin, contiguous + 1])) contiguous++;
      if (contiguous !== start) quiet(cursors.put({ origin, contiguous }));
    } catch (e) {
      tx.abort();
      await tx.done.catch(() => {});
      throw e;
    }
    await tx.done;
    for (const row of added) this.notify(row, row.kind, origin);
    return added;
  }

  /** Whether any stored event names `docId`: i.e. whether this peer shares it. */
  async knowsDoc(docId: string): Promise<boolean> {
    return (await this.db.getKey('docs', docId)) !== undefined;
  }

  async knownDocs(): Promise<string[]> {
    return this.db.getAllKeys('docs');
  }

  private async noteDoc(
    docs: { get(k: string): Promise<DocRecord | undefined>; put(v: DocRecord): Promise<string> },
    docId: string,
    now: number,
  ): Promise<void> {
    if (!(await docs.get(docId))) quiet(docs.put({ doc_id: docId, first_seen: now }));
  }
}
