/**
 * The sync service: stream positions over `/elohim/sync/1.0.0` (wire format: `codec.ts`).
 *
 * Sending side. Every change made here to a tracked document (see {@link SyncService.track})
 * becomes a Local event in the {@link EventLog} with the next position, and is pushed as
 * `{"Announce": [event]}` to every connected peer, on one long-lived stream per peer; so are
 * the edits other tabs record (their {@link ChangeRecorder} and the EventLog's cross-tab
 * notices), once the change has reached this tab's Repo. The
 * service answers `SyncRequest{since, limit}` with its own Local events (paged, `has_more`)
 * and `DocRequest{doc_id, heads}` with `Automerge.getChangesSince` the asker's heads (those
 * it knows), for documents it shares: the ones named in its event log.
 *
 * Receiving side. Events from a peer are its own Local events; its libp2p PeerId (which the
 * connection authenticates) is their `origin`. Per origin, one at a time:
 *  - an Announce at position contiguous+1 is `New`; further ahead it is `Outlier`, and the
 *    gap is then fetched with SyncRequest{since: contiguous, limit} pages (`Backfill`);
 *  - on connect, SyncRequest{since: contiguous} pages fetch everything missed (`Backfill`);
 *  - before an event is stored, its change must be in the local document: if it is not, a
 *    DocRequest with our heads fetches the missing changes, which are checked (decodable,
 *    dependencies present, announced change included) and then applied to the Repo's handle.
 * Bad input (malformed or oversized frames, unknown documents, positions past the end of
 * the log or more than `maxGap` ahead, limits out of range, unusable changes, a position
 * re-used for another change) gets `{"Error": message}` and stores nothing; an oversized
 * frame also ends that stream (cleanly when the peer finishes sending, else with a reset).
 *
 * Activity: `service.on('activity', ({event, kind, peer}) => …)` for every stored event
 * (`peer` is the origin, our own PeerId for Local); `service.on('error', …)` for failures
 * that have no caller to reject (background catch-up, pushes, answers we refused).
 */

import {
  applyChanges,
  decodeChange,
  getChangesSince,
  getHeads,
  hasHeads,
} from '@automerge/automerge/slim';
import type { DocHandle, DocumentId, Repo } from '@automerge/automerge-repo/slim';
import { isValidDocumentId } from '@automerge/automerge-repo/slim';
import type { Connection, Libp2p, PeerId, Stream } from '@libp2p/interface';
import { peerIdFromString } from '@libp2p/peer-id';
import { FrameTooLargeError, TruncatedFrameError } from '../net/shard/errors.ts';
import { FrameReader, writeFrame } from '../net/shard/stream.ts';
import type { Libp2pSyncNode } from './adapter.ts';
import {
  DEFAULT_MAX_FRAME_BYTES,
  DEFAULT_MAX_LIMIT,
  decodeSyncRequest,
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
  BadChangesError,
  LimitOutOfRangeError,
  PositionOutOfRangeError,
  RemoteSyncError,
  SyncClosedError,
  SyncError,
  SyncFrameTooLargeError,
  SyncProtocolError,
  SyncTimeoutError,
  UnknownDocumentError,
} from './errors.ts';
import type { EventLog, StoredNotice } from './event-log.ts';
import { ChangeRecorder } from './recorder.ts';

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
type Doc = Parameters<typeof getHeads>[0];

/** A signal that aborts on the caller's signal or after `ms`, with a typed reason. */
function deadline(
  ms: number,
  what: string,
  outer?: AbortSignal,
): { signal: AbortSignal; done(): void } {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(new SyncTimeoutError(what, ms)), ms);
  const onAbort = () => ac.abort(outer?.reason);
  if (outer?.aborted) onAbort();
  else outer?.addEventListener('abort', onAbort, { once: true });
  return {
    signal: ac.signal,
    done() {
      clearTimeout(timer);
      outer?.removeEventListener('abort', onAbort);
    },
  };
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function toError(e: unknown): Error {
  return e instanceof Error ? e : new Error(String(e));
}

