/**
 * Typed errors of the wire layer: framing, MessagePack and field decoding, timeouts and
 * closed streams, shared by every protocol (shard, pieces, replicate, sync). A protocol
 * wraps them in its own error where its callers need one (sync does); messages say what
 * happened and what to do, because they reach logs, remote peers and the UI unchanged.
 */
import { ElohimError } from './elohim-error.ts';

export class WireError extends ElohimError.named('WireError') {}

/** The bytes on the wire are not a valid message of the protocol (ours or the peer's fault). */
export class WireProtocolError extends WireError.named('WireProtocolError') {}

/** The stream ended in the middle of a frame (or before the expected response). */
export class TruncatedFrameError extends WireProtocolError.named('TruncatedFrameError') {
  constructor(
    readonly received: number,
    readonly expected: number | undefined,
  ) {
    super(
      expected === undefined
        ? `The stream ended after ${received} byte(s) of a 4-byte frame length header.`
        : `The stream ended after ${received} of ${expected} frame byte(s): the message is truncated.`,
    );
  }
}

/** A frame's declared length (or a payload inside it) is over the configured cap. */
export class FrameTooLargeError extends WireProtocolError.named('FrameTooLargeError') {
  constructor(
    readonly size: number,
    readonly cap: number,
    what = 'frame',
  ) {
    // The hint names the shard protocols because their callers see this message as is (and
    // send it to the peer); sync wraps it in its own error.
    super(
      `The ${what} is ${size} bytes, over this peer's cap of ${cap} bytes. ` +
        'A `none` blob can be up to 16 MiB; larger content goes over /elohim/pieces/1.0.0.',
    );
  }
}

/** The frame is not well-formed MessagePack (or uses a type we do not accept, e.g. ext). */
export class BadMsgpackError extends WireProtocolError.named('BadMsgpackError') {}

/** Well-formed MessagePack, but not one of the protocol's messages (wrong variant or shape). */
export class UnexpectedMessageError extends WireProtocolError.named('UnexpectedMessageError') {}

/** A byte field is neither `bin` nor an array of integers 0..255. */
export class BadBytesError extends WireProtocolError.named('BadBytesError') {}

/** No progress for `timeoutMs`. */
export class WireTimeoutError extends WireError.named('WireTimeoutError') {
  constructor(
    readonly what: string,
    readonly timeoutMs: number,
  ) {
    super(`Timed out after ${timeoutMs} ms ${what}. The peer may be slow or gone; try another.`);
  }
}

/** The stream was reset or closed by the transport before the exchange finished. */
export class WireStreamClosedError extends WireError.named('WireStreamClosedError') {
  constructor(detail: string, options?: { cause?: unknown }) {
    super(`The stream closed before the exchange finished: ${detail}`, options);
  }
}
