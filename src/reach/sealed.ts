/**
 * The sealed item: how private/invited/local content is stored and moved. It is ONE ordinary
 * blob — the content store, erasure coding, shard/piece protocols and import verify, rebuild
 * and serve it by the sha256 of these bytes without holding any key:
 *
 *   "ELRS" ‖ version (1 byte, = 1) ‖ header length (u32 BE) ‖ header (UTF-8 JSON, {@link SealedHeader})
 *   ‖ segment 0 ‖ segment 1 ‖ … ‖ segment n-1 (final)
 *
 * Every segment is `segment_size` plaintext bytes + a 16-byte GCM tag, except the final one,
 * which is shorter (possibly empty: an empty item is one 16-byte segment). The item key is
 * random and sits in the header once per recipient, wrapped with that recipient's KEK (a
 * "slot"). Segments are bound to sha256(header bytes), so the header cannot be swapped or
 * edited either.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import type { AgentKey } from './agent.ts';
import { concat, fromBase64Url, toBase64Url, utf8 } from './bytes.ts';
import { createItemKey, decryptPiece, encryptPiece, type ItemKey, TAG_BYTES } from './cipher.ts';
import { NoKeyError, ReachError, SealedFormatError } from './errors.ts';
import { type DeviceKey, unwrapWith, type WrappedBytes, wrapWith } from './keys.ts';
import { SEALED_MIME } from './mime.ts';
import type { SealedReach } from './policy.ts';

/** The manifest `mime_type` for a sealed blob (the real type travels in the encrypted-reach metadata). */

export { SEALED_MIME };
export const DEFAULT_SEGMENT_SIZE = 64 * 1024;
const MAGIC = utf8('ELRS');
const VERSION = 1;
const PREAMBLE = MAGIC.byteLength + 1 + 4;
/** A header is small (a few hundred bytes per slot); refuse to buffer more. */
const MAX_HEADER_BYTES = 1024 * 1024;
const MAX_SEGMENT_SIZE = 16 * 1024 * 1024;

/** Who a slot is for (stored in clear: the gates must see recipients anyway). */
export type SlotLabel =
  /** private (and the owner's own copy of invited/local items): a device key. */
  | { kind: 'device'; device: string }
  /** invited: the relationship key between the owner and `agent`. */
  | { kind: 'agent'; agent: AgentKey; context: string }
  /** local: the cluster key. */
  | { kind: 'cluster'; cluster: string };

export type Slot = SlotLabel & WrappedBytes;

export interface SealedHeader {
  /** Random 128-bit item id, base64url. */
  item: string;
  reach: SealedReach;
  owner: AgentKey;
  segment_size: number;
  slots: Slot[];
}

/** A key to seal for: the KEK that wraps the item key, and the slot label naming it. */
export type Recipient =
  | { kind: 'device'; device: DeviceKey }
  | { kind: 'agent'; agent: AgentKey; context: string; key: CryptoKey }
  | { kind: 'cluster'; cluster: string; key: CryptoKey };

export interface SealOptions {
  reach: SealedReach;
  owner: AgentKey;
  /**
   * At least one. private: device keys (+ the owner's person key); invited: + agents; local:
   * + the cluster key.
   */
  recipients: readonly Recipient[];
  /** Plaintext bytes per segment (the unit of random access). Default 64 KiB. */
  segmentSize?: number;
}

/** Where an opener finds the KEK for each kind of slot; return `undefined` when it has none. */
export interface Keyring {
  /** This device's agent key: agent slots naming it are tried. */
  me?: AgentKey;
  device?: DeviceKey;
  /** The relationship key between `me` and `owner` for `context`: deriveRelationshipKey(mySecret, me, owner, context). */
  relationship?(
    owner: AgentKey,
    context: string,
  ): Promise<CryptoKey | undefined> | CryptoKey | undefined;
  cluster?(cluster: string): Promise<CryptoKey | undefined> | CryptoKey | undefined;
}

