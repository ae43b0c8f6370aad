/**
 * Typed errors of the reach layer. Messages say what happened and what to do, because they
 * reach logs and the UI unchanged.
 */
import { clip, ElohimError } from '../wire/index.ts';

export class ReachError extends ElohimError.named('ReachError') {}

/** A string that should be a Holochain agent key (`uhCAk…`) is not one. */
export class InvalidAgentKeyError extends ReachError.named('InvalidAgentKeyError') {
  constructor(
    readonly input: string,
    reason: string,
  ) {
    super(
      `"${clip(input, 60)}" is not an agent key (${reason}). ` +
        'Use the base64 HoloHash form the trust layer gives (u + base64url of 84 20 24, the 32-byte Ed25519 key and 4 location bytes).',
    );
  }
}

/** Two agents' keys could not be turned into a shared key. */
export class KeyAgreementError extends ReachError.named('KeyAgreementError') {}

/**
 * Ciphertext failed authentication: wrong key, or bytes/position/item changed since sealing.
 * Nothing of the failing segment is released.
 */
export class DecryptionError extends ReachError.named('DecryptionError') {
  constructor(
    readonly what: string,
    cause?: unknown,
  ) {
    super(
      `Could not decrypt ${what}: the key is wrong or the bytes were altered, reordered or truncated. ` +
        'Discard this copy and fetch the item again from another peer; if every copy fails, ask the owner to share it with you again.',
      { cause },
    );
  }
}

/** A wrapped key (cluster key grant, item key slot) does not open with the key offered. */
export class KeyUnwrapError extends ReachError.named('KeyUnwrapError') {
  constructor(what: string, cause?: unknown) {
    super(
      `Could not unwrap ${what}: it was not wrapped for this key, or it was altered. ` +
        'Check that the relationship (or device) it names is yours, or ask its sender to wrap it for you again.',
      { cause },
    );
  }
}

/** No slot of a sealed item opens with any key this device has. */
export class NoKeyError extends ReachError.named('NoKeyError') {
  constructor(readonly reach: string) {
    super(
      `This ${reach} item was not sealed for this device: none of its key slots opens with a key held here. ` +
        'Ask the owner to invite you (or to add you to their cluster), then fetch it again.',
    );
  }
}

/** Bytes that should be a sealed item are not one (or use a version this code does not know). */
export class SealedFormatError extends ReachError.named('SealedFormatError') {
  constructor(detail: string) {
    super(
      `Not a sealed item this version can read: ${detail}. ` +
        'If it came from a peer, drop that copy and fetch it elsewhere; if it is newer, update the app.',
    );
  }
}

/** A family (`local`) item was to be stored, but this person has no family cluster key yet. */
export class NoFamilyClusterError extends ReachError.named('NoFamilyClusterError') {
  constructor() {
    super(
      'An item for your family is sealed with your family cluster key, and there is none yet: ' +
        'mark at least one contact as family under People (in the tab that runs the network), then add the file again.',
    );
  }
}
