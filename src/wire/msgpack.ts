/**
 * A small MessagePack encoder/decoder for the wire protocols (shard, pieces, replicate,
 * sync), written for them instead of a general library because:
 * - the encoder must produce exactly what rmp-serde writes (minimal int/str/bin markers) and
 *   copy a 16 MiB payload once, straight into the length-prefixed frame;
 * - the decoder must read rmp-serde's `Vec<u8>` (an array of integers) into a Uint8Array
 *   without first building a 16-million-element JS array, bound every allocation by the
 *   bytes actually present, and reject what our messages never contain (ext types,
 *   non-string map keys, duplicate keys, deep nesting, trailing bytes).
 */
import { BadMsgpackError } from './errors.ts';

/** A decoded array whose elements were all integers 0..255 (rmp-serde's `Vec<u8>`). */
export class IntBytes {
  constructor(readonly bytes: Uint8Array) {}
  toNumbers(): number[] {
    return Array.from(this.bytes);
  }
}

export type MsgValue =
  | null
  | boolean
  | number
  | string
  | Uint8Array
  | IntBytes
  | MsgValue[]
  | Map<string, MsgValue>;

/** What {@link encodeMsgpack} accepts. Object properties that are `undefined` are skipped. */
export type Encodable =
  | null
  | undefined
  | boolean
  | number
  | string
  | Uint8Array
  | readonly Encodable[]
  | { readonly [key: string]: Encodable };

const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder('utf-8', { fatal: true });
const MAX_DEPTH = 32;

// ---------------------------------------------------------------------------------------------
// Encoder: one pass to size, one to write into a single buffer.

function strBytes(s: string, cache: Map<string, Uint8Array>): Uint8Array {
  let b = cache.get(s);
  if (!b) {
    b = utf8.encode(s);
    cache.set(s, b);
  }
  return b;
}

function intSize(n: number): number {
  if (n >= 0) {
    if (n < 0x80) return 1;
    if (n < 0x100) return 2;
    if (n < 0x10000) return 3;
    if (n < 0x100000000) return 5;
    return 9;
  }
  if (n >= -32) return 1;
  if (n >= -0x80) return 2;
  if (n >= -0x8000) return 3;
  if (n >= -0x80000000) return 5;
  return 9;
}

function lenHeaderSize(n: number, fixMax: number): number {
  if (n <= fixMax) return 1;
  if (n < 0x10000) return 3;
  return 5;
}

function entries(o: { readonly [key: string]: Encodable }): [string, Encodable][] {
  return Object.entries(o).filter(([, v]) => v !== undefined);
}

function sizeOf(v: Encodable, cache: Map<string, Uint8Array>, depth: number): number {
  if (depth > MAX_DEPTH) throw new TypeError('msgpack: value nested too deeply');
  if (v === null || v === undefined || typeof v === 'boolean') return 1;
  if (typeof v === 'number') return Number.isSafeInteger(v) ? intSize(v) : 9;
  if (typeof v === 'string') {
    const n = strBytes(v, cache).byteLength;
    return (n < 32 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : 5) + n;
  }
  if (v instanceof Uint8Array) {
    const n = v.byteLength;
    return (n < 0x100 ? 2 : n < 0x10000 ? 3 : 5) + n;
  }
  if (Array.isArray(v)) {
    let s = lenHeaderSize(v.length, 15);
    for (const x of v as readonly Encodable[]) s += sizeOf(x, cache, depth + 1);
    return s;
  }
  const es = entries(v as { readonly [key: string]: Encodable });
  let s = lenHeaderSize(es.length, 15);
  for (const [k, x] of es) s += sizeOf(k, cache, depth + 1) + sizeOf(x, cache, depth + 1);
  return s;
}

