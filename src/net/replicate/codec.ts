/**
 * Wire codec of `/elohim/replicate/1.0.0`. Framing and enum shapes as on `/elohim/shard/1.0.0`
 * (4-byte big-endian length + MessagePack, rmp-serde enum conventions: a unit variant is a bare
 * string, a newtype variant a one-key map, a struct variant a one-key map of positional fields;
 * the named-field map rmp-serde's `to_vec_named` writes is accepted too).
 *
 *   requests  {"Offer": [hash, reach, owner_agent | nil, total_size]}
 *             {"OfferShard": [hash, shard, reach, owner_agent | nil, total_size]}
 *   answers   "Accepted"  {"Progress": bytes_stored}  {"Stored": hash}
 *             {"Declined": reason}  {"Error": text}
 * An `OfferShard` offers one shard of an rs-4-7 blob (`total_size` is still the blob's): the
 * receiver keeps that shard only, and `Stored` names the blob.
 *
 * As Rust: `enum ReplicateRequest { Offer { hash: String, reach: String, owner: Option<String>,
 * total_size: u64 }, OfferShard { hash: String, shard: u32, reach: String, owner:
 * Option<String>, total_size: u64 } }` and `enum ReplicateResponse { Accepted, Progress(u64),
 * Stored(String), Declined(String), Error(String) }`.
 */
import {
  type ContentHash,
  InvalidHashError,
  parseContentHash,
  REACHES,
  type Reach,
} from '../../content/index.ts';
import { ed25519FromAgentKey, InvalidAgentKeyError } from '../../reach/index.ts';
import {
  decodeMsgpack,
  encodeFrame,
  IntBytes,
  type MsgValue,
  show,
  UnexpectedMessageError,
  variant,
} from '../../wire/index.ts';

export const REPLICATE_PROTOCOL = '/elohim/replicate/1.0.0';

/** An Offer is a hash, a reach, an agent key and a number: a few hundred bytes. */
export const MAX_OFFER_FRAME_BYTES = 4096;
/** The largest answer (a reason or error text) either side accepts. */
export const MAX_ANSWER_FRAME_BYTES = 16 * 1024;
/** Texts are cut to this many characters when sent, so an answer always fits its frame cap. */
const MAX_TEXT_CHARS = 2000;

/** What a holder offers: enough for the receiver to decide before a single byte moves. */
export interface ReplicaOffer {
  hash: ContentHash;
  reach: Reach;
  /** The owner's agent key (`uhCAk…`), the manifest's `author_id`; null when it has none. */
  owner: string | null;
  totalSize: number;
  /** Set when one shard of an rs-4-7 blob is offered rather than the whole blob. */
  shard?: number;
}

export type ReplicateAnswer =
  | { type: 'Accepted' }
  /** Verified bytes written so far; sent while pulling, so the offerer sees the receiver is alive. */
  | { type: 'Progress'; bytes: number }
  | { type: 'Stored'; hash: ContentHash }
  | { type: 'Declined'; reason: string }
  | { type: 'Error'; message: string };

export function encodeOffer(offer: ReplicaOffer): Uint8Array {
  const hash = parseContentHash(offer.hash);
  if (offer.shard !== undefined) {
    return encodeFrame({
      OfferShard: [hash, offer.shard, offer.reach, offer.owner, offer.totalSize],
    });
  }
  return encodeFrame({ Offer: [hash, offer.reach, offer.owner, offer.totalSize] });
}

function cut(text: string): string {
  return text.length > MAX_TEXT_CHARS ? `${text.slice(0, MAX_TEXT_CHARS - 1)}…` : text;
}

export function encodeAnswer(answer: ReplicateAnswer): Uint8Array {
  switch (answer.type) {
    case 'Accepted':
      return encodeFrame('Accepted');
    case 'Progress':
      return encodeFrame({ Progress: answer.bytes });
    case 'Stored':
      return encodeFrame({ Stored: parseContentHash(answer.hash) });
    case 'Declined':
      return encodeFrame({ Declined: cut(answer.reason) });
    case 'Error':
      return encodeFrame({ Error: cut(answer.message) });
  }
}

