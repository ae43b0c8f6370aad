/**
 * The event log's seam: this agent's numbered local events and the events received from
 * others, kept so that positions survive restarts. Two implementations pass one acceptance
 * suite (`event-log-tests.ts`): {@link IdbEventLog} (IndexedDB, a page; shared by its tabs) and
 * `FileEventLog` (an append-only file, Node: a doorway; `node.ts`).
 *
 *  - local events: positions 1, 2, 3… with no gaps, one per (document, change);
 *  - remote events per `origin` (the sender's libp2p PeerId) with the kind WE gave them (New,
 *    Backfill, Outlier), and per origin a `contiguous` cursor: the highest position p such that
 *    every event of 1…p that origin sends us is stored. It sends none about documents we may
 *    not receive (SyncService `mayReceive`): those positions are gaps we never fill, passed
 *    when a SyncResponse page shows there was nothing for us there;
 *  - known documents: every document named by any stored event. This is the set of documents
 *    this peer shares (serves DocRequests for) and re-tracks on start.
 *
 * Invariant (kept by SyncService): a remote event is stored only after its change is in the
 * local document, so "stored" means "applied". Every stored event is emitted as `stored`.
 *
 *   import { IdbEventLog } from '…/sync';  const log = await IdbEventLog.open();  // a page
 *   import { FileEventLog } from '…/sync/node.ts';
 *   const log = await FileEventLog.open({ file: 'data/sync/events.log' });          // Node
 */
import type { TypedEventEmitter } from '../wire/index.ts';
import type { EventKind, SyncEvent } from './codec.ts';
import { ConflictingEventError } from './errors.ts';

/** A remote event as stored: the event (with our kind) and who it came from. */
export interface StoredRemoteEvent extends SyncEvent {
  origin: string;
  /** ms since the epoch, when we stored it. */
  received_at: number;
}

export interface StoredNotice {
  event: SyncEvent;
  kind: EventKind;
  /** The origin's PeerId; undefined for Local events. */
  origin: string | undefined;
  /** Stored by this instance (false: by another tab). */
  here: boolean;
}

export interface EventLogEvents {
  stored: CustomEvent<StoredNotice>;
}

export interface EventLog extends TypedEventEmitter<EventLogEvents> {
  /**
   * Records a change made here as the next local event. Returns `undefined` when that change
   * is already recorded (e.g. another tab saw it first), so it is announced once.
   */
  appendLocal(
    docId: string,
    changeHash: string,
    timestamp?: number,
  ): Promise<SyncEvent | undefined>;
  /** The last local position (0 when nothing was recorded yet). */
  localHead(): Promise<number>;
  /** Local events after `since`, at most `limit`, and whether more follow. */
  localSince(since: number, limit: number): Promise<{ events: SyncEvent[]; hasMore: boolean }>;
  /** The local event that recorded `changeHash` of `docId`, if any. */
  localEventFor(docId: string, changeHash: string): Promise<SyncEvent | undefined>;
  /** Highest position p such that every event of 1…p that `origin` sends us is stored. */
  contiguous(origin: string): Promise<number>;
  remoteEvent(origin: string, position: number): Promise<StoredRemoteEvent | undefined>;
  /** All stored events from `origin`, by position. */
  remoteEvents(origin: string): Promise<StoredRemoteEvent[]>;
  /**
   * Stores events from `origin` with the kinds given, skipping positions already stored with
   * the same change, and advances the contiguous cursor, all at once (all or nothing). A
   * stored position with a different change fails the whole batch with
   * `ConflictingEventError` (nothing is stored). Returns the events actually added.
   *
   * `covers` says that every event of positions `after`+1 … `through` that the origin sends
   * us is among `events` (or stored): the positions in between that are missing are events
   * about documents we may not receive, and the cursor moves past them — if it had reached
   * `after`.
   */
  addRemote(
    origin: string,
    events: readonly { event: SyncEvent; kind: Exclude<EventKind, 'Local'> }[],
    covers?: { after: number; through: number },
  ): Promise<StoredRemoteEvent[]>;
  /** Whether any stored event names `docId`: i.e. whether this peer shares it. */
  knowsDoc(docId: string): Promise<boolean>;
  knownDocs(): Promise<string[]>;
  close(): void;
}

/**
 * A peer's event at a position already stored must be the same event: a log is never rewritten.
 * Throws {@link ConflictingEventError} otherwise (both stores then store nothing of the batch).
 */
export function assertSameEvent(origin: string, stored: SyncEvent, event: SyncEvent): void {
  if (stored.change_hash !== event.change_hash || stored.doc_id !== event.doc_id) {
    throw new ConflictingEventError(origin, event.position, stored.change_hash, event.change_hash);
  }
}
