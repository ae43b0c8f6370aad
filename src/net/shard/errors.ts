/**
 * Typed errors of the shard / piece protocols. Messages say what happened and what to do,
 * because they reach logs and the UI unchanged.
 */

export class ShardError extends Error {
  override name = 'ShardError';
}

/** The bytes on the wire are not a valid message of the protocol (ours or the peer's fault). */
export class ShardProtocolError extends ShardError {
  override name = 'ShardProtocolError';
}

/** The stream ended in the middle of a frame (or before the expected response). */
export class TruncatedFrameError extends ShardProtocolError {
  override name = 'TruncatedFrameError';
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
export class FrameTooLargeError extends ShardProtocolError {
  override name = 'FrameTooLargeError';
  constructor(
    readonly size: number,
    readonly cap: number,
    what = 'frame',
  ) {
    super(
      `The ${what} is ${size} bytes, over this peer's cap of ${cap} bytes. ` +
        'A `none` blob can be up to 16 MiB; larger content goes over /elohim/pieces/1.0.0.',
    );
  }
}

/** The frame is not well-formed MessagePack (or uses a type we do not accept, e.g. ext). */
export class BadMsgpackError extends ShardProtocolError {
  override name = 'BadMsgpackError';
}

/** Well-formed MessagePack, but not one of the protocol's messages (wrong variant or shape). */
export class UnexpectedMessageError extends ShardProtocolError {
  override name = 'UnexpectedMessageError';
}

/** A byte field is neither `bin` nor an array of integers 0..255. */
export class BadBytesError extends ShardProtocolError {
  override name = 'BadBytesError';
}

/** The peer answered `NotFound` (or refused to deliver, which looks the same by design). */
export class ShardNotFoundError extends ShardError {
  override name = 'ShardNotFoundError';
  constructor(
    readonly peer: string,
    readonly hash: string,
  ) {
    super(`Peer ${peer} does not have ${hash} (or will not deliver it). Try another peer.`);
  }
}

/** The peer answered `{"Error": text}`. */
export class PeerReportedError extends ShardError {
  override name = 'PeerReportedError';
  constructor(
    readonly peer: string,
    readonly remoteMessage: string,
  ) {
    super(`Peer ${peer} reported an error: ${remoteMessage}`);
  }
}

/**
 * The peer sent bytes that do not match their hash (a piece, a blob, a manifest for another
 * hash). Drop this peer for this content and fetch from another one.
 */
export class PeerSentBadDataError extends ShardError {
  override name = 'PeerSentBadDataError';
  constructor(
    readonly peer: string,
    readonly hash: string,
    readonly detail: string,
    readonly shardIndex?: number,
    readonly pieceIndex?: number,
  ) {
    super(
      `Peer ${peer} sent bad data for ${hash}${
        shardIndex !== undefined ? ` shard ${shardIndex}` : ''
      }${pieceIndex !== undefined ? ` piece ${pieceIndex}` : ''}: ${detail}. ` +
        'Nothing of it was used; drop this peer for this content and try another.',
    );
  }
}

/** No progress for `timeoutMs`. */
export class ShardTimeoutError extends ShardError {
  override name = 'ShardTimeoutError';
  constructor(
    readonly what: string,
    readonly timeoutMs: number,
  ) {
    super(`Timed out after ${timeoutMs} ms ${what}. The peer may be slow or gone; try another.`);
  }
}

/** The stream was reset or closed by the transport before the exchange finished. */
export class ShardStreamClosedError extends ShardError {
  override name = 'ShardStreamClosedError';
  constructor(detail: string, options?: { cause?: unknown }) {
    super(`The stream closed before the exchange finished: ${detail}`, options);
  }
}
