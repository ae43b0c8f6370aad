/**
 * `/elohim/positions/1.0.0` as a service, libp2p style (like `@libp2p/ping`): {@link syncProtocol}
 * takes its init and returns a factory that, given the node, makes a {@link SyncProtocol}.
 * `start()` registers the answering side (`server.ts`), `stop()` unregisters it; the asking
 * side is one request on its own stream ({@link SyncProtocol.request}) and the long-lived
 * streams Announces are pushed on ({@link SyncProtocol.dial}, `push.ts`).
 */
import type { Connection, Libp2p, Startable, Stream } from '@libp2p/interface';
import { peerIdFromString } from '@libp2p/peer-id';
import type { AbortOptions } from '../wire/index.ts';
import {
  decodeSyncResponse,
  encodeSyncMessage,
  POSITIONS_PROTOCOL,
  type SyncRequestMessage,
  type SyncResponseMessage,
} from './codec.ts';
import { RemoteSyncError, SyncClosedError } from './errors.ts';
import { exchange } from './exchange.ts';
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
      POSITIONS_PROTOCOL,
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
    await this.#node.unhandle(POSITIONS_PROTOCOL);
  }

  /** Whether the protocol runs on `connection` (open; relayed only if allowed). */
  usable(connection: Connection): boolean {
    return connection.status === 'open' && (!connection.limits || this.#runOnLimitedConnection);
  }

  /** A new stream to `peer` (a PeerId string). */
  dial(peer: string, signal: AbortSignal): Promise<Stream> {
    return this.#node.dialProtocol(peerIdFromString(peer), POSITIONS_PROTOCOL, {
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
    const { maxFrameBytes } = this.#init;
    return exchange(
      {
        peer,
        protocol: POSITIONS_PROTOCOL,
        what: req.type,
        dial: (signal) => this.dial(peer, signal),
        frame: encodeSyncMessage(req, maxFrameBytes),
        maxFrameBytes,
        timeoutMs: this.#init.timeoutMs,
        decode: (payload) => {
          const answer = decodeSyncResponse(payload, maxFrameBytes);
          if (answer.type === 'Error') throw new RemoteSyncError(peer, answer.message);
          return answer;
        },
      },
      options,
    );
  }
}
