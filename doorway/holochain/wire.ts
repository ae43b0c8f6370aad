import { encode } from '@msgpack/msgpack';
import { ElohimError, type WireErrorKind } from '../../src/wire/index.ts';
import type { Logger } from '../log.ts';
import { isHoloHash } from './hash.ts';
import { decodeChecked } from './msgpack.ts';

/**
 * The app interface's wire format, as @holochain/client 0.20 (`WsClient`, `AppWebsocket`) and
 * Holochain's `holochain_conductor_api` speak it. Every websocket message is a MessagePack map
 * whose `data` is itself MessagePack bytes:
 *
 *   client → conductor  {type: 'authenticate', data: encode({token})}
 *                       {type: 'request', id, data: encode({type: <AppRequest>, value})}
 *   conductor → client  {type: 'response', id, data: encode({type: <AppResponse>, value})}
 *                       {type: 'signal', data: encode({type: 'app', value: {cell_id, zome_name,
 *                                                     signal: encode(payload)}})}
 *
 * AppRequest/AppResponse are serde enums tagged `type`, content `value`, snake_case.
 *
 * Every layer a client sends is decoded with `decodeChecked` (msgpack.ts): its nesting depth is
 * checked before anything is built, so a hostile message costs a linear scan, never a decode.
 */

/** `ExternalApiWireError` variants (snake_case), as the client reports them in `error.name`. */
export type { WireErrorKind };

export interface WireError {
  type: 'error';
  value: { type: WireErrorKind; value: string };
}

export function wireError(kind: WireErrorKind, message: string): WireError {
  return { type: 'error', value: { type: kind, value: message } };
}

/** A problem answered as an `AppResponse::Error`; thrown inside request handling. */
export class ConductorError extends ElohimError.named('ConductorError') {
  constructor(
    readonly kind: WireErrorKind,
    message: string,
  ) {
    super(message);
  }
}

/**
 * A zome function refused (a guest error) or a commit failed validation. Holochain reports
 * both as `ribosome_error`; the message names what to change.
 */
export class ZomeError extends ConductorError.named('ZomeError') {
  constructor(message: string) {
    super('ribosome_error', message);
  }
}

export class ValidationError extends ZomeError.named('ValidationError') {
  constructor(reason: string) {
    // Holochain's wording for a commit refused by app validation inside a zome call.
    super(`Source chain error: InvalidCommit error: Validation failed: ${reason}`);
  }
}

export type CellId = [Uint8Array, Uint8Array];

/** `ZomeCallParams`: what the caller signs (as MessagePack) and sends as `bytes`. */
export interface ZomeCallParams {
  provenance: Uint8Array;
  cell_id: CellId;
  zome_name: string;
  fn_name: string;
  cap_secret: Uint8Array | null;
  payload: Uint8Array;
  nonce: Uint8Array;
  /** Microseconds since the Unix epoch. */
  expires_at: number;
}

export const CAP_SECRET_LENGTH = 64;
export const NONCE_LENGTH = 32;
export const SIGNATURE_LENGTH = 64;

/** Thrown when bytes are not the structure they claim to be; `kind` as Holochain answers it. */
export class DecodeError extends ConductorError.named('DecodeError') {}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !(value instanceof Uint8Array);
}

/**
 * Decodes the signed `bytes` of a `call_zome` request. Holochain answers undecodable params
 * with `internal_error` (its `ConductorApiError::SerializationError` is not special-cased).
 */
export function decodeZomeCallParams(bytes: Uint8Array, maxDepth: number): ZomeCallParams {
  let raw: unknown;
  try {
    raw = decodeChecked(bytes, maxDepth);
  } catch (error) {
    throw new DecodeError('internal_error', `SerializationError: ${(error as Error).message}`);
  }
  const fail = (what: string) =>
    new DecodeError(
      'internal_error',
      `SerializationError: ZomeCallParams ${what} (sign the MessagePack of {provenance, cell_id, zome_name, fn_name, cap_secret, payload, nonce, expires_at})`,
    );
  if (!isRecord(raw)) throw fail('is not a map');
  const { provenance, cell_id, zome_name, fn_name, cap_secret, payload, nonce, expires_at } = raw;
  if (!isHoloHash(provenance, 'agent')) throw fail('provenance is not a 39-byte agent key');
  if (
    !Array.isArray(cell_id) ||
    cell_id.length !== 2 ||
    !isHoloHash(cell_id[0], 'dna') ||
    !isHoloHash(cell_id[1], 'agent')
  ) {
    throw fail('cell_id is not [DnaHash, AgentPubKey]');
  }
  if (typeof zome_name !== 'string' || typeof fn_name !== 'string') {
    throw fail('zome_name and fn_name must be strings');
  }
  if (
    cap_secret != null &&
    !(cap_secret instanceof Uint8Array && cap_secret.length === CAP_SECRET_LENGTH)
  ) {
    throw fail(`cap_secret must be ${CAP_SECRET_LENGTH} bytes or nil`);
  }
  if (!(payload instanceof Uint8Array)) throw fail('payload must be bytes (MessagePack)');
  if (!(nonce instanceof Uint8Array) || nonce.length !== NONCE_LENGTH) {
    throw fail(`nonce must be ${NONCE_LENGTH} bytes`);
  }
  const expires = typeof expires_at === 'bigint' ? Number(expires_at) : expires_at;
  if (typeof expires !== 'number' || !Number.isFinite(expires)) {
    throw fail('expires_at must be a timestamp in microseconds');
  }
  return {
    provenance,
    cell_id: [cell_id[0], cell_id[1]],
    zome_name,
    fn_name,
    cap_secret: cap_secret ?? null,
    payload,
    nonce,
    expires_at: expires,
  };
}

