/**
 * Typed errors of the shard / piece protocols: what a peer answered or sent. Framing,
 * MessagePack, timeouts and closed streams are the wire layer's errors (`src/wire`), so
 * every failure of an exchange is a `WireError`. Messages say what happened and what to do,
 * because they reach logs and the UI unchanged.
 */
import { WireError } from '../../wire/index.ts';

export class ShardError extends WireError.named('ShardError') {}

/** The peer answered `NotFound` (or refused to deliver, which looks the same by design). */
export class ShardNotFoundError extends ShardError.named('ShardNotFoundError') {
  constructor(
    readonly peer: string,
    readonly hash: string,
  ) {
    super(`Peer ${peer} does not have ${hash} (or will not deliver it). Try another peer.`);
  }
}

/** The peer answered `{"Error": text}`. */
export class PeerReportedError extends ShardError.named('PeerReportedError') {
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
export class PeerSentBadDataError extends ShardError.named('PeerSentBadDataError') {
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