// ---------------------------------------------------------------------------------------------
// Decoding: every field checked, every failure an UnexpectedMessageError naming the field.

function text(name: string, v: MsgValue | undefined): string {
  if (typeof v !== 'string') {
    throw new UnexpectedMessageError(`"${name}" takes a string, got ${show(v)}.`);
  }
  return v;
}

function count(name: string, v: MsgValue | undefined): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
    throw new UnexpectedMessageError(`"${name}" takes a non-negative integer, got ${show(v)}.`);
  }
  return v;
}

function hash(name: string, v: MsgValue | undefined): ContentHash {
  try {
    return parseContentHash(text(name, v));
  } catch (e) {
    if (e instanceof InvalidHashError) throw new UnexpectedMessageError(`"${name}": ${e.message}`);
    throw e;
  }
}

const OFFER_FIELDS = ['hash', 'reach', 'owner', 'total_size'] as const;
const SHARD_OFFER_FIELDS = ['hash', 'shard', 'reach', 'owner', 'total_size'] as const;

function offerFields(
  name: string,
  names: readonly string[],
  value: MsgValue | undefined,
): MsgValue[] {
  if (value instanceof IntBytes) value = value.toNumbers();
  if (Array.isArray(value) && value.length === names.length) return value;
  if (value instanceof Map && value.size === names.length) {
    if (names.every((k) => value.has(k))) {
      return names.map((k) => value.get(k) as MsgValue);
    }
  }
  throw new UnexpectedMessageError(
    `"${name}" takes the fields [${names.join(', ')}] as an array, got ${show(value)}.`,
  );
}

/** Decodes an Offer or OfferShard body (the MessagePack after the length header). */
export function decodeOffer(payload: Uint8Array): ReplicaOffer {
  const [name, value] = variant(decodeMsgpack(payload), 'replicate request');
  let shard: number | undefined;
  let fields: MsgValue[];
  if (name === 'Offer') fields = offerFields(name, OFFER_FIELDS, value);
  else if (name === 'OfferShard') {
    const [hash, index, ...rest] = offerFields(name, SHARD_OFFER_FIELDS, value);
    shard = count('OfferShard.shard', index);
    fields = [hash as MsgValue, ...rest];
  } else {
    throw new UnexpectedMessageError(
      `Unknown replicate request "${name}": expected Offer or OfferShard.`,
    );
  }
  const [h, r, o, s] = fields;
  const reach = text('Offer.reach', r);
  if (!(REACHES as readonly string[]).includes(reach)) {
    throw new UnexpectedMessageError(
      `"Offer": unknown reach ${show(r)}; expected one of ${REACHES.join(', ')}.`,
    );
  }
  let owner: string | null = null;
  if (o !== null) {
    owner = text('Offer.owner', o);
    try {
      ed25519FromAgentKey(owner);
    } catch (e) {
      if (e instanceof InvalidAgentKeyError) {
        throw new UnexpectedMessageError(`"Offer": the owner is not an agent key: ${e.message}`);
      }
      throw e;
    }
  }
  return {
    hash: hash('Offer.hash', h),
    reach: reach as Reach,
    owner,
    totalSize: count('Offer.total_size', s),
    ...(shard !== undefined ? { shard } : {}),
  };
}

function unit(name: string, value: MsgValue | undefined): void {
  if (value === undefined || value === null) return;
  if (Array.isArray(value) && value.length === 0) return;
  throw new UnexpectedMessageError(`"${name}" takes no value, got ${show(value)}.`);
}

export function decodeAnswer(payload: Uint8Array): ReplicateAnswer {
  const [name, value] = variant(decodeMsgpack(payload), 'replicate answer');
  switch (name) {
    case 'Accepted':
      unit(name, value);
      return { type: 'Accepted' };
    case 'Progress':
      return { type: 'Progress', bytes: count(name, value) };
    case 'Stored':
      return { type: 'Stored', hash: hash(name, value) };
    case 'Declined':
      return { type: 'Declined', reason: text(name, value) };
    case 'Error':
      return { type: 'Error', message: text(name, value) };
    default:
      throw new UnexpectedMessageError(
        `Unknown replicate answer "${name}": expected Accepted, Progress, Stored, Declined or Error.`,
      );
  }
}
