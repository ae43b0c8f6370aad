/**
 * Wire codec of `/elohim/sync/1.0.0`, the Rust node's Automerge document sync (docs/design.md
 * §4), byte for byte as rmp-serde 1.x writes the Rust node's `SyncRequest` / `SyncResponse`
 * enums (golden frames: `golden/sync-1.0.0.json`, made by `scripts/sync-golden`).
 *
 * Framing: a 4-byte big-endian length, then that many bytes of MessagePack; ONE request per
 * stream, answered by one response, then the stream ends (libp2p request-response).
 *
 *   requests   {"GetHeads":       [app_id, doc_id]}
 *              {"SyncChanges":    [app_id, doc_id, have_heads, bloom_filter|nil]}
 *              {"GetChanges":     [app_id, doc_id, change_hashes]}
 *              {"AnnounceChange": [app_id, doc_id, change_hash, change_data|nil]}
 *              {"ListDocuments":  [app_id, prefix|nil, offset, limit]}
 *   responses  {"Heads":            [app_id, doc_id, heads, change_count]}
 *              {"Changes":          [app_id, doc_id, changes, has_more, new_heads]}
 *              {"RequestedChanges": [app_id, doc_id, [[hash, change], …], not_found]}
 *              {"ChangeAck":        [app_id, doc_id, was_new]}
 *              {"DocumentList":     [app_id, [DocumentInfo, …], total, has_more]}
 *              {"NotFound":         [app_id, doc_id]}
 *              {"Error":            [message]}
 *   DocumentInfo [doc_id, doc_type, change_count, last_modified, heads]
 *
 * Every variant is a struct variant: a one-key map whose value is the positional array of its
 * fields (`to_vec`); the named-field maps of `to_vec_named` are read too. Bytes (`Vec<u8>` in
 * Rust: bloom_filter, change_data, changes) are sent as `bin` (rmp-serde ≥ 1.2 reads it into a
 * `Vec<u8>`); the array of integers rmp-serde writes is read too. Heads and hashes are
 * lowercase hex Automerge change hashes; `last_modified` is Unix milliseconds; `offset`,
 * `limit` are u32, the counts u64.
 *
 * Caps, checked as each message is read (the frame cap before anything is decoded): strings,
 * lists of hashes, the bloom filter and every byte field ({@link DOC_SYNC_LIMITS}).
 */
import {
  bytesField,
  decodeMsgpack,
  type Encodable,
  encodeMsgpack,
  fields,
  IntBytes,
  type MsgValue,
  show,
  uintField,
  variant,
  WireProtocolError,
} from '../wire/index.ts';
import { DEFAULT_MAX_FRAME_BYTES } from './codec.ts';
import { SyncFrameTooLargeError, SyncProtocolError } from './errors.ts';

export const SYNC_PROTOCOL = '/elohim/sync/1.0.0';

export const DOC_SYNC_LIMITS = {
  /** app_id, doc_id, doc_type, prefix and each hash, in UTF-16 units. */
  maxStringLength: 256,
  /** An Error's message (longer ones are cut when sent, refused when read). */
  maxMessageLength: 4096,
  /** have_heads, change_hashes, heads, new_heads and not_found. */
  maxHashes: 1024,
  /** The bloom filter (ignored when served, as the Rust node does, but read). */
  maxBloomBytes: 64 * 1024,
} as const;

export interface DocumentInfo {
  docId: string;
  docType: string;
  changeCount: number;
  /** Unix milliseconds. */
  lastModified: number;
  heads: string[];
}

export type DocSyncRequest =
  | { type: 'GetHeads'; appId: string; docId: string }
  | {
      type: 'SyncChanges';
      appId: string;
      docId: string;
      haveHeads: string[];
      bloomFilter: Uint8Array | null;
    }
  | { type: 'GetChanges'; appId: string; docId: string; changeHashes: string[] }
  | {
      type: 'AnnounceChange';
      appId: string;
      docId: string;
      changeHash: string;
      changeData: Uint8Array | null;
    }
  | { type: 'ListDocuments'; appId: string; prefix: string | null; offset: number; limit: number };

export type DocSyncResponse =
  | { type: 'Heads'; appId: string; docId: string; heads: string[]; changeCount: number }
  | {
      type: 'Changes';
      appId: string;
      docId: string;
      changes: Uint8Array[];
      hasMore: boolean;
      newHeads: string[];
    }
  | {
      type: 'RequestedChanges';
      appId: string;
      docId: string;
      changes: [string, Uint8Array][];
      notFound: string[];
    }
  | { type: 'ChangeAck'; appId: string; docId: string; wasNew: boolean }
  | {
      type: 'DocumentList';
      appId: string;
      documents: DocumentInfo[];
      total: number;
      hasMore: boolean;
    }
  | { type: 'NotFound'; appId: string; docId: string }
  | { type: 'Error'; message: string };

