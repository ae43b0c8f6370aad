/**
 * Wire codecs of the shard and piece protocols.
 *
 * Framing (both protocols, `src/wire`): one 4-byte big-endian length, then that many bytes
 * of MessagePack.
 *
 * `/elohim/shard/1.0.0` (byte-compatible with the Rust node, rmp-serde enum shapes; one
 * request per stream, one response):
 *   requests   {"Get": [hash]}   {"Have": [hash]}   {"Push": [hash, bytes]}
 *   responses  {"Data": bytes}   {"Have": bool}   "PushAck"   "NotFound"   {"Error": text}
 * A struct variant is a one-key map whose value is the positional field array (we also
 * accept the named-field map `{"Get": {"hash": …}}` that rmp-serde's `to_vec_named` writes);
 * a unit variant is a bare string (we also accept `{"NotFound": null}`). `bytes` is sent as
 * `bin`; both `bin` and an array of integers 0..255 (rmp-serde's `Vec<u8>`) are accepted.
 * Hashes are sent as `sha256-<hex>`; bare 64-hex and `bafkrei…` are accepted.
 *
 * `/elohim/pieces/1.0.0` (ours, same framing and conventions; one request per stream):
 *   requests   {"Manifest": [hash]}
 *              {"Pieces": [hash, shard, firstPiece, count]}
 *              {"Holds": [hash]}
 *   responses  {"Manifest": {…manifest map…}}   (to Manifest)
 *              {"Piece": [shard, piece, bytes]} × count, then "End"   (to Pieces)
 *              {"Holds": "All"}  {"Holds": {"Shards": [index, …]}}   (to Holds: the whole
 *                                 blob, or only these shards of it, kept for the network)
 *              "NotFound"   {"Error": text}   (to any; an Error may end a Piece sequence)
 * As Rust: `Holds(Holding)` with `enum Holding { All, Shards(Vec<u32>) }`.
 * The manifest map is the `StoredManifest` without its local fields (`remoteManifest`): the Rust
 * `ShardManifest` fields plus `format`, `piece_size`, `piece_hashes` and `name?`.
 */
import {
  type ContentHash,
  InvalidHashError,
  InvalidManifestError,
  parseContentHash,
  type RemoteManifest,
  type RustManifestShape,
  remoteManifest,
  type ShardManifest,
  toRustManifest,
  validateRemoteManifest,
} from '../../content/index.ts';
import {
  bytesField,
  decodeMsgpack,
  type Encodable,
  encodeFrame,
  encodeMsgpack,
  fields,
  IntBytes,
  type MsgValue,
  newtype,
  show,
  stringField,
  UnexpectedMessageError,
  uintField,
  unit,
  variant,
} from '../../wire/index.ts';

export const SHARD_PROTOCOL = '/elohim/shard/1.0.0';
export const PIECES_PROTOCOL = '/elohim/pieces/1.0.0';

const MiB = 1024 * 1024;
/** Largest `none` blob: a `Data`/`Push` carries at most this many bytes by default. */
export const DEFAULT_MAX_BYTES = 16 * MiB;
/** Most bytes one `Data` frame can carry: its length is a u32, and `{"Data": bin32}` takes 11. */
export const MAX_DATA_BYTES = 0xffffffff - 11;
/** Room for the message around the bytes (variant names, hash, markers). */
export const FRAME_OVERHEAD = 1024;
/** Default cap for a manifest frame. */
export const DEFAULT_MAX_MANIFEST_BYTES = 8 * MiB;

export interface ShardLimits {
  /** Largest byte payload (`Data`, `Push`) accepted. Default 16 MiB. */
  maxBytes: number;
  /**
   * Largest frame accepted on the wire. Default `2 × maxBytes + 1 KiB`: rmp-serde writes
   * `Vec<u8>` as an integer array, where bytes ≥ 128 take two bytes each.
   */
  maxFrameBytes: number;
}

export function shardLimits(opts: { maxBytes?: number; maxFrameBytes?: number } = {}): ShardLimits {
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES;
  return { maxBytes, maxFrameBytes: opts.maxFrameBytes ?? 2 * maxBytes + FRAME_OVERHEAD };
}

