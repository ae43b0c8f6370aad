/**
 * `/elohim/sync/1.0.0` (the Rust node's document sync) as a service, libp2p style:
 * {@link docSyncProtocol} takes its init and returns a factory that, given the node, makes a
 * {@link DocSyncProtocol}. `start()` registers the answering side (`doc-sync-server.ts`),
 * `stop()` unregisters it; {@link DocSyncProtocol.request} asks a peer (ours or a Rust node)
 * one question on its own stream.
 */
import type { Libp2p, Startable } from '@libp2p/interface';
import { peerIdFromString } from '@libp2p/peer-id';
import type { AbortOptions } from '../wire/index.ts';
import {
  type DocSyncRequest,
  type DocSyncResponse,
  decodeDocSyncResponse,
  encodeDocSyncMessage,
  SYNC_PROTOCOL,
} from './doc-sync-codec.ts';
import { type DocSyncServerContext, docSyncHandler } from './doc-sync-server.ts';
import { RemoteSyncError, SyncClosedError } from './errors.ts';
import { exchange } from './exchange.ts';

/** What the protocol needs of a libp2p node. */
export type DocSyncComponents = Pick<Libp2p, 'handle' | 'unhandle' | 'dialProtocol'>;

export interface DocSyncInit extends Omit<DocSyncServerContext, 'stopping'> {
  /** Also over relayed (limited) connections. Default false. */
  runOnLimitedConnection?: boolean;
  /**
   * Requests answered at once per connection (the Rust node asks for every diverged document
   * at once; the rest are reset and asked again in its next round). Default 32.
   */
  maxInboundStreams?: number;
}

/** An answer that is not `{"Error": …}` (those throw `RemoteSyncError`). */
export type DocSyncAnswer = Exclude<DocSyncResponse, { type: 'Error' }>;

export function docSyncProtocol(init: DocSyncInit): (node: DocSyncComponents) => DocSyncProtocol {
  return (node) => new DocSyncProtocol(node, init);
}

export class DocSyncProtocol implements Startable {
  readonly #node: DocSyncComponents;
  readonly #init: DocSyncInit;
  #running: AbortController | undefined;

  constructor(node: DocSyncComponents, init: DocSyncInit) {
    this.#node = node;
    this.#init = init;
  }

  async start(): Promise<void> {
    if (this.#running) return;
    const running = new AbortController();
    this.#running = running;
    await this.#node.handle(
      SYNC_PROTOCOL,
      docSyncHandler({ ...this.#init, stopping: running.signal }),
      {
        runOnLimitedConnection: this.#init.runOnLimitedConnection ?? false,
        maxInboundStreams: this.#init.maxInboundStreams ?? 32,
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

  /** One request to `peer` (a PeerId string); an `Error` answer throws `RemoteSyncError`. */
  request(peer: string, req: DocSyncRequest, options: AbortOptions = {}): Promise<DocSyncAnswer> {
    return requestDocSync(this.#node, peer, req, { ...this.#init, ...options });
  }
}

/**
 * One `/elohim/sync/1.0.0` request from any libp2p node, ours or not (a client needs no
 * Repo): dial, ask, read the one answer.
 */
export function requestDocSync(
  node: Pick<Libp2p, 'dialProtocol'>,
  peer: string,
  req: DocSyncRequest,
  options: AbortOptions & {
    maxFrameBytes: number;
    timeoutMs: number;
    runOnLimitedConnection?: boolean;
  },
): Promise<DocSyncAnswer> {
  const { maxFrameBytes } = options;
  return exchange(
    {
      peer,
      protocol: SYNC_PROTOCOL,
      what: req.type,
      dial: (signal) =>
        node.dialProtocol(peerIdFromString(peer), SYNC_PROTOCOL, {
          signal,
          runOnLimitedConnection: options.runOnLimitedConnection ?? false,
        }),
      frame: encodeDocSyncMessage(req, maxFrameBytes),
      maxFrameBytes,
      timeoutMs: options.timeoutMs,
      decode: (payload) => {
        const answer = decodeDocSyncResponse(payload, maxFrameBytes);
        if (answer.type === 'Error') throw new RemoteSyncError(peer, answer.message);
        return answer;
      },
    },
    options.signal ? { signal: options.signal } : {},
  );
}
