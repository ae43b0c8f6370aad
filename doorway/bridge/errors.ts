/**
 * Why the bridge does not send an item's bytes. Each maps to one HTTP status (`routes.ts`);
 * messages go to HTTP clients as they are, so they never say more than a stranger may know.
 */
import { ElohimError } from '../../src/wire/index.ts';

export class BridgeError extends ElohimError.named('BridgeError') {}

/**
 * 404: nobody offers the item to the public. One message for an unknown hash, a hash no holder
 * answered for in time, and an item whose reach is not commons, so the bridge never tells which;
 * `reason` (for the doorway's log) does.
 */
export class NotServedError extends BridgeError.named('NotServedError') {
  constructor(
    readonly hash: string,
    readonly reason: string,
  ) {
    super(
      `Nothing public is stored under ${hash}. Check the hash, or ask someone who holds it ` +
        'to open the app, then try again.',
    );
  }
}

/** 503: as many items are being pulled from peers as the doorway allows at once. */
export class BridgeBusyError extends BridgeError.named('BridgeBusyError') {
  constructor(
    readonly open: number,
    readonly retryAfterS: number,
  ) {
    super(
      `The doorway is already pulling ${open} items from peers, its limit. ` +
        `Try again in ${retryAfterS} s.`,
    );
  }
}