export type ShardRequest =
  | { type: 'Get'; hash: ContentHash }
  | { type: 'Have'; hash: ContentHash }
  | { type: 'Push'; hash: ContentHash; data: Uint8Array };

/** The answers both protocols end an exchange with when they do not deliver. */
export type Refusal = { type: 'NotFound' } | { type: 'Error'; message: string };

export type ShardResponse =
  | { type: 'Data'; data: Uint8Array }
  | { type: 'Have'; have: boolean }
  | { type: 'PushAck' }
  | Refusal;

/** A manifest as it travels on `/elohim/pieces/1.0.0`. */
export type { RemoteManifest };

export type PieceRequest =
  | { type: 'Manifest'; hash: ContentHash }
  | { type: 'Pieces'; hash: ContentHash; shard: number; first: number; count: number }
  | { type: 'Holds'; hash: ContentHash };

/** What a peer holds of a blob: all of it, or some of its shards (ascending). */
export type Holding = 'all' | readonly number[];

/** A `Holds` answer lists at most this many shards (rs-4-7 has 7). */
export const MAX_HELD_SHARDS = 1024;

export type PieceResponse =
  | { type: 'Manifest'; manifest: RemoteManifest }
  | { type: 'Holds'; holding: Holding }
  | { type: 'Piece'; shard: number; piece: number; data: Uint8Array }
  | { type: 'End' }
  | Refusal;

// ---------------------------------------------------------------------------------------------
// Field helpers specific to these protocols

function hashField(name: string, v: MsgValue | undefined): ContentHash {
  if (typeof v !== 'string') {
    throw new UnexpectedMessageError(
      `"${name}": the hash must be a string, got ${show(v ?? null)}.`,
    );
  }
  try {
    return parseContentHash(v);
  } catch (e) {
    if (e instanceof InvalidHashError) throw new UnexpectedMessageError(`"${name}": ${e.message}`);
    throw e;
  }
}

function body(payload: Uint8Array): MsgValue {
  return decodeMsgpack(payload);
}

/** The requests whose one field is the hash (`Get`, `Have`, `Manifest`, `Holds`). */
function hashRequest(name: string, value: MsgValue | undefined): ContentHash {
  return hashField(name, fields(name, value, ['hash'])[0]);
}

function encodeRefusal(resp: Refusal): Uint8Array {
  return resp.type === 'NotFound' ? encodeFrame('NotFound') : encodeFrame({ Error: resp.message });
}

function decodeRefusal(name: Refusal['type'], value: MsgValue | undefined): Refusal {
  if (name === 'Error') return { type: 'Error', message: stringField(name, newtype(name, value)) };
  unit(name, value);
  return { type: 'NotFound' };
}

// ---------------------------------------------------------------------------------------------
// /elohim/shard/1.0.0

export function encodeShardRequest(req: ShardRequest): Uint8Array {
  switch (req.type) {
    case 'Get':
      return encodeFrame({ Get: [parseContentHash(req.hash)] });
    case 'Have':
      return encodeFrame({ Have: [parseContentHash(req.hash)] });
    case 'Push':
      return encodeFrame({ Push: [parseContentHash(req.hash), req.data] });
  }
}

export function encodeShardResponse(resp: ShardResponse): Uint8Array {
  switch (resp.type) {
    case 'Data':
      return encodeFrame({ Data: resp.data });
    case 'Have':
      return encodeFrame({ Have: resp.have });
    case 'PushAck':
      return encodeFrame('PushAck');
    case 'NotFound':
    case 'Error':
      return encodeRefusal(resp);
  }
}

/**
 * The first bytes of a `{"Data": bin}` frame carrying `size` bytes: frame length, map, key,
 * bin header. Sending these and then the `size` bytes equals `encodeShardResponse(Data)`,
 * without holding the payload in one buffer.
 */
