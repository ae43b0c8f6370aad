/**
 * Typed errors of the sync layer. Messages say what happened and what to do, because they
 * reach logs, the activity feed and peers (as `{"Error": message}`) unchanged.
 */
import { ElohimError } from '../wire/index.ts';

export class SyncError extends ElohimError.named('SyncError') {}

/** The bytes on the wire are not a valid message of the protocol (ours or the peer's fault). */
export class SyncProtocolError extends SyncError.named('SyncProtocolError') {}

/** A frame (or a message we were about to send) is over the frame cap. */
export class SyncFrameTooLargeError extends SyncProtocolError.named('SyncFrameTooLargeError') {
  constructor(
    readonly size: number,
    readonly cap: number,
    readonly protocol: string,
  ) {
    super(
      `A ${protocol} frame of ${size} bytes is over the cap of ${cap} bytes, so the stream ` +
        'was reset. A document this large must be compacted or split; or raise `maxFrameBytes` ' +
        'on both peers.',
    );
  }
}

/**
 * A DocRequest named a document this peer does not share with the asker: not in its event
 * log, not loadable, or one the asker may not receive — one message for all, so that the
 * answer does not tell whether the document exists.
 */
export class UnknownDocumentError extends SyncError.named('UnknownDocumentError') {
  constructor(
    readonly docId: string,
    options?: { cause?: unknown },
  ) {
    super(
      `Document ${docId} is not shared by this peer with you (it has no event for it, cannot ` +
        'load it, or you may not receive it). Ask for documents named in this peer’s ' +
        'SyncResponse or Announce events only.',
      options,
    );
  }
}

/** A position that cannot be right: past the end of the log, or far beyond what we know. */
export class PositionOutOfRangeError extends SyncError.named('PositionOutOfRangeError') {}

/** `SyncRequest.limit` outside 1…max. */
export class LimitOutOfRangeError extends SyncError.named('LimitOutOfRangeError') {
  constructor(
    readonly limit: number,
    readonly max: number,
  ) {
    super(`SyncRequest limit ${limit} is out of range: ask for 1 to ${max} events per page.`);
  }
}

/**
 * Changes from a peer that cannot be applied: undecodable, missing their dependencies, or not
 * containing the change an event announced. Nothing of them was applied or stored.
 */
export class BadChangesError extends SyncError.named('BadChangesError') {
  constructor(
    readonly peer: string,
    readonly docId: string,
    detail: string,
  ) {
    super(
      `Peer ${peer} sent unusable changes for document ${docId}: ${detail}. ` +
        'Nothing was applied or stored; the events will be asked for again on the next sync.',
    );
  }
}

/** A peer's event at a position we already hold names a different change: its log was reset or it lies. */
export class ConflictingEventError extends SyncError.named('ConflictingEventError') {
  constructor(
    readonly origin: string,
    readonly position: number,
    readonly stored: string,
    readonly received: string,
  ) {
    super(
      `Peer ${origin} sent change ${received} at position ${position}, where its log had ` +
        `${stored}. Its event log was reset or it is misbehaving; nothing was stored.`,
    );
  }
}

/** The peer answered `{"Error": text}`. */
export class RemoteSyncError extends SyncError.named('RemoteSyncError') {
  constructor(
    readonly peer: string,
    readonly remoteMessage: string,
  ) {
    super(`Peer ${peer} reported a sync error: ${remoteMessage}`);
  }
}

/** No answer in time. */
export class SyncTimeoutError extends SyncError.named('SyncTimeoutError') {
  constructor(
    readonly what: string,
    readonly timeoutMs: number,
  ) {
    super(`Timed out after ${timeoutMs} ms ${what}. The peer may be slow or gone; retry later.`);
  }
}

/** The stream or the service closed before the exchange finished. */
export class SyncClosedError extends SyncError.named('SyncClosedError') {}

/** The automerge adapter was started before a Repo connected it (it needs the repo's id). */
export class AdapterNotConnectedError extends SyncError.named('AdapterNotConnectedError') {
  constructor() {
    super(
      'The libp2p network adapter starts when a Repo connects it: pass it to the Repo ' +
        '(`network`, or `repo.networkSubsystem.addNetworkAdapter`) instead of calling start().',
    );
  }
}

/** Anything thrown, as an Error (streams are aborted with one). */
export function toError(e: unknown): Error {
  return e instanceof Error ? e : new Error(String(e));
}
