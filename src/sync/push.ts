/**
 * Our long-lived Announce streams on `/elohim/sync/1.0.0`, one per peer, opened on first use.
 * Frames go out in the order they are queued; the peer answers only to refuse an Announce
 * (reported), and when it ends its side we end ours after what is queued. A peer that cannot
 * be dialled for the protocol is muted until it disconnects.
 */
import type { Stream } from '@libp2p/interface';
import { FrameReader, writeFrame } from '../wire/index.ts';
import { decodeSyncResponse } from './codec.ts';
import { RemoteSyncError, SyncClosedError, SyncProtocolError, toError } from './errors.ts';

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
  report(error: unknown, peer: string, op: 'announce'): void;
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
