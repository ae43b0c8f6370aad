/**
 * The asking side of a request on its own stream, shared by both sync protocols: dial, send
 * one frame, read one answer frame, close. Failures are typed `SyncError`s (or the caller's
 * abort reason), so that a dial or stream failure never passes for our own stream's.
 */
import type { Stream } from '@libp2p/interface';
import {
  type AbortOptions,
  errorMessage,
  FrameReader,
  FrameTooLargeError,
  writeFrame,
} from '../wire/index.ts';
import {
  SyncClosedError,
  SyncError,
  SyncFrameTooLargeError,
  SyncProtocolError,
  toError,
} from './errors.ts';
import { timeLimit } from './flow.ts';

export interface Exchange<T> {
  peer: string;
  protocol: string;
  /** Names the request in errors: `GetHeads`, `SyncRequest`… */
  what: string;
  dial(signal: AbortSignal): Promise<Stream>;
  /** The request, framed. */
  frame: Uint8Array;
  maxFrameBytes: number;
  timeoutMs: number;
  /** The answer's body (throws `SyncError`s for bad or refusing answers). */
  decode(payload: Uint8Array): T;
}

/** One request, one answer, within the caller's signal and `timeoutMs`. */
export async function exchange<T>(x: Exchange<T>, options: AbortOptions = {}): Promise<T> {
  const d = timeLimit(options, x.timeoutMs, `waiting for ${x.peer} to answer ${x.what}`);
  let stream: Stream | undefined;
  let reader: FrameReader | undefined;
  try {
    stream = await x.dial(d.signal);
    reader = new FrameReader(stream);
    await writeFrame(stream, x.frame, { signal: d.signal });
    const payload = await reader.read({ maxFrameBytes: x.maxFrameBytes, signal: d.signal });
    if (payload === undefined) {
      throw new SyncProtocolError(`Peer ${x.peer} closed the stream without answering ${x.what}.`);
    }
    await stream.close({ signal: d.signal });
    return x.decode(payload);
  } catch (e) {
    stream?.abort(toError(e));
    if (e instanceof SyncError) throw e;
    if (d.signal.aborted) throw d.signal.reason;
    if (e instanceof FrameTooLargeError) {
      throw new SyncFrameTooLargeError(e.size, e.cap, x.protocol);
    }
    throw new SyncClosedError(`${x.what} to ${x.peer} failed: ${errorMessage(e)}`, { cause: e });
  } finally {
    reader?.dispose();
    d.done();
  }
}