class Writer {
  pos: number;
  constructor(
    readonly buf: Uint8Array,
    readonly view: DataView,
    start: number,
    readonly cache: Map<string, Uint8Array>,
  ) {
    this.pos = start;
  }
  u8(b: number) {
    this.buf[this.pos++] = b;
  }
  u16(n: number) {
    this.view.setUint16(this.pos, n);
    this.pos += 2;
  }
  u32(n: number) {
    this.view.setUint32(this.pos, n);
    this.pos += 4;
  }
  /** `tag8` + uint8, `tag16` + uint16 or `tag32` + uint32: the smallest that holds `n`. */
  sized(n: number, tag8: number, tag16: number, tag32: number) {
    if (n < 0x100) {
      this.u8(tag8);
      this.u8(n);
    } else if (n < 0x10000) {
      this.u8(tag16);
      this.u16(n);
    } else {
      this.u8(tag32);
      this.u32(n);
    }
  }
  raw(b: Uint8Array) {
    this.buf.set(b, this.pos);
    this.pos += b.byteLength;
  }
  int(n: number) {
    if (n >= 0) {
      if (n < 0x80) this.u8(n);
      else if (n < 0x100000000) this.sized(n, 0xcc, 0xcd, 0xce);
      else {
        this.u8(0xcf);
        this.view.setBigUint64(this.pos, BigInt(n));
        this.pos += 8;
      }
      return;
    }
    if (n >= -32) this.u8(n & 0xff);
    else if (n >= -0x80) {
      this.u8(0xd0);
      this.view.setInt8(this.pos++, n);
    } else if (n >= -0x8000) {
      this.u8(0xd1);
      this.view.setInt16(this.pos, n);
      this.pos += 2;
    } else if (n >= -0x80000000) {
      this.u8(0xd2);
      this.view.setInt32(this.pos, n);
      this.pos += 4;
    } else {
      this.u8(0xd3);
      this.view.setBigInt64(this.pos, BigInt(n));
      this.pos += 8;
    }
  }
  lenHeader(n: number, fix: number, m16: number, m32: number) {
    if (n <= 15) this.u8(fix | n);
    else if (n < 0x10000) {
      this.u8(m16);
      this.u16(n);
    } else {
      this.u8(m32);
      this.u32(n);
    }
  }
  value(v: Encodable): void {
    if (v === null || v === undefined) {
      this.u8(0xc0);
      return;
    }
    if (typeof v === 'boolean') {
      this.u8(v ? 0xc3 : 0xc2);
      return;
    }
    if (typeof v === 'number') {
      if (Number.isSafeInteger(v)) {
        this.int(v);
        return;
      }
      this.u8(0xcb);
      this.view.setFloat64(this.pos, v);
      this.pos += 8;
      return;
    }
    if (typeof v === 'string') {
      const b = strBytes(v, this.cache);
      const n = b.byteLength;
      if (n < 32) this.u8(0xa0 | n);
      else this.sized(n, 0xd9, 0xda, 0xdb);
      this.raw(b);
      return;
    }
    if (v instanceof Uint8Array) {
      this.sized(v.byteLength, 0xc4, 0xc5, 0xc6);
      this.raw(v);
      return;
    }
    if (Array.isArray(v)) {
      this.lenHeader(v.length, 0x90, 0xdc, 0xdd);
      for (const x of v as readonly Encodable[]) this.value(x);
      return;
    }
    const es = entries(v as { readonly [key: string]: Encodable });
    this.lenHeader(es.length, 0x80, 0xde, 0xdf);
    for (const [k, x] of es) {
      this.value(k);
      this.value(x);
    }
  }
}

/**
 * Encodes `value` as MessagePack the way rmp-serde does (smallest marker for each int, str
 * and bin; `Uint8Array` as `bin`). With `lengthPrefix`, the result starts with the 4-byte
 * big-endian length of the MessagePack that follows (one frame, one allocation).
 */
export function encodeMsgpack(value: Encodable, lengthPrefix = false): Uint8Array {
  const cache = new Map<string, Uint8Array>();
  const size = sizeOf(value, cache, 0);
  if (size > 0xffffffff) throw new RangeError('msgpack: message too large for a frame');
  const start = lengthPrefix ? 4 : 0;
  const buf = new Uint8Array(start + size);
  const view = new DataView(buf.buffer);
  if (lengthPrefix) view.setUint32(0, size);
  const w = new Writer(buf, view, start, cache);
  w.value(value);
  if (w.pos !== buf.byteLength) throw new Error('msgpack: size mismatch (bug)');
  return buf;
}

// ---------------------------------------------------------------------------------------------
// Decoder.

/** DataView's getters, for {@link Reader.num}. */
const dv = DataView.prototype;

