/**
 * The sending side of `/elohim/positions/1.0.0`. Every change made here to a tracked document
 * becomes a Local event (the {@link ChangeRecorder}) and is pushed as `{"Announce": [event]}`
 * to every connected peer that may receive its document (`mayReceive`); so are the edits
 * other tabs record (the EventLog's cross-tab notices), once the change has reached this
 * tab's Repo, so that this tab can serve it ({@link Pusher}).
 *
 * Our long-lived Announce streams, one per peer, opened on first use ({@link AnnounceStreams}).
 * Frames go out in the order they are queued; the peer answers only to refuse an Announce
 * (reported), and when it ends its side we end ours after what is queued. A peer that cannot
 * be dialled for the protocol is muted until it disconnects.
 */
import { hasHeads } from '@automerge/automerge/slim';
import type { DocumentId, Repo } from '@automerge/automerge-repo/slim';
import type { Libp2p, PeerId, Stream } from '@libp2p/interface';
import { peerIdFromString } from '@libp2p/peer-id';
import { FrameReader, KeyedLock, listen, writeFrame } from '../wire/index.ts';
import { decodeSyncResponse, encodeSyncMessage, type SyncEvent } from './codec.ts';
import { findHandle } from './documents.ts';
import { RemoteSyncError, SyncClosedError, SyncProtocolError, toError } from './errors.ts';
import type { EventLog, StoredNotice } from './event-log.ts';
import { timeLimit } from './flow.ts';
import type { SyncProtocol } from './protocol.ts';
import type { ChangeRecorder, RecorderError } from './recorder.ts';
import type { Doc } from './server.ts';

export interface PushInit {
  node: Pick<Libp2p, 'peerId' | 'getConnections' | 'addEventListener' | 'removeEventListener'>;
  protocol: Pick<SyncProtocol, 'dial' | 'usable'>;
  repo: Repo;
  log: EventLog;
  recorder: ChangeRecorder;
  maxFrameBytes: number;
  /** Per write, and for waiting for another tab's change. */
  timeoutMs: number;
  /** The audience's answer (never throws). */
  mayReceive(peer: PeerId, docId: string): Promise<boolean>;
  /** A Local event, recorded here or in another tab, is about to be announced. */
  local(event: SyncEvent): void;
  report(error: unknown, peer: string, op: string): void;
}

export class Pusher {
  readonly #init: PushInit;
  readonly #self: string;
  /** Announces to each peer, in order (each waits for the audience's answer). */
  readonly #pushes = new KeyedLock();
  #run: { stopping: AbortController; streams: AnnounceStreams; off: (() => void)[] } | undefined;

  constructor(init: PushInit) {
    this.#init = init;
    this.#self = init.node.peerId.toString();
  }

  start(): void {
    if (this.#run) return;
    const { node, log, recorder, maxFrameBytes, timeoutMs, report } = this.#init;
    const stopping = new AbortController();
    const streams = new AnnounceStreams({
      dial: (peer, signal) => this.#init.protocol.dial(peer, signal),
      maxFrameBytes,
      timeoutMs,
      stopping: stopping.signal,
      report,
    });
    const onPeerDisconnect = (evt: CustomEvent<PeerId>) =>
      streams.disconnected(evt.detail.toString());
    node.addEventListener('peer:disconnect', onPeerDisconnect);
    this.#run = {
      stopping,
      streams,
      off: [
        () => node.removeEventListener('peer:disconnect', onPeerDisconnect),
        listen<SyncEvent>(recorder, 'recorded', (event) => this.#localEvent(event)),
        listen<RecorderError>(recorder, 'error', ({ error }) =>
          report(error, this.#self, 'record'),
        ),
        // Edits recorded in other tabs: this tab runs the node, so it announces them, once the
        // change has reached this tab's Repo (BroadcastChannel) so that it can serve it.
        listen<StoredNotice>(log, 'stored', (n) => {
          if (n.here || n.kind !== 'Local') return;
          void this.#whenApplied(n.event, stopping.signal).then(() => this.#localEvent(n.event));
        }),
      ],
    };
  }

  /** Stops announcing and aborts every Announce stream. */
  stop(): void {
    const run = this.#run;
    if (!run) return;
    this.#run = undefined;
    run.stopping.abort(new SyncClosedError('The sync service stopped.'));
    for (const off of run.off) off();
    run.streams.closeAll();
  }

  #localEvent(event: SyncEvent): void {
    this.#init.local(event);
    this.#announce(event);
  }

  /** Pushes `event` to every connected peer that may receive its document. */
  #announce(event: SyncEvent): void {
    const run = this.#run;
    if (!run) return;
    const frame = encodeSyncMessage({ type: 'Announce', event }, this.#init.maxFrameBytes);
    for (const peer of this.#peers(run.streams)) {
      void this.#pushes.run(peer, async () => {
        if (await this.#init.mayReceive(peerIdFromString(peer), event.doc_id)) {
          await run.streams.send(peer, frame);
        }
      });
    }
  }

  /** Connected peers that may speak the protocol. */
  #peers(streams: AnnounceStreams): string[] {
    const out = new Set<string>();
    for (const c of this.#init.node.getConnections()) {
      const p = c.remotePeer.toString();
      if (this.#init.protocol.usable(c) && !streams.isMute(p)) out.add(p);
    }
    return [...out];
  }

  /** Resolves when this Repo holds the event's change, or after `timeoutMs` regardless. */
  async #whenApplied(event: SyncEvent, stopping: AbortSignal): Promise<void> {
    const { repo, timeoutMs } = this.#init;
    const d = timeLimit({ signal: stopping }, timeoutMs, 'waiting for another tab’s change');
    try {
      const handle = await findHandle(repo, event.doc_id as DocumentId, ['ready'], d.signal);
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
      this.#init.report(e, this.#self, 'record');
    } finally {
      d.done();
    }
  }
}