export function encodeDataHeader(size: number): Uint8Array {
  if (!Number.isSafeInteger(size) || size < 0 || size > MAX_DATA_BYTES) {
    throw new RangeError(
      `A Data frame carries at most ${MAX_DATA_BYTES} bytes (a 4-byte length), not ${size}.`,
    );
  }
  const head = [0x81, 0xa4, 0x44, 0x61, 0x74, 0x61];
  if (size < 0x100) head.push(0xc4, size);
  else if (size < 0x10000) head.push(0xc5, size >>> 8, size & 0xff);
  else
    head.push(0xc6, (size >>> 24) & 0xff, (size >>> 16) & 0xff, (size >>> 8) & 0xff, size & 0xff);
  const out = new Uint8Array(4 + head.length);
  new DataView(out.buffer).setUint32(0, head.length + size);
  out.set(head, 4);
  return out;
}

/** Decodes a request body (the MessagePack after the length header). */
export function decodeShardRequest(
  payload: Uint8Array,
  limits: Pick<ShardLimits, 'maxBytes'> = shardLimits(),
): ShardRequest {
  const [name, value] = variant(body(payload), 'shard request');
  switch (name) {
    case 'Get':
      return { type: 'Get', hash: hashRequest(name, value) };
    case 'Have':
      return { type: 'Have', hash: hashRequest(name, value) };
    case 'Push': {
      const [h, d] = fields(name, value, ['hash', 'data']);
      return { type: 'Push', hash: hashField(name, h), data: bytesField(name, d, limits.maxBytes) };
    }
    default:
      throw new UnexpectedMessageError(
        `Unknown shard request "${name}": expected Get, Have or Push.`,
      );
  }
}

export function decodeShardResponse(
  payload: Uint8Array,
  limits: Pick<ShardLimits, 'maxBytes'> = shardLimits(),
): ShardResponse {
  const [name, value] = variant(body(payload), 'shard response');
  switch (name) {
    case 'Data':
      return { type: 'Data', data: bytesField(name, newtype(name, value), limits.maxBytes) };
    case 'Have': {
      const v = newtype(name, value);
      if (typeof v !== 'boolean') {
        throw new UnexpectedMessageError(`"Have" response takes a boolean, got ${show(v)}.`);
      }
      return { type: 'Have', have: v };
    }
    case 'PushAck':
      unit(name, value);
      return { type: 'PushAck' };
    case 'NotFound':
    case 'Error':
      return decodeRefusal(name, value);
    default:
      throw new UnexpectedMessageError(
        `Unknown shard response "${name}": expected Data, Have, PushAck, NotFound or Error.`,
      );
  }
}

// ---------------------------------------------------------------------------------------------
// /elohim/pieces/1.0.0

export function encodePieceRequest(req: PieceRequest): Uint8Array {
  switch (req.type) {
    case 'Manifest':
      return encodeFrame({ Manifest: [parseContentHash(req.hash)] });
    case 'Pieces':
      return encodeFrame({
        Pieces: [parseContentHash(req.hash), req.shard, req.first, req.count],
      });
    case 'Holds':
      return encodeFrame({ Holds: [parseContentHash(req.hash)] });
  }
}

export function encodePieceResponse(resp: PieceResponse): Uint8Array {
  switch (resp.type) {
    case 'Manifest':
      return encodeFrame({
        Manifest: remoteManifest(resp.manifest) as unknown as { [k: string]: Encodable },
      });
    case 'Piece':
      return encodeFrame({ Piece: [resp.shard, resp.piece, resp.data] });
    case 'Holds':
      return encodeFrame({
        Holds: resp.holding === 'all' ? 'All' : { Shards: [...resp.holding] },
      });
    case 'End':
      return encodeFrame('End');
    case 'NotFound':
    case 'Error':
      return encodeRefusal(resp);
  }
}

export function decodePieceRequest(payload: Uint8Array): PieceRequest {
  const [name, value] = variant(body(payload), 'piece request');
  switch (name) {
    case 'Manifest':
      return { type: 'Manifest', hash: hashRequest(name, value) };
    case 'Pieces': {
      const [h, s, f, c] = fields(name, value, ['hash', 'shard', 'first', 'count']);
      const count = uintField(name, 'count', c);
      if (count === 0) throw new UnexpectedMessageError('"Pieces": count must be at least 1.');
      return {
        type: 'Pieces',
        hash: hashField(name, h),
        shard: uintField(name, 'shard', s),
        first: uintField(name, 'first', f),
        count,
      };
    }
    case 'Holds':
      return { type: 'Holds', hash: hashRequest(name, value) };
    default:
      throw new UnexpectedMessageError(
        `Unknown piece request "${name}": expected Manifest, Pieces or Holds.`,
      );
  }
}

