/**
 * The receiving side of `/elohim/positions/1.0.0`: catching up with a peer (Backfill), classifying
 * what it pushes (New, Outlier), and applying the changes an event names before it is stored.
 *
 * Events from a peer are its own Local events; its libp2p PeerId (which the connection
 * authenticates) is their `origin`. It sends none about documents we may not receive, so the
 * positions we see may have gaps that hold nothing for us. Per origin, one at a time:
 *  - an Announce at position contiguous+1 is `New`; further ahead, the gap is asked for
 *    first: with nothing for us in it the Announce is `New` too, else it is `Outlier` and
 *    the gap is fetched with SyncRequest{since: contiguous, limit} pages (`Backfill`);
 *  - on connect, SyncRequest{since: contiguous} pages fetch everything missed (`Backfill`);
 *  - before an event is stored, its change must be in the local document: if it is not, a
 *    DocRequest with our heads fetches the missing changes, which are checked
 *    (`changes.ts`) and then applied to the Repo's handle;
 *  - with `mayKeep`, changes that would make a document one this peer does not keep are not
 *    applied, and their events are passed like the gaps of events we may not receive (a
 *    doorway keeps only descriptions of commons items it holds: `keepCommons`).
 */
import { getHeads, hasHeads } from '@automerge/automerge/slim';
import type { DocHandle, DocumentId, Repo } from '@automerge/automerge-repo/slim';
import { isValidDocumentId } from '@automerge/automerge-repo/slim';
import type { Connection, Libp2p, PeerId, Startable } from '@libp2p/interface';
import { type AbortOptions, KeyedLock } from '../wire/index.ts';
import type { DocKeeping } from './audience.ts';
import { applyCheckedChanges, keepsAfter } from './changes.ts';
import type { EventKind, SyncEvent } from './codec.ts';
import { findHandle } from './documents.ts';
import { PositionOutOfRangeError, SyncProtocolError } from './errors.ts';
import type { EventLog } from './event-log.ts';
import { timeLimit } from './flow.ts';
import type { SyncProtocol } from './protocol.ts';

export interface PullInit {
  node: Pick<Libp2p, 'getConnections' | 'addEventListener' | 'removeEventListener'>;
  protocol: Pick<SyncProtocol, 'request' | 'usable'>;
  repo: Repo;
  log: EventLog;
  /** `limit` of the SyncRequests sent. */
  pageSize: number;
  /** An Announce further than this beyond the last contiguous position is refused. */
  maxGap: number;
  /** For loading a document. */
  timeoutMs: number;
  /** Catch up with each peer when a connection opens. */
  catchUpOnConnect: boolean;
  /**
   * Whether to keep `doc`, the document `docId` as the changes received would make it. Default:
   * every document.
   */
  mayKeep?: DocKeeping;
  /** Records local edits of a document we received changes of from now on. */
  track(handle: DocHandle<unknown>): void;
  /** An event was stored. */
  stored(event: SyncEvent, kind: Exclude<EventKind, 'Local'>, peer: string): void;
  report(error: unknown, peer: string, op: string): void;
}

export class Puller implements Startable {
  readonly #init: PullInit;
  readonly #origins = new KeyedLock();
  #running = false;

  constructor(init: PullInit) {
    this.#init = init;
  }