export type SealSource = Blob | Uint8Array | ReadableStream<Uint8Array>;

const ALLOWED_SLOTS: Record<SealedReach, readonly SlotLabel['kind'][]> = {
  // The owner's person key is an agent slot naming the owner (src/reach/content.ts); private
  // and local items name no other agent.
  private: ['device', 'agent'],
  invited: ['device', 'agent'],
  local: ['device', 'cluster', 'agent'],
};

function labelOf(r: Recipient): SlotLabel {
  switch (r.kind) {
    case 'device':
      return { kind: 'device', device: r.device.id };
    case 'agent':
      return { kind: 'agent', agent: r.agent, context: r.context };
    case 'cluster':
      return { kind: 'cluster', cluster: r.cluster };
  }
}

/** The authenticated label of a slot: item, owner and who it is for, so slots cannot be moved. */
function slotAad(header: Pick<SealedHeader, 'item' | 'owner' | 'reach'>, s: SlotLabel): Uint8Array {
  const who =
    s.kind === 'device' ? [s.device] : s.kind === 'agent' ? [s.agent, s.context] : [s.cluster];
  return utf8(
    ['elohim/reach/slot/v1', header.item, header.reach, header.owner, s.kind, ...who].join(
      '\u0000',
    ),
  );
}

function encodeHeader(h: SealedHeader): Uint8Array<ArrayBuffer> {
  const json = utf8(JSON.stringify(h));
  const pre = new Uint8Array(PREAMBLE);
  pre.set(MAGIC, 0);
  pre[MAGIC.byteLength] = VERSION;
  new DataView(pre.buffer).setUint32(MAGIC.byteLength + 1, json.byteLength);
  return concat(pre, json);
}

function parseHeaderJson(json: Uint8Array): SealedHeader {
  let h: Partial<SealedHeader>;
  try {
    h = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(json));
  } catch {
    throw new SealedFormatError('the header is not UTF-8 JSON');
  }
  const seg = h.segment_size;
  if (
    typeof h.item !== 'string' ||
    fromBase64Url(h.item)?.byteLength !== 16 ||
    (h.reach !== 'private' && h.reach !== 'invited' && h.reach !== 'local') ||
    typeof h.owner !== 'string' ||
    typeof seg !== 'number' ||
    !Number.isInteger(seg) ||
    seg < 1 ||
    seg > MAX_SEGMENT_SIZE ||
    !Array.isArray(h.slots)
  ) {
    throw new SealedFormatError('the header lacks item, reach, owner, segment_size or slots');
  }
  return h as SealedHeader;
}

/** The header length the preamble declares (checked against the cap). */
function declaredHeaderLength(prefix: Uint8Array): number {
  const n = new DataView(prefix.buffer, prefix.byteOffset).getUint32(MAGIC.byteLength + 1);
  if (n > MAX_HEADER_BYTES) throw new SealedFormatError(`a ${n}-byte header is over the 1 MiB cap`);
  return n;
}

/**
 * Reads the header from the start of a sealed blob. Returns `undefined` while `prefix` is too
 * short to hold it all (read more and call again); `length` is where segment 0 starts.
 */
export function parseSealedHeader(
  prefix: Uint8Array,
): { header: SealedHeader; length: number; binding: Uint8Array } | undefined {
  if (prefix.byteLength < PREAMBLE) return undefined;
  for (let i = 0; i < MAGIC.byteLength; i++) {
    if (prefix[i] !== MAGIC[i]) throw new SealedFormatError('it does not start with "ELRS"');
  }
  if (prefix[MAGIC.byteLength] !== VERSION) {
    throw new SealedFormatError(
      `format version ${prefix[MAGIC.byteLength]} (this app reads ${VERSION})`,
    );
  }
  const length = PREAMBLE + declaredHeaderLength(prefix);
  if (prefix.byteLength < length) return undefined;
  const header = parseHeaderJson(prefix.subarray(PREAMBLE, length));
  return { header, length, binding: sha256(prefix.subarray(0, length)) };
}