/** Runs tasks one after another per key. */
class KeyedQueue {
  private readonly tails = new Map<string, Promise<unknown>>();
  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    const next = prev.then(task, task);
    const tail = next.catch(() => {});
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return next;
  }
}

/** Our long-lived Announce stream to one peer. */
interface PushLink {
  stream: Stream;
  writes: Promise<void>;
}

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
  readonly #push = new Map<string, Promise<PushLink | undefined>>();
  /** Peers that do not speak the sync protocol (until they disconnect). */
  readonly #mute = new Set<string>();
  readonly #stopping = new AbortController();
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
    await libp2p.handle(SYNC_PROTOCOL, service.#serve, {
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
    for (const p of this.#push.values()) {
      void p.then((l) => l?.stream.abort(new SyncClosedError('The sync service stopped.')));
    }
    this.#push.clear();
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
    const peer = evt.detail.toString();
    this.#mute.delete(peer);
    this.#push.delete(peer);
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
      if (this.#usable(c) && !this.#mute.has(p)) out.add(p);
    }
    return [...out];
  }

  #announce(event: SyncEvent): void {
    const frame = encodeSyncMessage({ type: 'Announce', event }, this.#maxFrameBytes);
    for (const peer of this.#peers()) {
      void this.#pushLink(peer).then((link) => {
        if (!link) return;
        const p = link.writes.then(() =>
          writeFrame(link.stream, frame, { timeoutMs: this.#timeoutMs }),
        );
        link.writes = p.catch((e) => {
          this.#report(e, peer, 'announce');
          link.stream.abort(toError(e));
          void this.#forgetPush(peer, link);
        });
      });
    }
  }

  /** The Announce stream to `peer`, opened on first use; undefined if it cannot be. */
  #pushLink(peer: string): Promise<PushLink | undefined> {
    let p = this.#push.get(peer);
    if (p) return p;
    p = (async () => {
      let stream: Stream;
      try {
        stream = await this.#dial(peer, this.#stopping.signal);
      } catch (e) {
        this.#mute.add(peer);
        this.#push.delete(peer);
        this.#report(e, peer, 'announce');
        return undefined;
      }
      const link: PushLink = { stream, writes: Promise.resolve() };
      void this.#readPushAnswers(peer, link);
      return link;
    })();
    this.#push.set(peer, p);
    return p;
  }

  /** Drops `link` as the peer's Announce stream (unless a newer one replaced it). */
  async #forgetPush(peer: string, link: PushLink): Promise<void> {
    const current = this.#push.get(peer);
    if (current && (await current) === link && this.#push.get(peer) === current) {
      this.#push.delete(peer);
    }
  }

  /** The peer answers an Announce only to refuse it: report those, drop the link at its end. */
  async #readPushAnswers(peer: string, link: PushLink): Promise<void> {
    const reader = new FrameReader(link.stream);
    try {
      for (;;) {
        const payload = await reader.read({ maxFrameBytes: this.#maxFrameBytes });
        if (payload === undefined) {
          // The peer ended its side (it stopped): end ours after the queued Announces.
          await link.writes;
          await link.stream.close({ signal: AbortSignal.timeout(this.#timeoutMs) });
          break;
        }
        const answer = decodeSyncResponse(payload, this.#maxFrameBytes);
        this.#report(
          answer.type === 'Error'
            ? new RemoteSyncError(peer, answer.message)
            : new SyncProtocolError(`Peer ${peer} answered an Announce with ${answer.type}.`),
          peer,
          'announce',
        );
      }
    } catch (e) {
      if (!this.#stopping.signal.aborted) this.#report(e, peer, 'announce');
      link.stream.abort(toError(e));
    } finally {
      reader.dispose();
      await this.#forgetPush(peer, link);
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
      throw new SyncClosedError(`${req.type} to ${peer} failed: ${message(e)}`, { cause: e });
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
      const limit = Math.min(this.#pageSize, until === undefined ? Infinity : until - cursor);
      if (limit <= 0) return stored;
      const answer = await this.#request(peer, { type: 'SyncRequest', since: cursor, limit }, opts);
      if (answer.type !== 'SyncResponse') {
        throw new SyncProtocolError(`Peer ${peer} answered a SyncRequest with ${answer.type}.`);
      }
      const { events, hasMore } = answer;
      // The peer's own log has no gaps: a page is exactly cursor+1, cursor+2, …
      if (events.length > limit || events.some((e, i) => e.position !== cursor + 1 + i)) {
        throw new SyncProtocolError(
          `Peer ${peer} answered SyncRequest{since: ${cursor}, limit: ${limit}} with positions ` +
            `[${events.map((e) => e.position).join(', ')}]; expected ${cursor + 1} onwards, ` +
            `at most ${limit}, without gaps. Nothing was stored.`,
        );
      }
      if (events.length === 0) {
        if (hasMore) {
          throw new SyncProtocolError(`Peer ${peer} sent an empty page with has_more set.`);
        }
        return stored;
      }
      await this.#ensureChanges(peer, events, opts);
      const added = await this.#log.addRemote(
        peer,
        events.map((event) => ({ event, kind: 'Backfill' as const })),
      );
      for (const e of added) this.emit('activity', { event: e, kind: 'Backfill', peer });
      stored += added.length;
      cursor = (events[events.length - 1] as SyncEvent).position;
      if (!hasMore) return stored;
    }
  }

  /** Handles a pushed event from `peer` (serialised per origin). */
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
      const kind = event.position === contiguous + 1 ? 'New' : 'Outlier';
      // A conflicting stored event makes addRemote throw ConflictingEventError.
      const added = await this.#log.addRemote(peer, [{ event, kind }]);
      for (const e of added) this.emit('activity', { event: e, kind, peer });
      if (kind === 'Outlier') {
        // Fill the gap contiguous+1 … position-1; failures leave it for the next catch-up.
        await this.#backfill(peer, contiguous, event.position - 1, {}).catch((e) =>
          this.#report(e, peer, 'backfill'),
        );
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
        this.#apply(peer, handle, answer.changes, missing);
      }
      this.track(handle);
    }
  }

  /** Checks `changes` against the handle's document, then applies them in one update. */
  #apply(
    peer: string,
    handle: DocHandle<unknown>,
    changes: Uint8Array[],
    required: readonly string[],
  ): void {
    const docId = handle.documentId;
    const doc = handle.isReady() ? handle.doc() : undefined;
    const has = (h: string) => doc !== undefined && hasHeads(doc, [h]);
    const batch = new Set<string>();
    const deps: string[] = [];
    for (const [i, c] of changes.entries()) {
      try {
        const decoded = decodeChange(c);
        batch.add(decoded.hash);
        deps.push(...decoded.deps);
      } catch (e) {
        throw new BadChangesError(peer, docId, `change ${i} does not decode (${message(e)})`);
      }
    }
    const absent = required.filter((h) => !batch.has(h) && !has(h));
    if (absent.length > 0) {
      throw new BadChangesError(
        peer,
        docId,
        `announced change(s) ${absent.join(', ')} are missing`,
      );
    }
    const unmet = deps.filter((h) => !batch.has(h) && !has(h));
    if (unmet.length > 0) {
      throw new BadChangesError(peer, docId, `dependencies ${unmet.join(', ')} are missing`);
    }
    const ready = handle.isReady();
    handle.update((d) => applyChanges(d, changes)[0]);
    if (!ready) handle.doneLoading();
  }

  // -------------------------------------------------------------------------------------------
  // Server

  #serve = async (stream: Stream, connection: Connection): Promise<void> => {
    const peer = connection.remotePeer.toString();
    const reader = new FrameReader(stream);
    const send = (answer: SyncResponseMessage) =>
      writeFrame(stream, this.#encodeAnswer(answer), { timeoutMs: this.#timeoutMs });
    try {
      for (;;) {
        const payload = await reader.read({ maxFrameBytes: this.#maxFrameBytes });
        if (payload === undefined) break;
        let answer: SyncResponseMessage | undefined;
        try {
          answer = await this.#answer(peer, decodeSyncRequest(payload));
        } catch (e) {
          this.#report(e, peer, 'serve');
          answer = { type: 'Error', message: message(e) };
        }
        if (answer) await send(answer);
      }
      await stream.close({ signal: AbortSignal.timeout(this.#timeoutMs) });
    } catch (e) {
      const error =
        e instanceof FrameTooLargeError
          ? new SyncFrameTooLargeError(e.size, e.cap, SYNC_PROTOCOL)
          : e;
      if (!this.#stopping.signal.aborted) this.#report(error, peer, 'serve');
      const framing = e instanceof FrameTooLargeError || e instanceof TruncatedFrameError;
      if (framing && stream.writeStatus === 'writable') {
        // Say why, then let the peer finish sending so that it can read the answer.
        try {
          reader.discardRest();
          await send({ type: 'Error', message: message(error) });
          await stream.close({ signal: AbortSignal.timeout(this.#timeoutMs) });
          if (await reader.waitEnd(Math.min(this.#timeoutMs, 5_000))) return;
        } catch {}
      }
      stream.abort(toError(error));
    } finally {
      reader.dispose();
    }
  };

  /** The answer frame; an answer over the frame cap becomes an Error saying so. */
  #encodeAnswer(answer: SyncResponseMessage): Uint8Array {
    try {
      return encodeSyncMessage(answer, this.#maxFrameBytes);
    } catch (e) {
      if (!(e instanceof SyncFrameTooLargeError)) throw e;
      return encodeSyncMessage({ type: 'Error', message: e.message }, this.#maxFrameBytes);
    }
  }

  async #answer(peer: string, req: SyncRequestMessage): Promise<SyncResponseMessage | undefined> {
    switch (req.type) {
      case 'SyncRequest': {
        if (req.limit < 1 || req.limit > this.#maxLimit) {
          throw new LimitOutOfRangeError(req.limit, this.#maxLimit);
        }
        const head = await this.#log.localHead();
        if (req.since > head) {
          throw new PositionOutOfRangeError(
            `SyncRequest since ${req.since} is past the end of this peer's log (last position ` +
              `${head}). Its log may have been reset: sync again from 0.`,
          );
        }
        const { events, hasMore } = await this.#log.localSince(req.since, req.limit);
        return { type: 'SyncResponse', events, hasMore };
      }
      case 'DocRequest': {
        const id = req.docId as DocumentId;
        if (
          !isValidDocumentId(req.docId) ||
          (!this.#recorder.isTracking(id) && !(await this.#log.knowsDoc(req.docId)))
        ) {
          throw new UnknownDocumentError(req.docId);
        }
        const d = deadline(this.#timeoutMs, `loading document ${req.docId}`, this.#stopping.signal);
        let doc: Doc;
        try {
          doc = (await this.#handle(id, ['ready'], d.signal)).doc() as typeof doc;
        } catch (e) {
          // The Repo rejects with its own AbortError: report our reason (timeout or stop).
          if (d.signal.aborted) throw d.signal.reason;
          throw new UnknownDocumentError(req.docId, { cause: e });
        } finally {
          d.done();
        }
        const known = req.heads.filter((h) => hasHeads(doc, [h]));
        return { type: 'DocResponse', docId: req.docId, changes: getChangesSince(doc, known) };
      }
      case 'Announce':
        await this.#receiveAnnounce(peer, req.event);
        return undefined;
    }
  }
}
