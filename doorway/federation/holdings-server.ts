/**
 * The doorway's side of `/elohim/holdings/1.0.0`: attached browsers say which commons items
 * they hold; the registry (holdings.ts) records it while they stay connected.
 *
 * Who may use it: a peer connected to this doorway directly (a browser's WebSocket, a Node
 * peer's TCP), never over a relayed (limited) connection, and never another doorway (a peer
 * that speaks the DHT): doorways provide for themselves in the DHT, so one cannot make this
 * doorway answer for what it claims. A peer found to be a doorway later (identify ends after
 * its first message) is forgotten then (federation.ts).
 *
 * Bounds: a request's length prefix above `MAX_HOLDINGS_FRAME_BYTES` is refused before its
 * body is read; at most `MAX_HASHES_PER_MESSAGE` hashes per request, checked before any is
 * parsed; 2 requests at once per connection; 60 per peer in any 10 s window (a browser sends
 * a few at connect and one per burst of changes, 200 ms apart at most); each within 10 s;
 * what a peer may make the registry keep is capped there.
 */
import type { Connection, Libp2p, Stream } from '@libp2p/interface';
import {
  decodeHoldings,
  encodeHoldingsAnswer,
  HOLDINGS_PROTOCOL,
  MAX_HOLDINGS_FRAME_BYTES,
} from '../../src/net/index.ts';
import { errorMessage, FrameReader, writeFrame } from '../../src/wire/index.ts';
import type { Logger } from '../log.ts';
import type { HoldingsRegistry } from './holdings.ts';

export interface HoldingsServerInit {
  node: Pick<Libp2p, 'handle' | 'unhandle'>;
  registry: HoldingsRegistry;
  /** Whether `peer` is a doorway (it speaks the DHT): its holdings are refused. */
  isDoorway: (peer: string) => boolean | Promise<boolean>;
  log: Logger;
  /** The request must arrive, and the answer leave, within this. Default 10 s. */
  timeoutMs?: number;
  /** Requests one peer may make per `windowMs`; beyond, they are refused. Default 60. */
  maxRequests?: number;
  /** Default 10 s. */
  windowMs?: number;
}

/** Why `connection` may not tell us what it holds, or undefined when it may. */
export async function refusal(
  connection: Pick<Connection, 'limits' | 'remoteAddr' | 'remotePeer'>,
  isDoorway: HoldingsServerInit['isDoorway'],
): Promise<string | undefined> {
  if (connection.limits != null || connection.remoteAddr.toString().includes('/p2p-circuit')) {
    return 'only a peer connected to this doorway directly may say what it holds, not over a relay';
  }
  if (await isDoorway(connection.remotePeer.toString())) {
    return 'a doorway provides what it holds in the DHT itself';
  }
  return undefined;
}

export class HoldingsServer {
  readonly #timeoutMs: number;
  /** Requests per peer in its current window; a peer's entry goes when it disconnects. */
  readonly #windows = new Map<string, { start: number; count: number }>();
  #started = false;

  constructor(private readonly init: HoldingsServerInit) {
    this.#timeoutMs = init.timeoutMs ?? 10_000;
  }

  /** Forgets `peer`'s request count (it went away). */
  forget(peer: string): void {
    this.#windows.delete(peer);
  }

  /** Counts a request of `peer`; false when it is over its rate. */
  #admit(peer: string): boolean {
    const now = Date.now();
    const windowMs = this.init.windowMs ?? 10_000;
    let window = this.#windows.get(peer);
    if (!window || now - window.start >= windowMs) {
      window = { start: now, count: 0 };
      this.#windows.set(peer, window);
    }
    return ++window.count <= (this.init.maxRequests ?? 60);
  }

  async start(): Promise<void> {
    await this.init.node.handle(
      HOLDINGS_PROTOCOL,
      (stream, connection) => this.#serve(stream, connection),
      {
        maxInboundStreams: 2,
        runOnLimitedConnection: false,
      },
    );
    this.#started = true;
  }

  async stop(): Promise<void> {
    if (!this.#started) return;
    this.#started = false;
    await this.init.node.unhandle(HOLDINGS_PROTOCOL);
    this.#windows.clear();
  }

  async #serve(stream: Stream, connection: Connection): Promise<void> {
    const { registry, log } = this.init;
    const peer = connection.remotePeer.toString();
    const reader = new FrameReader(stream);
    const send = (frame: Uint8Array) => writeFrame(stream, frame, { timeoutMs: this.#timeoutMs });
    try {
      const why = this.#admit(peer)
        ? await refusal(connection, this.init.isDoorway)
        : `too many holdings requests: at most ${this.init.maxRequests ?? 60} in ${(this.init.windowMs ?? 10_000) / 1000} s`;
      if (why) {
        log.debug(`holdings from ${peer} refused: ${why}`);
        await send(encodeHoldingsAnswer({ type: 'Error', message: why }));
        await stream.close({ signal: AbortSignal.timeout(this.#timeoutMs) });
        return;
      }
      // The cap is checked on the length prefix: an oversized request is never buffered.
      const payload = await reader.read({
        maxFrameBytes: MAX_HOLDINGS_FRAME_BYTES,
        timeoutMs: this.#timeoutMs,
      });
      if (payload === undefined) {
        stream.abort(new Error('no holdings request'));
        return;
      }
      const update = decodeHoldings(payload);
      // Gone while it spoke: its disconnect already forgot it, and must stay the last word.
      if (connection.status !== 'open') return;
      const result = registry.apply(peer, update);
      await send(encodeHoldingsAnswer({ type: 'Ack', ...result }));
      await stream.close({ signal: AbortSignal.timeout(this.#timeoutMs) });
    } catch (error) {
      log.debug(`holdings from ${peer}: ${errorMessage(error)}`);
      stream.abort(error instanceof Error ? error : new Error(String(error)));
    } finally {
      reader.dispose();
    }
  }
}