/**
 * The item key of a parsed header, from the first slot the keyring opens. A slot that is ours
 * by label but does not open is an error (tampering, or the wrong key), not silently skipped.
 */
export async function openItemKey(
  parsed: { header: SealedHeader; binding: Uint8Array },
  keyring: Keyring,
): Promise<ItemKey> {
  const { header } = parsed;
  for (const slot of header.slots) {
    let kek: CryptoKey | undefined;
    if (slot.kind === 'device') {
      kek = keyring.device?.id === slot.device ? keyring.device.key : undefined;
    } else if (slot.kind === 'agent') {
      kek =
        keyring.me !== undefined && slot.agent === keyring.me
          ? await keyring.relationship?.(header.owner, slot.context)
          : undefined;
    } else if (slot.kind === 'cluster') {
      kek = await keyring.cluster?.(slot.cluster);
    }
    if (!kek) continue;
    const key = await unwrapWith(
      kek,
      slot,
      slotAad(header, slot),
      ['encrypt', 'decrypt'],
      false,
      `the ${slot.kind} slot of item ${header.item}`,
    );
    return { key, binding: parsed.binding };
  }
  throw new NoKeyError(header.reach);
}

/** Bytes pulled from a stream on demand, so at most one segment (+ one chunk) is buffered. */
class ByteQueue {
  private chunks: Uint8Array[] = [];
  private size = 0;
  private ended = false;
  constructor(private readonly reader: ReadableStreamDefaultReader<Uint8Array>) {}

  /** Buffers until `n` bytes are available or the source ends; returns the bytes buffered. */
  async fill(n: number): Promise<number> {
    while (this.size < n && !this.ended) {
      const r = await this.reader.read();
      if (r.done) this.ended = true;
      else if (r.value.byteLength > 0) {
        this.chunks.push(r.value);
        this.size += r.value.byteLength;
      }
    }
    return this.size;
  }

  peekAll(): Uint8Array {
    return this.chunks.length === 1 ? (this.chunks[0] as Uint8Array) : concat(...this.chunks);
  }

  /** Removes and returns up to `n` buffered bytes. */
  take(n: number): Uint8Array<ArrayBuffer> {
    const out = new Uint8Array(Math.min(n, this.size));
    let at = 0;
    while (at < out.byteLength) {
      const c = this.chunks[0] as Uint8Array;
      const k = Math.min(c.byteLength, out.byteLength - at);
      out.set(c.subarray(0, k), at);
      at += k;
      if (k === c.byteLength) this.chunks.shift();
      else this.chunks[0] = c.subarray(k);
    }
    this.size -= out.byteLength;
    return out;
  }

  cancel(reason: unknown): Promise<void> {
    return this.reader.cancel(reason);
  }
}

function readerOf(source: SealSource): ReadableStreamDefaultReader<Uint8Array> {
  if (source instanceof Uint8Array) {
    return new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(source);
        c.close();
      },
    }).getReader();
  }
  return (source instanceof Blob ? source.stream() : source).getReader();
}

/** A pull-based stream over an async generator; cancelling it cancels the source. */
function toStream(
  gen: (q: ByteQueue) => AsyncGenerator<Uint8Array>,
  source: SealSource,
): ReadableStream<Uint8Array> {
  const queue = new ByteQueue(readerOf(source));
  const it = gen(queue);
  return new ReadableStream<Uint8Array>({
    async pull(c) {
      const r = await it.next();
      if (r.done) c.close();
      else c.enqueue(r.value);
    },
    async cancel(reason) {
      await it.return(undefined);
      await queue.cancel(reason);
    },
  });
}

