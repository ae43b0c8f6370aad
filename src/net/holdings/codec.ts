/**
 * Wire codec of `/elohim/holdings/1.0.0`: a browser tells the doorway it is attached to which
 * commons items it holds, so the doorway can provide them in the DHT and pull them through for
 * others. One request per stream, then one answer (4-byte big-endian length + MessagePack,
 * rmp-serde enum conventions as on the other protocols):
 *
 *   request  {"Holdings": [reset, [hash, …added], [hash, …removed]]}
 *   answer   {"Ack": [held, dropped]}   held: hashes the doorway records for this peer now;
 *                                       dropped: hashes of this request it did not take (caps)
 *            {"Error": text}
 *
 * `reset` replaces what the doorway recorded for the sender (the first message on a
 * connection); otherwise `added` and `removed` are applied to it.
 */
import { type ContentHash, InvalidHashError, parseContentHash } from '../../content/index.ts';
import {
  decodeMsgpack,
  encodeFrame,
  fields,
  type MsgValue,
  show,
  stringField,
  UnexpectedMessageError,
  uintField,
  variant,
} from '../../wire/index.ts';

export const HOLDINGS_PROTOCOL = '/elohim/holdings/1.0.0';

/** Hashes in one request, added and removed together; more go in the next request. */
export const MAX_HASHES_PER_MESSAGE = 512;
/**
 * A request's frame at most: 512 hashes of 71 characters (`sha256-` + 64 hex) take about
 * 37 KiB of MessagePack. A larger length prefix is refused before its body is read.
 */
export const MAX_HOLDINGS_FRAME_BYTES = 48 * 1024;
/** An answer's frame at most (two numbers, or an error text cut to fit). */
export const MAX_HOLDINGS_ANSWER_BYTES = 4096;
const MAX_TEXT_CHARS = 1000;

export interface HoldingsUpdate {
  /** Replace what the doorway recorded for the sender, rather than change it. */
  reset: boolean;
  added: ContentHash[];
  removed: ContentHash[];
}

export type HoldingsAnswer =
  | { type: 'Ack'; held: number; dropped: number }
  | { type: 'Error'; message: string };

export function encodeHoldings(update: HoldingsUpdate): Uint8Array {
  if (update.added.length + update.removed.length > MAX_HASHES_PER_MESSAGE) {
    throw new RangeError(
      `A holdings message names at most ${MAX_HASHES_PER_MESSAGE} hashes: split the update.`,
    );
  }
  return encodeFrame({ Holdings: [update.reset, update.added, update.removed] });
}

function hashList(v: MsgValue | undefined, what: string): ContentHash[] {
  if (!Array.isArray(v)) {
    throw new UnexpectedMessageError(
      `"Holdings": ${what} must be an array, got ${show(v ?? null)}.`,
    );
  }
  return v.map((h) => {
    try {
      return parseContentHash(stringField(`Holdings ${what}`, h));
    } catch (error) {
      if (error instanceof InvalidHashError) throw new UnexpectedMessageError(error.message);
      throw error;
    }
  });
}

/** Decodes a request body (its frame already capped at {@link MAX_HOLDINGS_FRAME_BYTES}). */
export function decodeHoldings(payload: Uint8Array): HoldingsUpdate {
  const [name, value] = variant(decodeMsgpack(payload), 'holdings request');
  if (name !== 'Holdings') {
    throw new UnexpectedMessageError(`Not a holdings request: "${name.slice(0, 40)}".`);
  }
  const [reset, added, removed] = fields(name, value, ['reset', 'added', 'removed']);
  if (typeof reset !== 'boolean') {
    throw new UnexpectedMessageError(
      `"Holdings": reset must be a boolean, got ${show(reset ?? null)}.`,
    );
  }
  const count =
    (Array.isArray(added) ? added.length : 0) + (Array.isArray(removed) ? removed.length : 0);
  if (count > MAX_HASHES_PER_MESSAGE) {
    throw new UnexpectedMessageError(
      `"Holdings" names ${count} hashes; at most ${MAX_HASHES_PER_MESSAGE} per message: send the rest in the next one.`,
    );
  }
  return { reset, added: hashList(added, 'added'), removed: hashList(removed, 'removed') };
}

export function encodeHoldingsAnswer(answer: HoldingsAnswer): Uint8Array {
  if (answer.type === 'Ack') return encodeFrame({ Ack: [answer.held, answer.dropped] });
  const text = answer.message;
  return encodeFrame({
    Error: text.length > MAX_TEXT_CHARS ? `${text.slice(0, MAX_TEXT_CHARS - 1)}…` : text,
  });
}

export function decodeHoldingsAnswer(payload: Uint8Array): HoldingsAnswer {
  const [name, value] = variant(decodeMsgpack(payload), 'holdings answer');
  if (name === 'Ack') {
    const [held, dropped] = fields(name, value, ['held', 'dropped']);
    return {
      type: 'Ack',
      held: uintField(name, 'held', held),
      dropped: uintField(name, 'dropped', dropped),
    };
  }
  if (name === 'Error') return { type: 'Error', message: stringField(name, value) };
  throw new UnexpectedMessageError(`Not a holdings answer: "${name.slice(0, 40)}".`);
}
