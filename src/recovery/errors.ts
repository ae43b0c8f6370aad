/**
 * Typed errors of social recovery. Their messages reach the person unchanged: each says what
 * happened and what to do.
 */
import { ElohimError } from '../wire/index.ts';

export class RecoveryError extends ElohimError.named('RecoveryError') {}

/** The guardians or threshold chosen cannot make a setup. */
export class RecoverySetupError extends RecoveryError.named('RecoverySetupError') {}

/**
 * A share does not open with the key this device derives for it: it was changed on the way,
 * or it was sealed for someone else. It is left out; nothing is restored from it.
 */
export class ShareRefusedError extends RecoveryError.named('ShareRefusedError') {
  constructor(from: string, cause?: unknown) {
    super(
      `The share from ${from} does not open: it was changed on the way, or it was not sealed for this browser. It was left out; ask that contact to release it again.`,
      { cause },
    );
  }
}
