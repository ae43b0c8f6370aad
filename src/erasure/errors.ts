/** Typed errors of the erasure codec. Messages say what happened and what to do. */
import { ElohimError } from '../wire/index.ts';
import { DATA, TOTAL } from './gf.ts';

/** Base class of every error thrown by this module. */
export class ErasureError extends ElohimError.named('ErasureError') {}

/** Fewer than 4 of the 7 shards are available. */
export class InsufficientShardsError extends ErasureError.named('InsufficientShardsError') {
  constructor(readonly present: number) {
    super(
      `only ${present} of ${TOTAL} shards present; any ${DATA} are needed — fetch more shards from other peers before rebuilding`,
    );
  }
}

/** Present shards have different lengths, or a length that disagrees with the total size. */
export class ShardSizeMismatchError extends ErasureError.named('ShardSizeMismatchError') {}

/** A call was made with arguments outside the API's contract. */
export class ErasureArgumentError extends ErasureError.named('ErasureArgumentError') {}

/** A kernel was requested that this engine cannot run. */
export class KernelUnavailableError extends ErasureError.named('KernelUnavailableError') {}
