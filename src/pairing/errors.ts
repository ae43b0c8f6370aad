import { ElohimError } from '../wire/index.ts';

/** Pairing a device failed; the message says what to do. Nothing was changed on either side. */
export class PairingError extends ElohimError.named('PairingError') {}

/** The pairing link is not one this app makes (mistyped, cut short). */
export class InvalidPairingLinkError extends PairingError.named('InvalidPairingLinkError') {
  constructor(reason: string) {
    super(
      `This is not a pairing link (${reason}): on your other device, choose "Add a device" and open the link it shows.`,
    );
  }
}

/** The other side cancelled, or refused (an expired or used link, codes that did not match). */
export class PairingRefusedError extends PairingError.named('PairingRefusedError') {}
