/**
 * The sync service: stream positions over `/elohim/sync/1.0.0` (wire format: `codec.ts`).
 *
 * Sending side. Every change made here to a tracked document (see {@link SyncService.track})
 * becomes a Local event in the {@link EventLog} with the next position, and is pushed as
 * `{"Announce": [event]}` to every connected peer that may receive its document
 * (`mayReceive`), on one long-lived stream per peer; so are the edits other tabs record (their
 * {@link ChangeRecorder} and the EventLog's cross-tab notices), once the change has reached
 * this tab's Repo. Requests are answered by `server.ts`.
 *
 * Receiving side. Events from a peer are its own Local events; its libp2p PeerId (which the
 * connection authenticates) is their `origin`. It sends none about documents we may not
 * receive, so the positions we see may have gaps that hold nothing for us. Per origin, one
 * at a time:
 *  - an Announce at position contiguous+1 is `New`; further ahead, the gap is asked for
 *    first: with nothing for us in it the Announce is `New` too, else it is `Outlier` and
 *    the gap is fetched with SyncRequest{since: contiguous, limit} pages (`Backfill`);
 *  - on connect, SyncRequest{since: contiguous} pages fetch everything missed (`Backfill`);
 *  - before an event is stored, its change must be in the local document: if it is not, a
 *    DocRequest with our heads fetches the missing changes, which are checked
 *    (`changes.ts`) and then applied to the Repo's handle.
 * Bad input (malformed or oversized frames, unknown documents, positions past the end of
 * the log or more than `maxGap` ahead, limits out of range, unusable changes, a position
 * re-used for another change) gets `{"Error": message}` and stores nothing; an oversized
 * frame also ends that stream (cleanly when the peer finishes sending, else with a reset).
 *
 * Activity: `service.on('activity', ({event, kind, peer}) => …)` for every stored event
 * (`peer` is the origin, our own PeerId for Local); `service.on('error', …)` for failures
 * that have no caller to reject (background catch-up, pushes, answers we refused).
 */

import { getHeads, hasHeads } from '@automerge/automerge/slim';
import type { DocHandle, DocumentId, Repo } from '@automerge/automerge-repo/slim';
import { isValidDocumentId } from '@automerge/automerge-repo/slim';
import type { Connection, Libp2p, PeerId, Stream } from '@libp2p/interface';
import { peerIdFromString } from '@libp2p/peer-id';
import { FrameReader, FrameTooLargeError, writeFrame } from '../wire/index.ts';
import type { Libp2pSyncNode } from './adapter.ts';
import type { DocAudience } from './audience.ts';
import { applyCheckedChanges } from './changes.ts';
import {
  DEFAULT_MAX_FRAME_BYTES,
  DEFAULT_MAX_LIMIT,
  decodeSyncResponse,
  type EventKind,
  encodeSyncMessage,
  SYNC_PROTOCOL,
  type SyncEvent,
  type SyncRequestMessage,
  type SyncResponseMessage,
} from './codec.ts';
import type { DocTracker } from './documents.ts';
import { TypedEmitter } from './emitter.ts';
import {
  errorMessage,
  PositionOutOfRangeError,
  RemoteSyncError,
  SyncClosedError,
  SyncError,
  SyncFrameTooLargeError,
  SyncProtocolError,
  toError,
} from './errors.ts';
import type { EventLog, StoredNotice } from './event-log.ts';
import { deadline, KeyedQueue } from './flow.ts';
import { AnnounceStreams } from './push.ts';
import { ChangeRecorder } from './recorder.ts';
import { type Doc, syncHandler } from './server.ts';

/** What the service needs of a libp2p node. */
export type Libp2pSyncServiceNode = Libp2pSyncNode & Pick<Libp2p, 'dialProtocol'>;

