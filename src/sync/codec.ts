/**
 * Wire codec of `/elohim/positions/1.0.0` (docs/design.md §4), with the shard protocol's framing and
 * rmp-serde enum conventions (see `src/wire` and `src/net/shard/codec.ts`):
 *
 * Framing: a 4-byte big-endian length, then that many bytes of MessagePack. A stream carries
 * any number of frames; each request is answered, in order, on the same stream; an
 * `Announce` is never answered except by an `Error` when it is refused.
 *
 *   requests   {"SyncRequest": [since, limit]}      events after position `since`, ≤ limit
 *              {"DocRequest": [doc_id, heads]}      changes of doc_id the asker lacks
 *              {"Announce": [event]}                pushed live, one per local change
 *   responses  {"SyncResponse": [events, has_more]}
 *              {"DocResponse": [doc_id, changes]}
 *              {"Error": text}
 *   SyncEvent  [position, doc_id, change_hash, kind, timestamp]
 *   kind       "Local" | "New" | "Backfill" | "Outlier"    (unit variants: bare strings)
 *
 * Structs (variant fields and SyncEvent) are sent as positional arrays, as rmp-serde's
 * `to_vec` writes them; the named-field maps of `to_vec_named` (`{"since": …, "limit": …}`,
 * `{"position": …, …}`) are accepted too, and so is `{"Local": null}` for a kind.
 * - position: u64 ≥ 1 in the sender's own log (its first event is 1; `since: 0` = from the start);
 * - doc_id: an automerge-repo DocumentId (base58check string, no `automerge:` prefix);
 * - change_hash and heads: lowercase hex sha256 Automerge change hashes;
 * - changes: Automerge change bytes (`Automerge.getChanges`), each `bin` (an array of
 *   integers 0..255 is accepted too);
 * - timestamp: milliseconds since 1970-01-01 UTC, when the change was recorded.
 * Served events carry the kind the server stored them with (`Local` for its own log); the
 * receiver stores them under its own classification.
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
  stringField,
  uintField,
  variant,
  WireProtocolError,
} from '../wire/index.ts';
import { SyncFrameTooLargeError, SyncProtocolError } from './errors.ts';

/** Ours: stream positions (the Rust node's `/elohim/sync/1.0.0` is `doc-sync-codec.ts`). */
export const POSITIONS_PROTOCOL = '/elohim/positions/1.0.0';

const MiB = 1024 * 1024;
/** Default frame cap for both sync protocols. */
export const DEFAULT_MAX_FRAME_BYTES = 8 * MiB;
/** Largest `SyncRequest.limit` served by default. */
export const DEFAULT_MAX_LIMIT = 500;
/** Largest number of heads accepted in a DocRequest (real documents have a handful). */
export const MAX_HEADS = 1024;

export const EVENT_KINDS = ['Local', 'New', 'Backfill', 'Outlier'] as const;
export type EventKind = (typeof EVENT_KINDS)[number];

export interface SyncEvent {
  position: number;
  doc_id: string;
  change_hash: string;
  kind: EventKind;
  /** ms since the epoch. */
  timestamp: number;
}

export type SyncRequestMessage =
  | { type: 'SyncRequest'; since: number; limit: number }
  | { type: 'DocRequest'; docId: string; heads: string[] }
  | { type: 'Announce'; event: SyncEvent };

export type SyncResponseMessage =
  | { type: 'SyncResponse'; events: SyncEvent[]; hasMore: boolean }
  | { type: 'DocResponse'; docId: string; changes: Uint8Array[] }
  | { type: 'Error'; message: string };

export type SyncMessage = SyncRequestMessage | SyncResponseMessage;

const HASH_RE = /^[0-9a-f]{64}$/;
const DOC_ID_RE = /^[1-9A-HJ-NP-Za-km-z]{1,128}$/;

export function isChangeHash(v: unknown): v is string {
  return typeof v === 'string' && HASH_RE.test(v);
}

export function isDocIdShape(v: unknown): v is string {
  return typeof v === 'string' && DOC_ID_RE.test(v);
}

export function isEventKind(v: unknown): v is EventKind {
  return (EVENT_KINDS as readonly unknown[]).includes(v);
}

/** A stored event read back (a file, another tab's notice): the shape it was written in. */
export function isSyncEvent(v: unknown): v is SyncEvent {
  const e = v as Partial<SyncEvent> | null;
  return (
    typeof e === 'object' &&
    e !== null &&
    Number.isSafeInteger(e.position) &&
    (e.position as number) > 0 &&
    isDocIdShape(e.doc_id) &&
    isChangeHash(e.change_hash) &&
    isEventKind(e.kind) &&
    Number.isFinite(e.timestamp)
  );
}

// ---------------------------------------------------------------------------------------------
// Encoding

function eventToWire(e: SyncEvent): Encodable {
  return [e.position, e.doc_id, e.change_hash, e.kind, e.timestamp];
}

/** One frame (4-byte length + MessagePack); throws when it would exceed `maxFrameBytes`. */
export function encodeSyncMessage(
  msg: SyncMessage,
  maxFrameBytes = DEFAULT_MAX_FRAME_BYTES,
): Uint8Array {
  let body: Encodable;
  switch (msg.type) {
    case 'SyncRequest':
      body = { SyncRequest: [msg.since, msg.limit] };
      break;
    case 'DocRequest':
      body = { DocRequest: [msg.docId, msg.heads] };
      break;
    case 'Announce':
      body = { Announce: [eventToWire(msg.event)] };
      break;
    case 'SyncResponse':
      body = { SyncResponse: [msg.events.map(eventToWire), msg.hasMore] };
      break;
    case 'DocResponse':
      body = { DocResponse: [msg.docId, msg.changes] };
      break;
    case 'Error':
      body = { Error: msg.message };
      break;
  }
  const frame = encodeMsgpack(body, true);
  if (frame.byteLength - 4 > maxFrameBytes) {
    throw new SyncFrameTooLargeError(frame.byteLength - 4, maxFrameBytes, POSITIONS_PROTOCOL);
  }
  return frame;
}

