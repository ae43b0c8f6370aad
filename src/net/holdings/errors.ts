/** Typed errors of the holdings protocol. */
import { ElohimError } from '../../wire/index.ts';

/** The doorway answered a holdings message with an error (it said why). */
export class HoldingsRefusedError extends ElohimError.named('HoldingsRefusedError') {
  constructor(
    readonly doorway: string,
    readonly reason: string,
  ) {
    super(
      `The doorway ${doorway} refused the list of items held here (${reason}); ` +
        'they are still shared with connected peers, and offered to it again at the next change.',
    );
  }
}