class Reader {
  pos = 0;
  readonly view: DataView;
  constructor(readonly buf: Uint8Array) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }
  need(n: number, what: string) {
    if (this.pos + n > this.buf.byteLength) {
      throw new BadMsgpackError(
        `Bad MessagePack: ${what} at offset ${this.pos} needs ${n} byte(s) but only ${
          this.buf.byteLength - this.pos
        } remain.`,
      );
    }
  }
  u8(what: string): number {
    this.need(1, what);
    return this.buf[this.pos++] as number;
  }
  /** A big-endian number of `size` bytes, read with `get` (one of DataView's getters). */
  num(size: number, what: string, get: (this: DataView, at: number) => number): number {
    this.need(size, what);
    const v = get.call(this.view, this.pos);
    this.pos += size;
    return v;
  }
  u16(what: string): number {
    return this.num(2, what, dv.getUint16);
  }
  u32(what: string): number {
    return this.num(4, what, dv.getUint32);
  }
  bytes(n: number, what: string): Uint8Array {
    this.need(n, what);
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }
  str(n: number): string {
    const b = this.bytes(n, 'a string');
    try {
      return utf8Strict.decode(b);
    } catch {
      throw new BadMsgpackError(
        `Bad MessagePack: a string at offset ${this.pos - n} is not UTF-8.`,
      );
    }
  }
  big(signed: boolean): number {
    this.need(8, 'a 64-bit integer');
    const v = signed ? this.view.getBigInt64(this.pos) : this.view.getBigUint64(this.pos);
    this.pos += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) {
      throw new BadMsgpackError(
        `Bad MessagePack: the integer ${v} at offset ${this.pos - 9} is beyond 2^53.`,
      );
    }
    return Number(v);
  }

  /** An array of `n` positive ints ≤ 255 written as fixint/uint8, read straight into bytes. */
  tryIntBytes(n: number): IntBytes | undefined {
    const start = this.pos;
    const out = new Uint8Array(n);
    const buf = this.buf;
    const end = buf.byteLength;
    let p = start;
    for (let i = 0; i < n; i++) {
      if (p >= end) return undefined;
      const b = buf[p] as number;
      if (b < 0x80) {
        out[i] = b;
        p += 1;
      } else if (b === 0xcc && p + 1 < end) {
        out[i] = buf[p + 1] as number;
        p += 2;
      } else {
        return undefined;
      }
    }
    this.pos = p;
    return new IntBytes(out);
  }

  array(n: number, depth: number): MsgValue[] | IntBytes {
    // Every element takes at least one byte: never allocate for elements that are not there.
    if (n > this.buf.byteLength - this.pos) this.need(n, `an array of ${n} elements`);
    const first = this.buf[this.pos];
    if (n > 0 && first !== undefined && (first < 0x80 || first === 0xcc)) {
      const ints = this.tryIntBytes(n);
      if (ints) return ints;
    }
    const out: MsgValue[] = [];
    for (let i = 0; i < n; i++) out.push(this.value(depth + 1));
    return out;
  }

  map(n: number, depth: number): Map<string, MsgValue> {
    if (n * 2 > this.buf.byteLength - this.pos) this.need(n * 2, `a map of ${n} entries`);
    const out = new Map<string, MsgValue>();
    for (let i = 0; i < n; i++) {
      const at = this.pos;
      const k = this.value(depth + 1);
      if (typeof k !== 'string') {
        throw new BadMsgpackError(
          `Bad MessagePack for this protocol: the map key at offset ${at} is not a string.`,
        );
      }
      if (out.has(k)) {
        throw new BadMsgpackError(`Bad MessagePack for this protocol: duplicate map key "${k}".`);
      }
      out.set(k, this.value(depth + 1));
    }
    return out;
  }

  value(depth: number): MsgValue {
    if (depth > MAX_DEPTH) {
      throw new BadMsgpackError(`Bad MessagePack: nested deeper than ${MAX_DEPTH} levels.`);
    }
    const at = this.pos;
    const t = this.u8('a value');
    if (t < 0x80) return t;
    if (t >= 0xe0) return t - 0x100;
    if (t >= 0xa0 && t <= 0xbf) return this.str(t & 0x1f);
    if (t >= 0x90 && t <= 0x9f) return this.array(t & 0x0f, depth);
    if (t >= 0x80 && t <= 0x8f) return this.map(t & 0x0f, depth);
    switch (t) {
      case 0xc0:
        return null;
      case 0xc2:
        return false;
      case 0xc3:
        return true;
      case 0xc4:
        return this.bytes(this.u8('a bin8 length'), 'bin8 data');
      case 0xc5:
        return this.bytes(this.u16('a bin16 length'), 'bin16 data');
      case 0xc6:
        return this.bytes(this.u32('a bin32 length'), 'bin32 data');
      case 0xca:
        return this.num(4, 'a float32', dv.getFloat32);
      case 0xcb:
        return this.num(8, 'a float64', dv.getFloat64);
      case 0xcc:
        return this.u8('a uint8');
      case 0xcd:
        return this.u16('a uint16');
      case 0xce:
        return this.u32('a uint32');
      case 0xcf:
        return this.big(false);
      case 0xd0:
        return this.num(1, 'an int8', dv.getInt8);
      case 0xd1:
        return this.num(2, 'an int16', dv.getInt16);
      case 0xd2:
        return this.num(4, 'an int32', dv.getInt32);
      case 0xd3:
        return this.big(true);
      case 0xd9:
        return this.str(this.u8('a str8 length'));
      case 0xda:
        return this.str(this.u16('a str16 length'));
      case 0xdb:
        return this.str(this.u32('a str32 length'));
      case 0xdc:
        return this.array(this.u16('an array16 length'), depth);
      case 0xdd:
        return this.array(this.u32('an array32 length'), depth);
      case 0xde:
        return this.map(this.u16('a map16 length'), depth);
      case 0xdf:
        return this.map(this.u32('a map32 length'), depth);
      default:
        throw new BadMsgpackError(
          `Bad MessagePack: type byte 0x${t.toString(16).padStart(2, '0')} at offset ${at} ${
            t === 0xc1 ? 'is never used' : 'is an ext type, which this protocol does not use'
          }.`,
        );
    }
  }
}

/**
 * Decodes exactly one MessagePack value filling all of `buf`. `bin` values are views into
 * `buf` (no copy); arrays of small non-negative integers come back as {@link IntBytes}.
 */
export function decodeMsgpack(buf: Uint8Array): MsgValue {
  if (buf.byteLength === 0) throw new BadMsgpackError('Bad MessagePack: the frame is empty.');
  const r = new Reader(buf);
  const v = r.value(0);
  if (r.pos !== buf.byteLength) {
    throw new BadMsgpackError(
      `Bad MessagePack: ${buf.byteLength - r.pos} extra byte(s) after the message.`,
    );
  }
  return v;
}
