/**
 * The sync service: stream positions over `/elohim/positions/1.0.0` (wire format: `codec.ts`)
 * and the Rust node's document sync over `/elohim/sync/1.0.0` (`doc-sync*.ts`: answering
 * GetHeads, SyncChanges, GetChanges, AnnounceChange and ListDocuments about the documents
 * shared here, to each peer as its audience admits). Positions are composed of three parts that
 * share the event log:
 *  - serving (`protocol.ts`, `server.ts`): SyncRequest pages of our Local events, DocRequests
 *    for the documents we share, the Announces peers push (handed to pulling);
 *  - pulling (`pull.ts`): catching up with each peer as it connects (Backfill), classifying
 *    what peers push (New, Outlier), applying the changes an event names before storing it;
 *  - pushing (`push.ts`): recording local edits (`recorder.ts`) and those of other tabs as
 *    Local events and announcing each to the connected peers that may receive its document.
 * Bad input (malformed or oversized frames, unknown documents, positions past the end of
 * the log or more than `maxGap` ahead, limits out of range, unusable changes, a position
 * re-used for another change) gets `{"Error": message}` and stores nothing; an oversized
 * frame also ends that stream (cleanly when the peer finishes sending, else with a reset).
 *
 * Events (`TypedEventEmitter`, listeners get `CustomEvent.detail`): `activity` for every
 * stored event, `{event, kind, peer}` (`peer` is the origin, our own PeerId for Local);
 * `error`, `{error, peer, op}`, for failures that have no caller to reject (background
 * catch-up, pushes, answers we refused).
 */

import type { DocHandle, Repo } from '@automerge/automerge-repo/slim';
import type { Libp2p, PeerId } from '@libp2p/interface';
import { type AbortOptions, logger, TypedEventEmitter } from '../wire/index.ts';
import type { Libp2pSyncNode } from './adapter.ts';
import type { DocAudience, DocKeeping } from './audience.ts';
import {
  DEFAULT_MAX_FRAME_BYTES,
  DEFAULT_MAX_LIMIT,
  type EventKind,
  type SyncEvent,
} from './codec.ts';
import { type DocSyncProtocol, docSyncProtocol } from './doc-sync.ts';
import { type DocTracker, findHandle } from './documents.ts';
import type { EventLog } from './event-log.ts';
import { type SyncProtocol, syncProtocol } from './protocol.ts';
import { Puller } from './pull.ts';
import { Pusher } from './push.ts';
import { ChangeRecorder } from './recorder.ts';
import type { Doc } from './server.ts';

const log = logger('sync');

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
  /**
   * Which documents, as the changes a peer sends would make them, to keep (`keepCommonsDescriptions`
   * on a doorway): pulled changes of the others are not applied nor their events stored, and an
   * AnnounceChange over `/elohim/sync/1.0.0` that would make one of them is refused. Default: all.
   */
  mayKeep?: DocKeeping;
}

export interface SyncActivity {
  event: SyncEvent;
  kind: EventKind;
  /** The event's origin (our own PeerId for Local). */
  peer: string;
}

/** A failure with no caller to reject: `op` says what was under way with `peer`. */
export interface SyncFailure {
  error: unknown;
  peer: string;
  op: string;
}

export interface SyncServiceEvents {
  activity: CustomEvent<SyncActivity>;
  error: CustomEvent<SyncFailure>;
}

export class SyncService extends TypedEventEmitter<SyncServiceEvents> implements DocTracker {
  readonly #audience: DocAudience | undefined;
  readonly #recorder: ChangeRecorder;
  readonly #protocol: SyncProtocol;
  readonly #docSync: DocSyncProtocol;
  readonly #puller: Puller;
  readonly #pusher: Pusher;
  #stopped = false;
  /** See {@link ChangeRecorder.restored}. */
  readonly restored: Promise<void>;

