/**
 * Typed errors of replication. Messages say what happened and what to do: they reach logs,
 * the UI and (cut to 2000 characters) the other peer unchanged.
 */
import { ElohimError } from '../../wire/index.ts';

export class ReplicateError extends ElohimError.named('ReplicateError') {}

/** `replicate` was asked to spread a blob this device does not hold. */
export class NotHeldError extends ReplicateError.named('NotHeldError') {
  constructor(
    readonly hash: string,
    readonly shard?: number,
  ) {
    super(
      shard === undefined
        ? `This device does not hold ${hash}, so it cannot offer it. Store or fetch it first.`
        : `This device holds neither ${hash} nor its shard ${shard}, so it cannot offer that shard. Rebuild or fetch it first.`,
    );
  }
}

/** The manifest the offering peer serves does not describe what it offered. */
export class OfferMismatchError extends ReplicateError.named('OfferMismatchError') {
  constructor(
    readonly peer: string,
    readonly hash: string,
    readonly detail: string,
  ) {
    super(
      `Peer ${peer} offered ${hash} but its manifest says ${detail}. Nothing was stored; ` +
        'the offering peer is broken or dishonest, so do not take offers from it.',
    );
  }
}

/** The offering peer closed or reset the offer stream while the receiver was pulling. */
export class OfferWithdrawnError extends ReplicateError.named('OfferWithdrawnError') {
  constructor(
    readonly peer: string,
    readonly hash: string,
  ) {
    super(
      `Peer ${peer} went away while ${hash} was being copied from it. Nothing of it was kept; ` +
        'it will be stored when a holder offers it again.',
    );
  }
}

/** The receiver ended the exchange without saying whether it stored the blob. */
export class ReplicaUnconfirmedError extends ReplicateError.named('ReplicaUnconfirmedError') {
  constructor(
    readonly peer: string,
    readonly hash: string,
    detail: string,
  ) {
    super(
      `Peer ${peer} did not confirm storing ${hash} (${detail}). ` +
        'It is not counted as a copy; offer it to another peer.',
    );
  }
}