// ---------------------------------------------------------------------------------------------
// Decoding
//
// The wire's field readers (variant, fields, uintField, stringField) throw wire errors;
// `decoding` turns every one into a SyncProtocolError with the same message.

/** A value's shape for error messages; a missing value shows as `nil`. */
function shown(v: MsgValue | undefined): string {
  return show(v ?? null);
}

function bad(message: string): never {
  throw new SyncProtocolError(message);
}

/** An array (an all-small-integers array decodes as IntBytes: give its numbers back). */
function list(name: string, field: string, v: MsgValue | undefined): MsgValue[] {
  if (v instanceof IntBytes) return v.toNumbers();
  if (!Array.isArray(v)) bad(`"${name}": ${field} must be an array, got ${shown(v)}.`);
  return v;
}

function changeHash(name: string, field: string, v: MsgValue | undefined): string {
  if (!isChangeHash(v)) {
    bad(`"${name}": ${field} must be a 64-character lowercase hex change hash, got ${shown(v)}.`);
  }
  return v;
}

function docId(name: string, v: MsgValue | undefined): string {
  if (!isDocIdShape(v)) {
    bad(`"${name}": doc_id must be an automerge-repo document id (base58), got ${shown(v)}.`);
  }
  return v;
}

function kind(v: MsgValue | undefined): EventKind {
  const [name, value] = variant(v ?? null, 'event kind');
  if (value !== undefined && value !== null) {
    bad(`The event kind "${name}" takes no value, got ${shown(value)}.`);
  }
  if (!(EVENT_KINDS as readonly string[]).includes(name)) {
    bad(`Unknown event kind "${name}": expected ${EVENT_KINDS.join(', ')}.`);
  }
  return name as EventKind;
}

const EVENT_FIELDS = ['position', 'doc_id', 'change_hash', 'kind', 'timestamp'] as const;

function event(v: MsgValue | undefined): SyncEvent {
  const [p, d, h, k, t] = fields('SyncEvent', v, EVENT_FIELDS);
  const position = uintField('SyncEvent', 'position', p);
  if (position < 1) bad('"SyncEvent": positions start at 1.');
  return {
    position,
    doc_id: docId('SyncEvent', d),
    change_hash: changeHash('SyncEvent', 'change_hash', h),
    kind: kind(k),
    timestamp: uintField('SyncEvent', 'timestamp', t),
  };
}

/** Wire-layer decoding errors (bad MessagePack, bad bytes) become sync protocol errors. */
function decoding<T>(payload: Uint8Array, decode: (v: MsgValue) => T): T {
  try {
    return decode(decodeMsgpack(payload));
  } catch (e) {
    if (e instanceof WireProtocolError) throw new SyncProtocolError(e.message, { cause: e });
    throw e;
  }
}

/** Decodes a frame body sent to a server: SyncRequest, DocRequest or Announce. */
export function decodeSyncRequest(payload: Uint8Array): SyncRequestMessage {
  return decoding(payload, (v) => {
    const [name, value] = variant(v, 'sync request');
    switch (name) {
      case 'SyncRequest': {
        const [since, limit] = fields(name, value, ['since', 'limit']);
        return {
          type: name,
          since: uintField(name, 'since', since),
          limit: uintField(name, 'limit', limit),
        };
      }
      case 'DocRequest': {
        const [d, h] = fields(name, value, ['doc_id', 'heads']);
        const heads = list(name, 'heads', h);
        if (heads.length > MAX_HEADS) bad(`"DocRequest": more than ${MAX_HEADS} heads.`);
        return {
          type: name,
          docId: docId(name, d),
          heads: heads.map((x) => changeHash(name, 'each head', x)),
        };
      }
      case 'Announce': {
        const [e] = fields(name, value, ['event']);
        return { type: name, event: event(e) };
      }
      default:
        return bad(`Unknown sync request "${name}": expected SyncRequest, DocRequest or Announce.`);
    }
  });
}

/** Decodes a frame body sent to a client: SyncResponse, DocResponse or Error. */
export function decodeSyncResponse(
  payload: Uint8Array,
  maxChangeBytes = DEFAULT_MAX_FRAME_BYTES,
): SyncResponseMessage {
  return decoding(payload, (v) => {
    const [name, value] = variant(v, 'sync response');
    switch (name) {
      case 'SyncResponse': {
        const [events, more] = fields(name, value, ['events', 'has_more']);
        if (typeof more !== 'boolean') bad(`"SyncResponse": has_more must be a boolean.`);
        return { type: name, events: list(name, 'events', events).map(event), hasMore: more };
      }
      case 'DocResponse': {
        const [d, c] = fields(name, value, ['doc_id', 'changes']);
        return {
          type: name,
          docId: docId(name, d),
          changes: list(name, 'changes', c).map((x) => bytesField(name, x, maxChangeBytes)),
        };
      }
      case 'Error':
        return { type: name, message: stringField(name, value) };
      default:
        return bad(`Unknown sync response "${name}": expected SyncResponse, DocResponse or Error.`);
    }
  });
}