/**
 * Seals `source` for `options.recipients`: a stream of the sealed blob's bytes (header
 * first), produced one segment per pull. Store it with the content store like any blob
 * (`store.put(seal(file, …), { reach, mime: SEALED_MIME })`); its address is the sha256 of
 * these bytes.
 */
export function seal(source: SealSource, options: SealOptions): ReadableStream<Uint8Array> {
  const segmentSize = options.segmentSize ?? DEFAULT_SEGMENT_SIZE;
  if (!Number.isInteger(segmentSize) || segmentSize < 1 || segmentSize > MAX_SEGMENT_SIZE) {
    throw new ReachError(
      `segmentSize must be an integer from 1 to ${MAX_SEGMENT_SIZE}, not ${segmentSize}.`,
    );
  }
  if (options.recipients.length === 0) {
    throw new ReachError(
      "Seal for at least one recipient (e.g. this device's key), or nobody can ever open it.",
    );
  }
  for (const r of options.recipients) {
    if (!ALLOWED_SLOTS[options.reach].includes(r.kind)) {
      throw new ReachError(
        `A ${options.reach} item cannot be sealed for a ${r.kind} key: use ${ALLOWED_SLOTS[options.reach].join(' or ')} keys.`,
      );
    }
    if (r.kind === 'agent' && options.reach !== 'invited' && r.agent !== options.owner) {
      throw new ReachError(
        `A ${options.reach} item is sealed for no other agent than its owner; invite ${r.agent} instead.`,
      );
    }
  }
  return toStream(async function* (queue) {
    const dek = await createItemKey();
    const base = {
      item: toBase64Url(crypto.getRandomValues(new Uint8Array(16))),
      reach: options.reach,
      owner: options.owner,
    };
    const slots: Slot[] = [];
    for (const r of options.recipients) {
      const label = labelOf(r);
      const kek = r.kind === 'device' ? r.device.key : r.key;
      slots.push({ ...label, ...(await wrapWith(kek, dek, slotAad(base, label))) });
    }
    const headerBytes = encodeHeader({ ...base, segment_size: segmentSize, slots });
    const item: ItemKey = { key: dek, binding: sha256(headerBytes) };
    yield headerBytes;
    for (let i = 0; ; i++) {
      // One byte beyond the segment tells whether this segment is the last.
      const final = (await queue.fill(segmentSize + 1)) <= segmentSize;
      yield await encryptPiece(item, i, queue.take(segmentSize), final);
      if (final) return;
    }
  }, source);
}

/**
 * Opens a sealed blob (as read from the store or a peer): a stream of the plaintext, one
 * segment per pull, each authenticated before it is released. Fails with
 * {@link SealedFormatError} (not a sealed item), {@link NoKeyError} (not sealed for this
 * keyring), {@link KeyUnwrapError} or {@link DecryptionError} (tampered, truncated).
 */
export function unseal(sealed: SealSource, keyring: Keyring): ReadableStream<Uint8Array> {
  return toStream(async function* (queue) {
    // The preamble says how long the header is; then the whole header is buffered.
    await queue.fill(PREAMBLE);
    let parsed = parseSealedHeader(queue.peekAll());
    if (!parsed && queue.peekAll().byteLength >= PREAMBLE) {
      await queue.fill(PREAMBLE + declaredHeaderLength(queue.peekAll()));
      parsed = parseSealedHeader(queue.peekAll());
    }
    if (!parsed) throw new SealedFormatError('it ends inside its header');
    queue.take(parsed.length);
    const item = await openItemKey(parsed, keyring);
    const segment = parsed.header.segment_size + TAG_BYTES;
    for (let i = 0; ; i++) {
      // A stream cut at a segment boundary makes a non-final segment look final: its AAD
      // then fails. Nothing at all after the header fails as a too-short segment.
      const final = (await queue.fill(segment + 1)) <= segment;
      yield await decryptPiece(item, i, queue.take(segment), final);
      if (final) return;
    }
  }, sealed);
}
