/**
 * `/elohim/sync/1.0.0` as a service, libp2p style (like `@libp2p/ping`): {@link syncProtocol}
 * takes its init and returns a factory that, given the node, makes a {@link SyncProtocol}.
 * `start()` registers the answering side (`server.ts`), `stop()` unregisters it; the asking
 * side is one request on its own stream ({@link SyncProtocol.request}) and the long-lived
 * streams Announces are pushed on ({@link SyncProtocol.dial}, `push.ts`).
 */
import type { Connection, Libp2p, Startable, Stream } from '@libp2p/interface';
import { peerIdFromString } from '@libp2p/peer-id';
import type { AbortOptions } from '../wire/index.ts';
import { errorMessage, FrameReader, FrameTooLargeError, writeFrame } from '../wire/index.ts';
import {
  decodeSyncResponse,
  encodeSyncMessage,
  SYNC_PROTOCOL,
  type SyncRequestMessage,
  type SyncResponseMessage,
} from './codec.ts';
import {
  RemoteSyncError,
  SyncClosedError,
  SyncError,
  SyncFrameTooLargeError,
  SyncProtocolError,
  toError,
} from './errors.ts';
import { timeLimit } from './flow.ts';
import { type SyncServerContext, syncHandler } from './server.ts';

/** What the protocol needs of a libp2p node. */
export type SyncProtocolComponents = Pick<Libp2p, 'handle' | 'unhandle' | 'dialProtocol'>;

export interface SyncProtocolInit extends Omit<SyncServerContext, 'stopping'> {
  /** Also sync over relayed (limited) connections. Default false. */
  runOnLimitedConnection?: boolean;
}

/** An answer that is not `{"Error": …}` (those throw `RemoteSyncError`). */
export type SyncAnswer = Exclude<SyncResponseMessage, { type: 'Error' }>;

export function syncProtocol(
  init: SyncProtocolInit,
): (components: SyncProtocolComponents) => SyncProtocol {
  return (components) => new SyncProtocol(components, init);
}

export class SyncProtocol implements Startable {
  readonly #node: SyncProtocolComponents;
  readonly #init: SyncProtocolInit;
  readonly #runOnLimitedConnection: boolean;
  /** Aborted on stop: the handlers then end without reporting what stopping broke. */
  #running: AbortController | undefined;

  constructor(components: SyncProtocolComponents, init: SyncProtocolInit) {
    this.#node = components;
    this.#init = init;
    this.#runOnLimitedConnection = init.runOnLimitedConnection ?? false;
  }

  async start(): Promise<void> {
    if (this.#running) return;
    const running = new AbortController();
    this.#running = running;
    await this.#node.handle(
      SYNC_PROTOCOL,
      syncHandler({ ...this.#init, stopping: running.signal }),
      {
        runOnLimitedConnection: this.#runOnLimitedConnection,
      },
    );
  }

  async stop(): Promise<void> {
    const running = this.#running;
    if (!running) return;
    this.#running = undefined;
    running.abort(new SyncClosedError('The sync service stopped.'));
    await this.#node.unhandle(SYNC_PROTOCOL);
  }

  /** Whether the protocol runs on `connection` (open; relayed only if allowed). */
  usable(connection: Connection): boolean {
    return connection.status === 'open' && (!connection.limits || this.#runOnLimitedConnection);
  }

  /** A new stream to `peer` (a PeerId string). */
  dial(peer: string, signal: AbortSignal): Promise<Stream> {
    return this.#node.dialProtocol(peerIdFromString(peer), SYNC_PROTOCOL, {
      signal,
      runOnLimitedConnection: this.#runOnLimitedConnection,
    });
  }

  /**
   * One request on its own stream, one answer, within the caller's signal and `timeoutMs`.
   * Failures are typed `SyncError`s, or the caller's abort reason.
   */
  async request(
    peer: string,
    req: SyncRequestMessage,
    options: AbortOptions = {},
  ): Promise<SyncAnswer> {
    const { maxFrameBytes, timeoutMs } = this.#init;
    const d = timeLimit(options, timeoutMs, `waiting for ${peer} to answer ${req.type}`);
    let stream: Stream | undefined;
    let reader: FrameReader | undefined;
    try {
      stream = await this.dial(peer, d.signal);
      reader = new FrameReader(stream);
      await writeFrame(stream, encodeSyncMessage(req, maxFrameBytes), { signal: d.signal });
      const payload = await reader.read({ maxFrameBytes, signal: d.signal });
      if (payload === undefined) {
        throw new SyncProtocolError(
          `Peer ${peer} closed the stream without answering ${req.type}.`,
        );
      }
      await stream.close({ signal: d.signal });
      const answer = decodeSyncResponse(payload, maxFrameBytes);
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
}