export function decodePieceResponse(payload: Uint8Array, maxPieceBytes: number): PieceResponse {
  const [name, value] = variant(body(payload), 'piece response');
  switch (name) {
    case 'Manifest':
      return { type: 'Manifest', manifest: manifestFromWire(newtype(name, value)) };
    case 'Piece': {
      const [s, p, d] = fields(name, value, ['shard', 'piece', 'data']);
      return {
        type: 'Piece',
        shard: uintField(name, 'shard', s),
        piece: uintField(name, 'piece', p),
        data: bytesField(name, d, maxPieceBytes),
      };
    }
    case 'Holds':
      return { type: 'Holds', holding: holdingField(newtype(name, value)) };
    case 'End':
      unit(name, value);
      return { type: 'End' };
    case 'NotFound':
    case 'Error':
      return decodeRefusal(name, value);
    default:
      throw new UnexpectedMessageError(
        `Unknown piece response "${name}": expected Manifest, Piece, Holds, End, NotFound or Error.`,
      );
  }
}

/** `"All"` or `{"Shards": [index, …]}`: distinct indices, at most {@link MAX_HELD_SHARDS}. */
function holdingField(v: MsgValue): Holding {
  const [kind, value] = variant(v, 'Holds answer');
  if (kind === 'All') {
    unit('Holds.All', value);
    return 'all';
  }
  if (kind !== 'Shards') {
    throw new UnexpectedMessageError(`"Holds" takes All or Shards, got ${show(kind)}.`);
  }
  const list = value instanceof IntBytes ? value.toNumbers() : value;
  if (!Array.isArray(list) || list.length === 0 || list.length > MAX_HELD_SHARDS) {
    throw new UnexpectedMessageError(
      `"Holds.Shards" takes 1 to ${MAX_HELD_SHARDS} shard indices, got ${show(value ?? null)}.`,
    );
  }
  const shards = list.map((x) => uintField('Holds.Shards', 'a shard index', x));
  if (new Set(shards).size !== shards.length) {
    throw new UnexpectedMessageError('"Holds.Shards" lists a shard twice.');
  }
  return shards.sort((a, b) => a - b);
}

function plain(v: MsgValue): unknown {
  if (v instanceof IntBytes) return v.toNumbers();
  if (Array.isArray(v)) return v.map(plain);
  if (v instanceof Map) {
    const o: Record<string, unknown> = Object.create(null);
    for (const [k, x] of v) o[k] = plain(x);
    return o;
  }
  return v;
}

/**
 * Structural validation of a manifest from a peer (content's `validateRemoteManifest`): ours,
 * or any of the three Rust shapes, as a map or as rmp-serde's positional array. It cannot
 * prove the hashes are honest: pieces are checked against `piece_hashes` (a Rust manifest's
 * shards against `shard_hashes`), and the import checks shard and blob hashes over the bytes.
 */
export function manifestFromWire(v: MsgValue): RemoteManifest {
  if (!(v instanceof Map) && !Array.isArray(v)) {
    throw new UnexpectedMessageError(`"Manifest" takes a map, got ${show(v)}.`);
  }
  try {
    return validateRemoteManifest(plain(v));
  } catch (e) {
    if (e instanceof InvalidManifestError) throw new UnexpectedMessageError(e.message);
    throw e;
  }
}

/**
 * A manifest as the Rust `shape` declares it (rust-manifest.ts in src/content), in the
 * encoding rmp-serde gives its struct: the positional field array (`to_vec`), or the map
 * (`to_vec_named`).
 */
export function encodeRustManifest(
  m: ShardManifest,
  shape: RustManifestShape,
  form: 'positional' | 'named',
): Uint8Array {
  const fields = toRustManifest(m, shape);
  return encodeMsgpack(form === 'named' ? fields : Object.values(fields));
}