export type DocSyncMessage = DocSyncRequest | DocSyncResponse;

// ---------------------------------------------------------------------------------------------
// One field: its wire name, its property, how it is read and written.

interface Field {
  wire: string;
  key: string;
  read(name: string, v: MsgValue | undefined, maxBytes: number): unknown;
  write(v: unknown): Encodable;
}

function bad(message: string): never {
  throw new SyncProtocolError(message);
}

function list(name: string, field: string, v: MsgValue | undefined, max: number): MsgValue[] {
  const items = v instanceof IntBytes ? v.toNumbers() : v;
  if (!Array.isArray(items)) bad(`"${name}": ${field} must be an array, got ${show(v ?? null)}.`);
  if (items.length > max) bad(`"${name}": ${field} has ${items.length} entries; at most ${max}.`);
  return items;
}

function text(name: string, field: string, v: MsgValue | undefined, max: number): string {
  if (typeof v !== 'string') bad(`"${name}": ${field} must be a string, got ${show(v ?? null)}.`);
  if (v.length > max) bad(`"${name}": ${field} is longer than ${max} characters.`);
  return v;
}

const asIs = (v: unknown) => v as Encodable;
const { maxStringLength: STR, maxHashes: HASHES } = DOC_SYNC_LIMITS;

const str = (wire: string, key: string, max: number = STR): Field => ({
  wire,
  key,
  read: (name, v) => text(name, wire, v, max),
  write: asIs,
});
const optStr = (wire: string, key: string): Field => ({
  wire,
  key,
  read: (name, v) => (v === null ? null : text(name, wire, v, STR)),
  write: asIs,
});
const strs = (wire: string, key: string): Field => ({
  wire,
  key,
  read: (name, v) => list(name, wire, v, HASHES).map((x) => text(name, `each of ${wire}`, x, STR)),
  write: asIs,
});
const uint = (wire: string, key: string, max = Number.MAX_SAFE_INTEGER): Field => ({
  wire,
  key,
  read: (name, v) => {
    const n = uintField(name, wire, v);
    if (n > max) bad(`"${name}": ${wire} ${n} is over ${max}.`);
    return n;
  },
  write: asIs,
});
const bool = (wire: string, key: string): Field => ({
  wire,
  key,
  read: (name, v) => {
    if (typeof v !== 'boolean')
      bad(`"${name}": ${wire} must be a boolean, got ${show(v ?? null)}.`);
    return v;
  },
  write: asIs,
});
const optBytes = (wire: string, key: string, cap?: number): Field => ({
  wire,
  key,
  read: (name, v, maxBytes) => (v === null ? null : bytesField(name, v, cap ?? maxBytes)),
  write: asIs,
});
const bytesList = (wire: string, key: string): Field => ({
  wire,
  key,
  read: (name, v, maxBytes) =>
    list(name, wire, v, Number.MAX_SAFE_INTEGER).map((x) => bytesField(name, x, maxBytes)),
  write: asIs,
});
const hashedChanges: Field = {
  wire: 'changes',
  key: 'changes',
  read: (name, v, maxBytes) =>
    list(name, 'changes', v, Number.MAX_SAFE_INTEGER).map((pair) => {
      // A Rust tuple `(String, Vec<u8>)`: a two-element array.
      const [h, c] = list(name, 'each change', pair, 2);
      if (c === undefined) bad(`"${name}": each change is [hash, bytes].`);
      return [text(name, 'a change hash', h, STR), bytesField(name, c, maxBytes)];
    }),
  write: asIs,
};

const INFO_FIELDS: Field[] = [
  str('doc_id', 'docId'),
  str('doc_type', 'docType'),
  uint('change_count', 'changeCount'),
  uint('last_modified', 'lastModified'),
  strs('heads', 'heads'),
];
const documents: Field = {
  wire: 'documents',
  key: 'documents',
  read: (name, v, maxBytes) =>
    list(name, 'documents', v, Number.MAX_SAFE_INTEGER).map((d) =>
      readFields('DocumentInfo', d, INFO_FIELDS, maxBytes),
    ),
  write: (v) => (v as DocumentInfo[]).map((d) => writeFields(d, INFO_FIELDS)),
};

const U32 = 0xffff_ffff;
const APP = str('app_id', 'appId');
const DOC = str('doc_id', 'docId');

