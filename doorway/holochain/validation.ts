import { multiaddr } from '@multiformats/multiaddr';
import { isHoloHash } from './hash.ts';
import { ValidationError, ZomeError } from './wire.ts';

/**
 * Reading zome payloads and validating entries. Two kinds of refusal, as in Holochain:
 * a payload of the wrong shape fails to deserialize in the zome (ZomeError), a well-formed
 * entry that breaks a rule fails validation (ValidationError, "Validation failed: …").
 * Both reach the client as `ribosome_error`.
 */

/** docs/design.md §7. `regional` is the Rust SDK's name between bioregional and commons. */
export const REACHES = [
  'private',
  'invited',
  'local',
  'neighborhood',
  'municipal',
  'bioregional',
  'regional',
  'commons',
] as const;
export type Reach = (typeof REACHES)[number];

export const CONTENT_HASH_PATTERN = /^sha256-[0-9a-f]{64}$/;
export const MAX_ENDPOINTS = 16;
export const MAX_MULTIADDRS = 16;

export type Payload = Record<string, unknown>;

function shapeError(fn: string, problem: string): ZomeError {
  return new ZomeError(
    `Wasm error while working with Ribosome: Deserialize("${fn} input: ${problem}")`,
  );
}

/** The payload as a map; `fn` names the function in errors. */
export function record(fn: string, payload: unknown): Payload {
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
    throw shapeError(fn, 'expected a map of named fields');
  }
  if (payload instanceof Uint8Array) throw shapeError(fn, 'expected a map, got bytes');
  return payload as Payload;
}

export function text(fn: string, input: Payload, field: string): string {
  const value = input[field];
  if (typeof value !== 'string') throw shapeError(fn, `${field} must be a string`);
  return value;
}

export function optionalText(fn: string, input: Payload, field: string): string | null {
  return input[field] == null ? null : text(fn, input, field);
}

export function integer(fn: string, input: Payload, field: string): number {
  const value = input[field];
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
    throw shapeError(fn, `${field} must be an integer`);
  }
  return value;
}

export function optionalInteger(fn: string, input: Payload, field: string): number | null {
  return input[field] == null ? null : integer(fn, input, field);
}

export function optionalBoolean(fn: string, input: Payload, field: string): boolean | null {
  const value = input[field];
  if (value == null) return null;
  if (typeof value !== 'boolean') throw shapeError(fn, `${field} must be a boolean`);
  return value;
}

export function list(fn: string, input: Payload, field: string): unknown[] {
  const value = input[field];
  if (!Array.isArray(value)) throw shapeError(fn, `${field} must be a list`);
  return value;
}

export function agentKey(fn: string, value: unknown, field: string): Uint8Array {
  if (!isHoloHash(value, 'agent')) {
    throw shapeError(fn, `${field} must be a 39-byte AgentPubKey (84 20 24 + key + location)`);
  }
  return value;
}

// ---- validation rules ----

export function checkLength(field: string, value: string, min: number, max: number): void {
  if (value.length < min || value.length > max) {
    throw new ValidationError(
      `${field} must be ${min === max ? min : `${min} to ${max}`} characters, got ${value.length}`,
    );
  }
}

export function checkRange(field: string, value: number, min: number, max: number): void {
  if (value < min || value > max) {
    throw new ValidationError(`${field} must be from ${min} to ${max}, got ${value}`);
  }
}

export function checkPattern(field: string, value: string, pattern: RegExp, hint: string): void {
  if (!pattern.test(value)) {
    throw new ValidationError(`${field} must be ${hint}, got "${value.slice(0, 80)}"`);
  }
}

export function checkContentHash(value: string): void {
  checkPattern(
    'content_hash',
    value,
    CONTENT_HASH_PATTERN,
    'sha256-<64 lowercase hex> (the sha256 of the bytes)',
  );
}

export function checkReach(field: string, value: string): Reach {
  if (!(REACHES as readonly string[]).includes(value)) {
    throw new ValidationError(`${field} must be one of ${REACHES.join(', ')}; got "${value}"`);
  }
  return value as Reach;
}

export function checkMultiaddr(field: string, value: string): void {
  checkLength(field, value, 1, 1024);
  try {
    multiaddr(value);
  } catch (error) {
    throw new ValidationError(
      `${field} must be a multiaddr such as /ip4/1.2.3.4/tcp/443/wss/p2p/12D3KooW…: ${(error as Error).message}`,
    );
  }
}

export function checkUrl(field: string, value: string, schemes: readonly string[]): void {
  checkLength(field, value, 1, 2048);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ValidationError(`${field} must be an absolute URL, got "${value.slice(0, 80)}"`);
  }
  if (!schemes.includes(url.protocol.slice(0, -1))) {
    throw new ValidationError(`${field} must use ${schemes.join(' or ')}, got ${url.protocol}`);
  }
}