export interface SyncServiceOptions {
  /** Largest frame sent or accepted. Default 8 MiB. */
  maxFrameBytes?: number;
  /** Largest `limit` this peer serves. Default 500. */
  maxLimit?: number;
  /** `limit` of the SyncRequests this peer sends. Default 100. */
  pageSize?: number;
  /** An Announce further than this beyond the last contiguous position is refused. Default 100 000. */
  maxGap?: number;
  /** Per request (and per write while answering). Default 30 s. */
  timeoutMs?: number;
  /** Catch up with each peer when a connection opens. Default true. */
  catchUpOnConnect?: boolean;
  /** Also sync over relayed (limited) connections. Default false. */
  runOnLimitedConnection?: boolean;
  /**
   * Which documents each peer may receive (`docAudience`): Announces, the events of
   * SyncResponse pages and DocResponses go only to peers it admits; to the others a document
   * is as unknown as one never seen. Default: every peer, every document.
   */
  mayReceive?: DocAudience;
}

export interface SyncActivity {
  event: SyncEvent;
  kind: EventKind;
  /** The event's origin (our own PeerId for Local). */
  peer: string;
}

export interface SyncServiceEvents extends Record<string, unknown> {
  activity: SyncActivity;
  error: { error: unknown; peer: string; op: string };
}

type Abortable = { signal?: AbortSignal };

export class SyncService extends TypedEmitter<SyncServiceEvents> implements DocTracker {
  readonly #libp2p: Libp2pSyncServiceNode;
  readonly #repo: Repo;
  readonly #log: EventLog;
  readonly #maxFrameBytes: number;
  readonly #maxLimit: number;
  readonly #pageSize: number;
  readonly #maxGap: number;
  readonly #timeoutMs: number;
  readonly #opts: SyncServiceOptions;
  readonly #self: string;
  readonly #recorder: ChangeRecorder;
  readonly #origins = new KeyedQueue();
  /** Announces to each peer, in order (each waits for the audience's answer). */
  readonly #pushes = new KeyedQueue();
  readonly #stopping = new AbortController();
  readonly #streams: AnnounceStreams;
  /** See {@link ChangeRecorder.restored}. */
  readonly restored: Promise<void>;
  readonly #unsubscribe: (() => void)[] = [];