interface PushLink {
  stream: Stream;
  writes: Promise<void>;
}

export interface AnnounceStreamsOptions {
  dial(peer: string, signal: AbortSignal): Promise<Stream>;
  maxFrameBytes: number;
  /** Per write, and for closing. */
  timeoutMs: number;
  /** Aborts when the service stops. */
  stopping: AbortSignal;
  report(error: unknown, peer: string, op: string): void;
}

export class AnnounceStreams {
  readonly #opts: AnnounceStreamsOptions;
  readonly #links = new Map<string, Promise<PushLink | undefined>>();
  /** Peers that do not speak the sync protocol (until they disconnect). */
  readonly #mute = new Set<string>();

  constructor(options: AnnounceStreamsOptions) {
    this.#opts = options;
  }

  /** Whether `peer` is known not to speak the protocol. */
  isMute(peer: string): boolean {
    return this.#mute.has(peer);
  }

  /** Queues `frame` on the peer's stream (opening it first); resolves once it is queued. */
  async send(peer: string, frame: Uint8Array): Promise<void> {
    const link = await this.#link(peer);
    if (!link) return;
    const p = link.writes.then(() =>
      writeFrame(link.stream, frame, { timeoutMs: this.#opts.timeoutMs }),
    );
    link.writes = p.catch((e) => {
      this.#opts.report(e, peer, 'announce');
      link.stream.abort(toError(e));
      void this.#forget(peer, link);
    });
  }

  /** The peer disconnected: its stream is gone, and it may speak the protocol next time. */
  disconnected(peer: string): void {
    this.#mute.delete(peer);
    this.#links.delete(peer);
  }

  /** Aborts every stream (the service stopped). */
  closeAll(): void {
    for (const p of this.#links.values()) {
      void p.then((l) => l?.stream.abort(new SyncClosedError('The sync service stopped.')));
    }
    this.#links.clear();
  }

  /** The Announce stream to `peer`, opened on first use; undefined if it cannot be. */
  #link(peer: string): Promise<PushLink | undefined> {
    let p = this.#links.get(peer);
    if (p) return p;
    p = (async () => {
      let stream: Stream;
      try {
        stream = await this.#opts.dial(peer, this.#opts.stopping);
      } catch (e) {
        this.#mute.add(peer);
        this.#links.delete(peer);
        this.#opts.report(e, peer, 'announce');
        return undefined;
      }
      const link: PushLink = { stream, writes: Promise.resolve() };
      void this.#readAnswers(peer, link);
      return link;
    })();
    this.#links.set(peer, p);
    return p;
  }

  /** Drops `link` as the peer's Announce stream (unless a newer one replaced it). */
  async #forget(peer: string, link: PushLink): Promise<void> {
    const current = this.#links.get(peer);
    if (current && (await current) === link && this.#links.get(peer) === current) {
      this.#links.delete(peer);
    }
  }

  /** The peer answers an Announce only to refuse it: report those, drop the link at its end. */
  async #readAnswers(peer: string, link: PushLink): Promise<void> {
    const { maxFrameBytes, timeoutMs, report } = this.#opts;
    const reader = new FrameReader(link.stream);
    try {
      for (;;) {
        const payload = await reader.read({ maxFrameBytes });
        if (payload === undefined) {
          // The peer ended its side (it stopped): end ours after the queued Announces.
          await link.writes;
          await link.stream.close({ signal: AbortSignal.timeout(timeoutMs) });
          break;
        }
        const answer = decodeSyncResponse(payload, maxFrameBytes);
        report(
          answer.type === 'Error'
            ? new RemoteSyncError(peer, answer.message)
            : new SyncProtocolError(`Peer ${peer} answered an Announce with ${answer.type}.`),
          peer,
          'announce',
        );
      }
    } catch (e) {
      if (!this.#opts.stopping.aborted) report(e, peer, 'announce');
      link.stream.abort(toError(e));
    } finally {
      reader.dispose();
      await this.#forget(peer, link);
    }
  }
}
