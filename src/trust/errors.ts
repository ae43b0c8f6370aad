/**
 * Typed errors of the trust-layer client. Messages say what happened and what to do, because
 * they reach the UI unchanged.
 */
import { clip, ElohimError, errorMessage } from '../wire/index.ts';

export class TrustError extends ElohimError.named('TrustError') {}

/** A change was asked of a client after `close()`. */
export class TrustClosedError extends TrustError.named('TrustClosedError') {
  constructor() {
    super('This trust client is closed: create a new one.');
  }
}

/** A lookup was asked for while the doorway's trust layer is not connected. */
export class TrustOfflineError extends TrustError.named('TrustOfflineError') {
  constructor(
    readonly doorway: string,
    readonly lastError: string | undefined,
  ) {
    super(
      `The trust layer at ${doorway} is not connected${lastError ? ` (${lastError})` : ''}. ` +
        'It reconnects by itself; try again once it shows as connected.',
    );
  }
}

/** The doorway could not be reached over HTTP (down, wrong address, or no network). */
export class DoorwayUnreachableError extends TrustError.named('DoorwayUnreachableError') {
  constructor(
    readonly doorway: string,
    cause: unknown,
  ) {
    super(
      `Cannot reach the doorway at ${doorway} (${errorMessage(cause)}). ` +
        'Check the network and that the doorway is running; the client keeps retrying.',
      { cause },
    );
  }
}

/** The doorway refused to open a session or grant this device (dev tokens off, bad signature…). */
export class TrustAuthError extends TrustError.named('TrustAuthError') {
  constructor(
    readonly step: 'dev-token' | 'connect' | 'app-interface',
    readonly status: number | undefined,
    detail: string,
  ) {
    super(
      `The doorway refused ${step === 'dev-token' ? 'a session token' : step === 'connect' ? 'to connect this device' : 'the app interface'}` +
        `${status ? ` (HTTP ${status})` : ''}: ${detail}. ` +
        (status === 403
          ? 'Ask its operator to enable dev tokens (--hc-dev-tokens on) or use a doorway that issues sessions.'
          : status === 501
            ? 'This doorway proxies a real conductor: get an app token from its operator.'
            : 'Check the device clock; the client keeps retrying.'),
    );
  }
}

/**
 * The trust layer answered a call with a refusal that retrying will not fix: validation
 * ("Source chain error: …"), an unknown function, a payload it cannot read, a capability it
 * does not grant. `kind` is the Holochain error name (`ribosome_error`, `zome_call_unauthorized`…).
 */
export class TrustRefusedError extends TrustError.named('TrustRefusedError') {
  constructor(
    readonly fn: string,
    readonly kind: string,
    detail: string,
  ) {
    super(`The trust layer refused ${fn} (${kind}): ${detail}`);
  }
}

/** An argument that the trust layer would refuse anyway, caught before anything is queued. */
export class TrustInputError extends TrustError.named('TrustInputError') {}

/** A contact link that is not `<origin>/contact/<agent key>[?name=…]`. */
export class InvalidContactLinkError extends TrustError.named('InvalidContactLinkError') {
  constructor(
    readonly input: string,
    reason: string,
  ) {
    super(
      `"${clip(input, 100)}" is not a contact link (${reason}). ` +
        'Ask for the link again: it looks like https://<doorway>/contact/uhCAk…?name=…',
    );
  }
}