  private constructor(
    libp2p: Libp2pSyncServiceNode,
    repo: Repo,
    eventLog: EventLog,
    options: SyncServiceOptions,
  ) {
    super();
    this.#audience = options.mayReceive;
    const self = libp2p.peerId.toString();
    const maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    const maxLimit = options.maxLimit ?? DEFAULT_MAX_LIMIT;
    const timeoutMs = options.timeoutMs ?? 30_000;
    const report = (error: unknown, peer: string, op: string) => this.#report(error, peer, op);
    const mayReceive = (peer: PeerId, docId: string) => this.#mayReceive(peer, docId);
    this.#recorder = new ChangeRecorder(repo, eventLog);
    const shares = async (id: string) => this.#recorder.isTracking(id) || eventLog.knowsDoc(id);
    this.restored = this.#recorder.restored;
    this.#protocol = syncProtocol({
      log: eventLog,
      maxFrameBytes,
      maxLimit,
      timeoutMs,
      runOnLimitedConnection: options.runOnLimitedConnection ?? false,
      shares,
      load: async (id, signal) => (await findHandle(repo, id, ['ready'], signal)).doc() as Doc,
      mayReceive,
      receiveAnnounce: (peer, event) => this.#puller.receiveAnnounce(peer, event),
      report,
    })(libp2p);
    this.#docSync = docSyncProtocol({
      maxFrameBytes,
      timeoutMs,
      runOnLimitedConnection: options.runOnLimitedConnection ?? false,
      sharedDocs: async () => [...this.#recorder.tracked(), ...(await eventLog.knownDocs())],
      shares,
      open: (id, signal) => findHandle(repo, id, ['ready'], signal),
      mayReceive,
      ...(options.mayKeep ? { mayKeep: options.mayKeep } : {}),
      report,
    })(libp2p);
    this.#puller = new Puller({
      node: libp2p,
      protocol: this.#protocol,
      repo,
      log: eventLog,
      pageSize: Math.min(options.pageSize ?? 100, maxLimit),
      maxGap: options.maxGap ?? 100_000,
      timeoutMs,
      catchUpOnConnect: options.catchUpOnConnect ?? true,
      ...(options.mayKeep ? { mayKeep: options.mayKeep } : {}),
      track: (handle) => this.track(handle),
      stored: (event, kind, peer) => this.#activity({ event, kind, peer }),
      report,
    });
    this.#pusher = new Pusher({
      node: libp2p,
      protocol: this.#protocol,
      repo,
      log: eventLog,
      recorder: this.#recorder,
      maxFrameBytes,
      timeoutMs,
      mayReceive,
      local: (event) => this.#activity({ event, kind: 'Local', peer: self }),
      report,
    });
  }

  /**
   * Registers the protocol, re-tracks the documents named in the log (loading them from the
   * Repo's storage in the background) and catches up with the peers already connected.
   */
  static async start(
    libp2p: Libp2pSyncServiceNode,
    repo: Repo,
    eventLog: EventLog,
    options: SyncServiceOptions = {},
  ): Promise<SyncService> {
    const service = new SyncService(libp2p, repo, eventLog, options);
    service.#pusher.start();
    await service.#protocol.start();
    await service.#docSync.start();
    service.#puller.start();
    return service;
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#puller.stop();
    this.#pusher.stop();
    await this.#protocol.stop();
    await this.#docSync.stop();
    await this.#recorder.stop();
  }

  /**
   * Records this handle's local changes from now on (edits made here, not changes received
   * from peers or other tabs) and announces them. Idempotent.
   */
  track<T>(handle: DocHandle<T>): void {
    if (!this.#stopped) this.#recorder.track(handle);
  }

  /**
   * Fetches and stores everything `peer` logged after what we hold contiguously (Backfill).
   * Resolves with the number of events stored.
   */
  catchUp(peer: PeerId | string, options: AbortOptions = {}): Promise<number> {
    return this.#puller.catchUp(peer, options);
  }

  /** The audience's answer; a failing audience refuses (and is reported). */
  async #mayReceive(peer: PeerId, docId: string): Promise<boolean> {
    if (!this.#audience) return true;
    try {
      return (await this.#audience(peer, docId)) === true;
    } catch (e) {
      this.#report(e, peer.toString(), 'audience');
      return false;
    }
  }

  #activity(activity: SyncActivity): void {
    this.safeDispatchEvent('activity', { detail: activity });
  }

  #report(error: unknown, peer: string, op: string): void {
    log.error('%s with %s failed: %e', op, peer, error);
    this.safeDispatchEvent('error', { detail: { error, peer, op } });
  }
}