const REQUESTS: Record<DocSyncRequest['type'], Field[]> = {
  GetHeads: [APP, DOC],
  SyncChanges: [
    APP,
    DOC,
    strs('have_heads', 'haveHeads'),
    optBytes('bloom_filter', 'bloomFilter', DOC_SYNC_LIMITS.maxBloomBytes),
  ],
  GetChanges: [APP, DOC, strs('change_hashes', 'changeHashes')],
  AnnounceChange: [
    APP,
    DOC,
    str('change_hash', 'changeHash'),
    optBytes('change_data', 'changeData'),
  ],
  ListDocuments: [
    APP,
    optStr('prefix', 'prefix'),
    uint('offset', 'offset', U32),
    uint('limit', 'limit', U32),
  ],
};

const RESPONSES: Record<DocSyncResponse['type'], Field[]> = {
  Heads: [APP, DOC, strs('heads', 'heads'), uint('change_count', 'changeCount')],
  Changes: [
    APP,
    DOC,
    bytesList('changes', 'changes'),
    bool('has_more', 'hasMore'),
    strs('new_heads', 'newHeads'),
  ],
  RequestedChanges: [APP, DOC, hashedChanges, strs('not_found', 'notFound')],
  ChangeAck: [APP, DOC, bool('was_new', 'wasNew')],
  DocumentList: [APP, documents, uint('total', 'total'), bool('has_more', 'hasMore')],
  NotFound: [APP, DOC],
  Error: [str('message', 'message', DOC_SYNC_LIMITS.maxMessageLength)],
};

function readFields(
  name: string,
  value: MsgValue | undefined,
  schema: readonly Field[],
  maxBytes: number,
): Record<string, unknown> {
  const values = fields(
    name,
    value,
    schema.map((f) => f.wire),
  );
  const out: Record<string, unknown> = {};
  schema.forEach((f, i) => {
    out[f.key] = f.read(name, values[i], maxBytes);
  });
  return out;
}

function writeFields(msg: object, schema: readonly Field[]): Encodable[] {
  const m = msg as Record<string, unknown>;
  return schema.map((f) => f.write(m[f.key]));
}

// ---------------------------------------------------------------------------------------------
// Encoding and decoding.

/** One frame (4-byte length + MessagePack); throws when it would exceed `maxFrameBytes`. */
export function encodeDocSyncMessage(
  msg: DocSyncMessage,
  maxFrameBytes = DEFAULT_MAX_FRAME_BYTES,
): Uint8Array {
  const schema = isRequest(msg) ? REQUESTS[msg.type] : RESPONSES[msg.type];
  const body =
    msg.type === 'Error'
      ? { Error: [clipped(msg.message, DOC_SYNC_LIMITS.maxMessageLength)] }
      : { [msg.type]: writeFields(msg, schema) };
  const frame = encodeMsgpack(body, true);
  if (frame.byteLength - 4 > maxFrameBytes) {
    throw new SyncFrameTooLargeError(frame.byteLength - 4, maxFrameBytes, SYNC_PROTOCOL);
  }
  return frame;
}

function isRequest(msg: DocSyncMessage): msg is DocSyncRequest {
  return Object.hasOwn(REQUESTS, msg.type);
}

function clipped(message: string, max: number): string {
  return message.length > max ? `${message.slice(0, max - 1)}…` : message;
}

function decodeVariant<T>(
  payload: Uint8Array,
  what: string,
  schemas: Record<string, Field[]>,
  maxBytes: number,
): T {
  try {
    const [name, value] = variant(decodeMsgpack(payload), what);
    const schema = Object.hasOwn(schemas, name) ? schemas[name] : undefined;
    if (!schema) bad(`Unknown ${what} "${name}": expected ${Object.keys(schemas).join(', ')}.`);
    return { type: name, ...readFields(name, value, schema, maxBytes) } as T;
  } catch (e) {
    // Wire-layer errors (bad MessagePack, bad bytes, wrong shapes) become sync protocol errors.
    if (e instanceof WireProtocolError) throw new SyncProtocolError(e.message, { cause: e });
    throw e;
  }
}

/** A request frame's body; byte fields at most `maxBytes` each. */
export function decodeDocSyncRequest(
  payload: Uint8Array,
  maxBytes = DEFAULT_MAX_FRAME_BYTES,
): DocSyncRequest {
  return decodeVariant(payload, 'sync request', REQUESTS, maxBytes);
}

/** A response frame's body; byte fields at most `maxBytes` each. */
export function decodeDocSyncResponse(
  payload: Uint8Array,
  maxBytes = DEFAULT_MAX_FRAME_BYTES,
): DocSyncResponse {
  return decodeVariant(payload, 'sync response', RESPONSES, maxBytes);
}
