/**
 * Generic field readers for decoded MessagePack in rmp-serde's enum conventions: a unit
 * variant is a bare string (`{"Name": null}` accepted too), a newtype variant a one-key map,
 * a struct variant a one-key map of positional fields (the named-field map rmp-serde's
 * `to_vec_named` writes is accepted too). Every failure is an `UnexpectedMessageError` (or
 * `BadBytesError` / `FrameTooLargeError` for bytes) naming the message and field, so a peer
 * sending a wrong shape learns what was expected.
 */
import { BadBytesError, FrameTooLargeError, UnexpectedMessageError } from './errors.ts';
import { IntBytes, type MsgValue } from './msgpack.ts';

/** A value's shape for error messages: `bin(12)`, `map{Get}`, `"text"`. */
export function show(v: MsgValue | undefined): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'nil';
  if (v instanceof Uint8Array) return `bin(${v.byteLength})`;
  if (v instanceof IntBytes) return `array(${v.bytes.byteLength})`;
  if (Array.isArray(v)) return `array(${v.length})`;
  if (v instanceof Map) return `map{${[...v.keys()].slice(0, 4).join(',')}}`;
  if (typeof v === 'string') return `"${v.length > 40 ? `${v.slice(0, 40)}…` : v}"`;
  return String(v);
}

/** `"Name"` → [Name, undefined]; `{"Name": value}` → [Name, value]. */
export function variant(v: MsgValue, what: string): [string, MsgValue | undefined] {
  if (typeof v === 'string') return [v, undefined];
  if (v instanceof Map && v.size === 1) {
    const [entry] = v;
    if (entry) return entry;
  }
  throw new UnexpectedMessageError(
    `Not a ${what}: expected a variant name or a one-key map, got ${show(v)}.`,
  );
}

/** A unit variant's value: nothing, nil or an empty array. */
export function unit(name: string, value: MsgValue | undefined): void {
  if (value === undefined || value === null) return;
  if (Array.isArray(value) && value.length === 0) return;
  if (value instanceof IntBytes && value.bytes.byteLength === 0) return;
  throw new UnexpectedMessageError(`"${name}" takes no value, got ${show(value)}.`);
}

/** Positional (`[a, b]`) or named (`{"a":…, "b":…}`) struct-variant fields. */
export function fields(
  name: string,
  value: MsgValue | undefined,
  names: readonly string[],
): MsgValue[] {
  if (value instanceof IntBytes) value = value.toNumbers();
  if (Array.isArray(value)) {
    if (value.length !== names.length) {
      throw new UnexpectedMessageError(
        `"${name}" takes ${names.length} field(s) [${names.join(', ')}], got ${value.length}.`,
      );
    }
    return value;
  }
  if (value instanceof Map && value.size === names.length && names.every((n) => value.has(n))) {
    return names.map((n) => value.get(n) as MsgValue);
  }
  throw new UnexpectedMessageError(
    `"${name}" takes the fields [${names.join(', ')}] as an array, got ${show(value ?? null)}.`,
  );
}

/** A newtype variant's value (a bare variant name has none). */
export function newtype(name: string, value: MsgValue | undefined): MsgValue {
  if (value === undefined) {
    throw new UnexpectedMessageError(`"${name}" needs a value, got a bare variant name.`);
  }
  return value;
}

export function uintField(name: string, field: string, v: MsgValue | undefined): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
    throw new UnexpectedMessageError(
      `"${name}": ${field} must be a non-negative integer, got ${show(v ?? null)}.`,
    );
  }
  return v;
}

export function stringField(name: string, v: MsgValue | undefined): string {
  if (typeof v !== 'string') {
    throw new UnexpectedMessageError(`"${name}" takes a string, got ${show(v ?? null)}.`);
  }
  return v;
}

/** `bin` or an array of integers 0..255, at most `maxBytes` long. */
export function bytesField(name: string, v: MsgValue | undefined, maxBytes: number): Uint8Array {
  let out: Uint8Array;
  if (v instanceof Uint8Array) out = v;
  else if (v instanceof IntBytes) out = v.bytes;
  else if (Array.isArray(v)) {
    out = new Uint8Array(v.length);
    for (let i = 0; i < v.length; i++) {
      const x = v[i];
      if (typeof x !== 'number' || !Number.isInteger(x) || x < 0 || x > 255) {
        throw new BadBytesError(
          `"${name}": element ${i} of the byte array is ${show(x ?? null)}, not an integer 0..255.`,
        );
      }
      out[i] = x;
    }
  } else {
    throw new BadBytesError(
      `"${name}": expected bytes (bin or an array of integers 0..255), got ${show(v ?? null)}.`,
    );
  }
  if (out.byteLength > maxBytes) throw new FrameTooLargeError(out.byteLength, maxBytes, 'payload');
  return out;
}