/** The `{bytes, signature}` value of a `call_zome` request. */
export function readSignedCall(value: unknown): { bytes: Uint8Array; signature: Uint8Array } {
  if (
    !isRecord(value) ||
    !(value.bytes instanceof Uint8Array) ||
    !(value.signature instanceof Uint8Array)
  ) {
    throw new DecodeError(
      'deserialization',
      'call_zome takes {bytes, signature}: the MessagePack of ZomeCallParams and its Ed25519 signature',
    );
  }
  if (value.signature.length !== SIGNATURE_LENGTH) {
    throw new DecodeError(
      'deserialization',
      `call_zome signature must be ${SIGNATURE_LENGTH} bytes, got ${value.signature.length}`,
    );
  }
  return { bytes: value.bytes, signature: value.signature };
}

/** An envelope from the client. */
export type Envelope =
  | { type: 'authenticate'; data: Uint8Array }
  | { type: 'request'; id: number; data: Uint8Array }
  | { type: 'signal'; data: Uint8Array };

/** Thrown by `readEnvelope`; its message is short enough for a websocket close reason. */
export class EnvelopeError extends ElohimError.named('EnvelopeError') {}

export function readEnvelope(bytes: Uint8Array, maxDepth: number): Envelope {
  let raw: unknown;
  try {
    raw = decodeChecked(bytes, maxDepth);
  } catch (error) {
    throw new EnvelopeError(`not a Holochain wire message: ${(error as Error).message}`);
  }
  if (isRecord(raw) && raw.data instanceof Uint8Array) {
    if (raw.type === 'authenticate' || raw.type === 'signal') {
      return { type: raw.type, data: raw.data };
    }
    if (raw.type === 'request' && typeof raw.id === 'number') {
      return { type: 'request', id: raw.id, data: raw.data };
    }
  }
  throw new EnvelopeError('not a Holochain wire message: expected {type, data[, id]}');
}

/** The token of an `authenticate` message (`AppAuthenticationToken` is `number[]` in the client). */
export function readAuthToken(data: Uint8Array, maxDepth: number): Uint8Array | undefined {
  let raw: unknown;
  try {
    raw = decodeChecked(data, maxDepth);
  } catch {
    return undefined;
  }
  if (!isRecord(raw)) return undefined;
  const { token } = raw;
  if (token instanceof Uint8Array) return token;
  if (
    Array.isArray(token) &&
    token.length <= 1024 &&
    token.every((b) => Number.isInteger(b) && b >= 0 && b <= 255)
  ) {
    return Uint8Array.from(token as number[]);
  }
  return undefined;
}

export function responseMessage(id: number, response: unknown): Uint8Array {
  return encode({ type: 'response', id, data: encode(response) });
}

export function appSignalMessage(cellId: CellId, zomeName: string, payload: unknown): Uint8Array {
  return encode({
    type: 'signal',
    data: encode({
      type: 'app',
      value: { cell_id: cellId, zome_name: zomeName, signal: encode(payload) },
    }),
  });
}

/**
 * Answers one AppRequest or AdminRequest (`what`) with its response: `data` is decoded
 * depth-checked into `{type, value}` and handed to `answer`. A ConductorError it throws is
 * answered as its wire error; anything else as `internal_error`, logged — at debug level, since
 * what the caller sent set it off, except a failing database, which is the operator's to see.
 */
export function answerRequest(
  data: Uint8Array,
  what: 'AppRequest' | 'AdminRequest',
  maxDepth: number,
  log: Logger,
  answer: (type: string, value: unknown) => unknown,
): unknown {
  let request: unknown;
  try {
    request = decodeChecked(data, maxDepth);
  } catch (error) {
    return wireError('deserialization', `${what} is not MessagePack: ${(error as Error).message}`);
  }
  if (!isRecord(request) || typeof request.type !== 'string') {
    return wireError('deserialization', `${what} must be a map {type, value}`);
  }
  try {
    return answer(request.type, request.value);
  } catch (error) {
    if (error instanceof ConductorError) return wireError(error.kind, error.message);
    const report = `hc ${what}: ${request.type} failed: ${(error as Error)?.stack ?? error}`;
    if ((error as Error)?.name === 'SqliteError') log.error(report);
    else log.debug(report);
    return wireError('internal_error', `emulator error: ${(error as Error)?.message ?? error}`);
  }
}
