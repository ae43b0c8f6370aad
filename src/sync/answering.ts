/**
 * The answering side's shared endings, for both sync protocols: an answer too large for a
 * frame becomes an `Error` saying so, and a stream that failed is reported and, when the
 * failure was its framing (an oversized or truncated frame), told why before it goes.
 */
import type { Stream } from '@libp2p/interface';
import {
  errorMessage,
  type FrameReader,
  FrameTooLargeError,
  TruncatedFrameError,
} from '../wire/index.ts';
import { SyncFrameTooLargeError, toError } from './errors.ts';

/** `encode(answer)`, or when that is over the frame cap, `encode` of an Error saying so. */
export function encodeOrRefuse<T>(
  answer: T,
  encode: (answer: T | { type: 'Error'; message: string }) => Uint8Array,
): Uint8Array {
  try {
    return encode(answer);
  } catch (e) {
    if (!(e instanceof SyncFrameTooLargeError)) throw e;
    return encode({ type: 'Error', message: e.message });
  }
}

export interface FailedStream {
  stream: Stream;
  reader: FrameReader;
  protocol: string;
  timeoutMs: number;
  /** Aborted when the service stops: what stopping broke is not reported. */
  stopping: AbortSignal;
  report(error: unknown): void;
  sendError(message: string): Promise<void>;
}

/**
 * Ends a stream after `e`: reported; for a framing failure an Error answer, then a clean
 * close once the peer finished sending (so that it can read the answer); else a reset.
 */
export async function endFailedStream(e: unknown, s: FailedStream): Promise<void> {
  const error =
    e instanceof FrameTooLargeError ? new SyncFrameTooLargeError(e.size, e.cap, s.protocol) : e;
  if (!s.stopping.aborted) s.report(error);
  const framing = e instanceof FrameTooLargeError || e instanceof TruncatedFrameError;
  if (framing && s.stream.writeStatus === 'writable') {
    try {
      s.reader.discardRest();
      await s.sendError(errorMessage(error));
      await s.stream.close({ signal: AbortSignal.timeout(s.timeoutMs) });
      if (await s.reader.waitEnd(Math.min(s.timeoutMs, 5_000))) return;
    } catch {}
  }
  s.stream.abort(toError(error));
}