  /** Catches up with the peers already connected, and with each one that connects. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#init.node.addEventListener('connection:open', this.#onConnectionOpen);
    for (const c of this.#init.node.getConnections()) this.#onConnection(c);
  }

  stop(): void {
    this.#running = false;
    this.#init.node.removeEventListener('connection:open', this.#onConnectionOpen);
  }

  #onConnectionOpen = (evt: CustomEvent<Connection>): void => this.#onConnection(evt.detail);

  #onConnection(c: Connection): void {
    if (!this.#running || !this.#init.protocol.usable(c) || !this.#init.catchUpOnConnect) return;
    const peer = c.remotePeer.toString();
    this.catchUp(peer).catch((e) => this.#init.report(e, peer, 'catch-up'));
  }

  /**
   * Fetches and stores everything `peer` logged after what we hold contiguously (Backfill).
   * Resolves with the number of events stored.
   */
  catchUp(peer: PeerId | string, options: AbortOptions = {}): Promise<number> {
    const origin = peer.toString();
    return this.#origins.run(origin, async () => {
      options.signal?.throwIfAborted();
      return this.#backfill(origin, await this.#init.log.contiguous(origin), undefined, options);
    });
  }

  /**
   * Handles a pushed event from `peer` (serialised per origin). One right after the last we
   * hold is New. After a gap, the gap is asked for first: the peer sends no events about
   * documents we may not receive, so a gap holding none for us makes this one New too;
   * otherwise it is an Outlier, and the rest of the gap is filled as Backfill.
   */
  receiveAnnounce(peer: string, event: SyncEvent): Promise<void> {
    const { log, maxGap } = this.#init;
    return this.#origins.run(peer, async () => {
      const existing = await log.remoteEvent(peer, event.position);
      if (existing?.change_hash === event.change_hash && existing.doc_id === event.doc_id) return;
      const contiguous = await log.contiguous(peer);
      if (event.position > contiguous + maxGap) {
        throw new PositionOutOfRangeError(
          `Announced position ${event.position} is more than ${maxGap} past the last ` +
            `position held from ${peer} (${contiguous}); nothing was stored. Positions count ` +
            'the sender’s own events from 1, with no gaps.',
        );
      }
      if ((await this.#ensureChanges(peer, [event], {})).size > 0) return;
      const store = async (
        kind: 'New' | 'Outlier',
        covers?: { after: number; through: number },
      ) => {
        // A conflicting stored event makes addRemote throw ConflictingEventError.
        const added = await log.addRemote(peer, [{ event, kind }], covers);
        for (const e of added) this.#init.stored(e, kind, peer);
      };
      const gapEnd = event.position - 1;
      if (gapEnd <= contiguous) return store('New');
      // Failures leave the gap for the next catch-up.
      const first = await this.#page(peer, contiguous, gapEnd, {}).catch((e) => {
        this.#init.report(e, peer, 'backfill');
        return undefined;
      });
      if (first?.events.length === 0) return store('New', { after: contiguous, through: gapEnd });
      await store('Outlier');
      if (!first) return;
      try {
        await this.#storePage(peer, contiguous, first, {});
        if (first.more) await this.#backfill(peer, first.through, gapEnd, {});
      } catch (e) {
        this.#init.report(e, peer, 'backfill');
      }
    });
  }

  /**
   * One SyncRequest page after `since`, checked, keeping the events up to `until` (when
   * given). The peer leaves out events about documents we may not receive, so positions rise
   * with gaps; `through` is the position up to which every event for us is in the page, and
   * `more` says whether to ask again from there.
   */
  async #page(
    peer: string,
    since: number,
    until: number | undefined,
    options: AbortOptions,
  ): Promise<{ events: SyncEvent[]; through: number; more: boolean }> {
    const limit = Math.min(this.#init.pageSize, until === undefined ? Infinity : until - since);
    const answer = await this.#init.protocol.request(
      peer,
      { type: 'SyncRequest', since, limit },
      options,
    );
    if (answer.type !== 'SyncResponse') {
      throw new SyncProtocolError(`Peer ${peer} answered a SyncRequest with ${answer.type}.`);
    }
    const { events, hasMore } = answer;
    if (
      events.length > limit ||
      events.some((e, i) => e.position <= (events[i - 1]?.position ?? since))
    ) {
      throw new SyncProtocolError(
        `Peer ${peer} answered SyncRequest{since: ${since}, limit: ${limit}} with positions ` +
          `[${events.map((e) => e.position).join(', ')}]; expected at most ${limit}, rising, ` +
          `after ${since}. Nothing was stored.`,
      );
    }
    if (events.length === 0 && hasMore) {
      throw new SyncProtocolError(`Peer ${peer} sent an empty page with has_more set.`);
    }
    const last = events.at(-1)?.position ?? since;
    if (until === undefined) return { events, through: last, more: hasMore };
    const kept = events.filter((e) => e.position <= until);
    // Past `until`, or nothing more at all: the page covers everything for us up to `until`.
    if (kept.length < events.length || !hasMore)
      return { events: kept, through: until, more: false };
    return { events: kept, through: last, more: last < until };
  }

  /** Stores a page's events as Backfill (their changes first) and what it covers. */
  async #storePage(
    peer: string,
    since: number,
    page: { events: SyncEvent[]; through: number },
    options: AbortOptions,
  ): Promise<number> {
    const refused = await this.#ensureChanges(peer, page.events, options);
    const added = await this.#init.log.addRemote(
      peer,
      page.events
        .filter((event) => !refused.has(event.doc_id))
        .map((event) => ({ event, kind: 'Backfill' as const })),
      { after: since, through: page.through },
    );
    for (const e of added) this.#init.stored(e, 'Backfill', peer);
    return added.length;
  }

  /** SyncRequest pages after `since` (up to `until` when given); stores them as Backfill. */
  async #backfill(
    peer: string,
    since: number,
    until: number | undefined,
    options: AbortOptions,
  ): Promise<number> {
    let cursor = since;
    let stored = 0;
    for (;;) {
      if (until !== undefined && cursor >= until) return stored;
      const page = await this.#page(peer, cursor, until, options);
      stored += await this.#storePage(peer, cursor, page, options);
      cursor = page.through;
      if (!page.more) return stored;
    }
  }

  /**
   * Makes sure the changes of `events` are in the local documents: asks `peer` for what is
   * missing (DocRequest with our heads), checks it, applies it. Throws before applying
   * anything when the answer is unusable. Resolves with the documents not kept (`mayKeep`):
   * their changes were not applied.
   */
  async #ensureChanges(
    peer: string,
    events: readonly SyncEvent[],
    options: AbortOptions,
  ): Promise<Set<string>> {
    const refused = new Set<string>();
    const byDoc = new Map<string, Set<string>>();
    for (const e of events) {
      if (!isValidDocumentId(e.doc_id)) {
        throw new SyncProtocolError(
          `Event ${e.position} names an invalid document id ${e.doc_id}.`,
        );
      }
      let s = byDoc.get(e.doc_id);
      if (!s) {
        s = new Set();
        byDoc.set(e.doc_id, s);
      }
      s.add(e.change_hash);
    }
    for (const [docId, hashes] of byDoc) {
      const id = docId as DocumentId;
      const d = timeLimit(options, this.#init.timeoutMs, `loading document ${docId}`);
      let handle: DocHandle<unknown>;
      try {
        handle = await findHandle(
          this.#init.repo,
          id,
          ['ready', 'requesting', 'unavailable'],
          d.signal,
        );
      } catch (e) {
        throw d.signal.aborted ? d.signal.reason : e;
      } finally {
        d.done();
      }
      const doc = handle.isReady() ? handle.doc() : undefined;
      const missing = [...hashes].filter((h) => !doc || !hasHeads(doc, [h]));
      if (missing.length > 0) {
        const heads = doc ? getHeads(doc) : [];
        const answer = await this.#init.protocol.request(
          peer,
          { type: 'DocRequest', docId, heads },
          options,
        );
        if (answer.type !== 'DocResponse' || answer.docId !== docId) {
          throw new SyncProtocolError(
            `Peer ${peer} answered a DocRequest for ${docId} with ${
              answer.type === 'DocResponse' ? `changes of ${answer.docId}` : answer.type
            }.`,
          );
        }
        const { mayKeep } = this.#init;
        if (mayKeep && !(await keepsAfter(mayKeep, docId, doc, answer.changes))) {
          refused.add(docId);
          // A document never held here leaves no empty handle behind: a peer naming many
          // documents must not grow this peer's memory (nothing is in storage to delete).
          if (!handle.isReady()) this.#init.repo.delete(id);
          continue;
        }
        applyCheckedChanges(peer, handle, answer.changes, missing);
      }
      this.#init.track(handle);
    }
    return refused;
  }
}