  private constructor(
    libp2p: Libp2pSyncServiceNode,
    repo: Repo,
    log: EventLog,
    options: SyncServiceOptions,
  ) {
    super();
    this.#libp2p = libp2p;
    this.#repo = repo;
    this.#log = log;
    this.#opts = options;
    this.#maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    this.#maxLimit = options.maxLimit ?? DEFAULT_MAX_LIMIT;
    this.#pageSize = Math.min(options.pageSize ?? 100, this.#maxLimit);
    this.#maxGap = options.maxGap ?? 100_000;
    this.#timeoutMs = options.timeoutMs ?? 30_000;
    this.#self = libp2p.peerId.toString();
    this.#recorder = new ChangeRecorder(repo, log);
    this.#streams = new AnnounceStreams({
      dial: (peer, signal) => this.#dial(peer, signal),
      maxFrameBytes: this.#maxFrameBytes,
      timeoutMs: this.#timeoutMs,
      stopping: this.#stopping.signal,
      report: (error, peer, op) => this.#report(error, peer, op),
    });
    this.restored = this.#recorder.restored;
    this.#unsubscribe.push(
      this.#recorder.on('recorded', (event) => this.#localEvent(event)),
      this.#recorder.on('error', ({ error }) => this.#report(error, this.#self, 'record')),
      // Edits recorded in other tabs: this tab runs the node, so it announces them, once the
      // change has reached this tab's Repo (BroadcastChannel) so that it can serve it.
      log.on('stored', (n: StoredNotice) => {
        if (n.here || n.kind !== 'Local') return;
        void this.#whenApplied(n.event).then(() => this.#localEvent(n.event));
      }),
    );
  }

  /** Resolves when this Repo holds the event's change, or after `timeoutMs` regardless. */
  async #whenApplied(event: SyncEvent): Promise<void> {
    const d = deadline(this.#timeoutMs, 'waiting for another tab’s change', this.#stopping.signal);
    try {
      const handle = await this.#handle(event.doc_id as DocumentId, ['ready'], d.signal);
      const has = () => hasHeads(handle.doc() as Doc, [event.change_hash]);
      if (has()) return;
      await new Promise<void>((resolve) => {
        const done = () => {
          handle.off('heads-changed', check);
          d.signal.removeEventListener('abort', done);
          resolve();
        };
        const check = () => {
          if (has()) done();
        };
        handle.on('heads-changed', check);
        d.signal.addEventListener('abort', done, { once: true });
      });
    } catch (e) {
      this.#report(e, this.#self, 'record');
    } finally {
      d.done();
    }
  }

  #localEvent(event: SyncEvent): void {
    this.emit('activity', { event, kind: 'Local', peer: this.#self });
    this.#announce(event);
  }

  /**
   * Registers the protocol, re-tracks the documents named in the log (loading them from the
   * Repo's storage in the background) and catches up with the peers already connected.
   */
  static async start(
    libp2p: Libp2pSyncServiceNode,
    repo: Repo,
    log: EventLog,
    options: SyncServiceOptions = {},
  ): Promise<SyncService> {
    const service = new SyncService(libp2p, repo, log, options);
    const handler = syncHandler({
      log,
      maxFrameBytes: service.#maxFrameBytes,
      maxLimit: service.#maxLimit,
      timeoutMs: service.#timeoutMs,
      stopping: service.#stopping.signal,
      shares: async (id) => service.#recorder.isTracking(id) || log.knowsDoc(id),
      load: async (id, signal) => (await service.#handle(id, ['ready'], signal)).doc() as Doc,
      mayReceive: (peer, docId) => service.#mayReceive(peer, docId),
      receiveAnnounce: (peer, event) => service.#receiveAnnounce(peer, event),
      report: (error, peer, op) => service.#report(error, peer, op),
    });
    await libp2p.handle(SYNC_PROTOCOL, handler, {
      runOnLimitedConnection: options.runOnLimitedConnection ?? false,
    });
    libp2p.addEventListener('connection:open', service.#onConnectionOpen);
    libp2p.addEventListener('peer:disconnect', service.#onPeerDisconnect);
    for (const c of libp2p.getConnections()) service.#onConnection(c);
    return service;
  }

  async stop(): Promise<void> {
    if (this.#stopping.signal.aborted) return;
    this.#stopping.abort(new SyncClosedError('The sync service stopped.'));
    this.#libp2p.removeEventListener('connection:open', this.#onConnectionOpen);
    this.#libp2p.removeEventListener('peer:disconnect', this.#onPeerDisconnect);
    for (const off of this.#unsubscribe.splice(0)) off();
    this.#streams.closeAll();
    await this.#libp2p.unhandle(SYNC_PROTOCOL);
    await this.#recorder.stop();
  }

  // -------------------------------------------------------------------------------------------
  // Local changes

  /**
   * Records this handle's local changes from now on (edits made here, not changes received
   * from peers or other tabs) and announces them. Idempotent.
   */
  track<T>(handle: DocHandle<T>): void {
    if (!this.#stopping.signal.aborted) this.#recorder.track(handle);
  }

  // -------------------------------------------------------------------------------------------
  // Peers

  #onConnectionOpen = (evt: CustomEvent<Connection>): void => this.#onConnection(evt.detail);

  #onPeerDisconnect = (evt: CustomEvent<PeerId>): void => {
    this.#streams.disconnected(evt.detail.toString());
  };

  #usable(c: Connection): boolean {
    return c.status === 'open' && (!c.limits || (this.#opts.runOnLimitedConnection ?? false));
  }

  #onConnection(c: Connection): void {
    if (!this.#usable(c) || this.#stopping.signal.aborted) return;
    if (this.#opts.catchUpOnConnect ?? true) {
      const peer = c.remotePeer.toString();
      this.catchUp(peer).catch((e) => this.#report(e, peer, 'catch-up'));
    }
  }

  /** Connected peers that may speak the protocol. */
  #peers(): string[] {
    const out = new Set<string>();
    for (const c of this.#libp2p.getConnections()) {
      const p = c.remotePeer.toString();
      if (this.#usable(c) && !this.#streams.isMute(p)) out.add(p);
    }
    return [...out];
  }

  /** Pushes `event` to every connected peer that may receive its document. */
  #announce(event: SyncEvent): void {
    const frame = encodeSyncMessage({ type: 'Announce', event }, this.#maxFrameBytes);
    for (const peer of this.#peers()) {
      void this.#pushes.run(peer, async () => {
        if (await this.#mayReceive(peerIdFromString(peer), event.doc_id)) {
          await this.#streams.send(peer, frame);
        }
      });
    }
  }

  /** The audience's answer; a failing audience refuses (and is reported). */
  async #mayReceive(peer: PeerId, docId: string): Promise<boolean> {
    const audience = this.#opts.mayReceive;
    if (!audience) return true;
    try {
      return (await audience(peer, docId)) === true;
    } catch (e) {
      this.#report(e, peer.toString(), 'audience');
      return false;
    }
  }

  async #dial(peer: string, signal: AbortSignal): Promise<Stream> {
    return this.#libp2p.dialProtocol(peerIdFromString(peer), SYNC_PROTOCOL, {
      signal,
      runOnLimitedConnection: this.#opts.runOnLimitedConnection ?? false,
    });
  }

  #report(error: unknown, peer: string, op: string): void {
    this.emit('error', { error, peer, op });
  }

  // -------------------------------------------------------------------------------------------
  // Client

  /** One request on its own stream, one answer. `Error` answers throw `RemoteSyncError`. */
  async #request(
    peer: string,
    req: SyncRequestMessage,
    opts: Abortable,
  ): Promise<Exclude<SyncResponseMessage, { type: 'Error' }>> {
    const d = deadline(this.#timeoutMs, `waiting for ${peer} to answer ${req.type}`, opts.signal);
    let stream: Stream | undefined;
    let reader: FrameReader | undefined;
    try {
      stream = await this.#dial(peer, d.signal);
      reader = new FrameReader(stream);
      await writeFrame(stream, encodeSyncMessage(req, this.#maxFrameBytes), { signal: d.signal });
      const payload = await reader.read({ maxFrameBytes: this.#maxFrameBytes, signal: d.signal });
      if (payload === undefined) {
        throw new SyncProtocolError(
          `Peer ${peer} closed the stream without answering ${req.type}.`,
        );
      }
      await stream.close({ signal: d.signal });
      const answer = decodeSyncResponse(payload, this.#maxFrameBytes);
      if (answer.type === 'Error') throw new RemoteSyncError(peer, answer.message);
      return answer;
    } catch (e) {
      stream?.abort(toError(e));
      if (e instanceof SyncError) throw e;
      if (d.signal.aborted) throw d.signal.reason;
      if (e instanceof FrameTooLargeError) {
        throw new SyncFrameTooLargeError(e.size, e.cap, SYNC_PROTOCOL);
      }
      // Dial and stream failures: typed, so that they never pass for our own stream's.
      throw new SyncClosedError(`${req.type} to ${peer} failed: ${errorMessage(e)}`, { cause: e });
    } finally {
      reader?.dispose();
      d.done();
    }
  }

  /**
   * Fetches and stores everything `peer` logged after what we hold contiguously (Backfill).
   * Resolves with the number of events stored.
   */
  catchUp(peer: PeerId | string, opts: Abortable = {}): Promise<number> {
    const origin = peer.toString();
    return this.#origins.run(origin, async () => {
      opts.signal?.throwIfAborted();
      return this.#backfill(origin, await this.#log.contiguous(origin), undefined, opts);
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
    opts: Abortable,
  ): Promise<{ events: SyncEvent[]; through: number; more: boolean }> {
    const limit = Math.min(this.#pageSize, until === undefined ? Infinity : until - since);
    const answer = await this.#request(peer, { type: 'SyncRequest', since, limit }, opts);
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
    opts: Abortable,
  ): Promise<number> {
    await this.#ensureChanges(peer, page.events, opts);
    const added = await this.#log.addRemote(
      peer,
      page.events.map((event) => ({ event, kind: 'Backfill' as const })),
      { after: since, through: page.through },
    );
    for (const e of added) this.emit('activity', { event: e, kind: 'Backfill', peer });
    return added.length;
  }

  /** SyncRequest pages after `since` (up to `until` when given); stores them as Backfill. */
  async #backfill(
    peer: string,
    since: number,
    until: number | undefined,
    opts: Abortable,
  ): Promise<number> {
    let cursor = since;
    let stored = 0;
    for (;;) {
      if (until !== undefined && cursor >= until) return stored;
      const page = await this.#page(peer, cursor, until, opts);
      stored += await this.#storePage(peer, cursor, page, opts);
      cursor = page.through;
      if (!page.more) return stored;
    }
  }

  /**
   * Handles a pushed event from `peer` (serialised per origin). One right after the last we
   * hold is New. After a gap, the gap is asked for first: the peer sends no events about
   * documents we may not receive, so a gap holding none for us makes this one New too;
   * otherwise it is an Outlier, and the rest of the gap is filled as Backfill.
   */
  #receiveAnnounce(peer: string, event: SyncEvent): Promise<void> {
    return this.#origins.run(peer, async () => {
      const existing = await this.#log.remoteEvent(peer, event.position);
      if (existing?.change_hash === event.change_hash && existing.doc_id === event.doc_id) return;
      const contiguous = await this.#log.contiguous(peer);
      if (event.position > contiguous + this.#maxGap) {
        throw new PositionOutOfRangeError(
          `Announced position ${event.position} is more than ${this.#maxGap} past the last ` +
            `position held from ${peer} (${contiguous}); nothing was stored. Positions count ` +
            'the sender’s own events from 1, with no gaps.',
        );
      }
      await this.#ensureChanges(peer, [event], {});
      const store = async (
        kind: 'New' | 'Outlier',
        covers?: { after: number; through: number },
      ) => {
        // A conflicting stored event makes addRemote throw ConflictingEventError.
        const added = await this.#log.addRemote(peer, [{ event, kind }], covers);
        for (const e of added) this.emit('activity', { event: e, kind, peer });
      };
      const gapEnd = event.position - 1;
      if (gapEnd <= contiguous) return store('New');
      // Failures leave the gap for the next catch-up.
      const first = await this.#page(peer, contiguous, gapEnd, {}).catch((e) => {
        this.#report(e, peer, 'backfill');
        return undefined;
      });
      if (first?.events.length === 0) return store('New', { after: contiguous, through: gapEnd });
      await store('Outlier');
      if (!first) return;
      try {
        await this.#storePage(peer, contiguous, first, {});
        if (first.more) await this.#backfill(peer, first.through, gapEnd, {});
      } catch (e) {
        this.#report(e, peer, 'backfill');
      }
    });
  }

  // -------------------------------------------------------------------------------------------
  // Documents

  /** The Repo's handle for `id`: loaded from storage if there, else an empty one to fill. */
  async #handle(
    id: DocumentId,
    states: string[],
    signal?: AbortSignal,
  ): Promise<DocHandle<unknown>> {
    const cached = this.#repo.handles[id];
    if (cached?.isReady()) return cached;
    return this.#repo.find(id, { allowableStates: states, ...(signal ? { signal } : {}) });
  }

  /**
   * Makes sure the changes of `events` are in the local documents: asks `peer` for what is
   * missing (DocRequest with our heads), checks it, applies it. Throws before applying
   * anything when the answer is unusable.
   */
  async #ensureChanges(peer: string, events: readonly SyncEvent[], opts: Abortable): Promise<void> {
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
      const d = deadline(this.#timeoutMs, `loading document ${docId}`, opts.signal);
      let handle: DocHandle<unknown>;
      try {
        handle = await this.#handle(id, ['ready', 'requesting', 'unavailable'], d.signal);
      } catch (e) {
        throw d.signal.aborted ? d.signal.reason : e;
      } finally {
        d.done();
      }
      const doc = handle.isReady() ? handle.doc() : undefined;
      const missing = [...hashes].filter((h) => !doc || !hasHeads(doc, [h]));
      if (missing.length > 0) {
        const heads = doc ? getHeads(doc) : [];
        const answer = await this.#request(peer, { type: 'DocRequest', docId, heads }, opts);
        if (answer.type !== 'DocResponse' || answer.docId !== docId) {
          throw new SyncProtocolError(
            `Peer ${peer} answered a DocRequest for ${docId} with ${
              answer.type === 'DocResponse' ? `changes of ${answer.docId}` : answer.type
            }.`,
          );
        }
        applyCheckedChanges(peer, handle, answer.changes, missing);
      }
      this.track(handle);
    }
  }
}
