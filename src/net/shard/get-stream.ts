/**
 * `Get` on `/elohim/shard/1.0.0` for a shard of any size, in bounded memory.
 *
 * The Rust store makes every blob over 16 MiB `rs-4-7` with shards of a quarter of the blob,
 * unbounded, and answers a `Get` with the whole shard in one `{"Data": bin}` frame. So the
 * answer is not read as a frame: its 4-byte length and the MessagePack header before the
 * payload are decoded first, then the payload is passed on chunk by chunk as it arrives,
 * hashed on the way, with back-pressure (src/wire `ByteReader`). The payload may be `bin` (what
 * we send) or an integer array (what rmp-serde writes for the Rust node's `Vec<u8>`, one or two
 * bytes per byte), decoded as it streams. Any other answer (`NotFound`, `Error`) is small, read
 * whole and decoded by the codec.
 */
import type { Stream } from '@libp2p/interface';
import {
  type ContentHash,
  createIncrementalHasher,
  parseContentHash,
} from '../../content/index.ts';
import {
  type AbortOptions,
  ByteReader,
  deadline,
  FrameTooLargeError,
  UnexpectedMessageError,
  WireTimeoutError,
  writeFrame,
} from '../../wire/index.ts';
import {
  decodeShardResponse,
  encodeShardRequest,
  FRAME_OVERHEAD,
  SHARD_PROTOCOL,
} from './codec.ts';
import { PeerReportedError, PeerSentBadDataError, ShardNotFoundError } from './errors.ts';
import {
  type Libp2pDialLike,
  openShardStream,
  type PeerTarget,
  type ShardRequestOptions,
} from './open.ts';

export interface ShardStreamOptions extends ShardRequestOptions {
  /** Largest payload accepted. Default: any a frame can carry (4 GiB). */
  maxBytes?: number;
  /** Largest chunk yielded. Default 1 MiB. */
  chunkBytes?: number;
}

const MiB = 1024 * 1024;
/** Cap on an answer that is not `Data` (an `Error` text, `NotFound`). */
const SMALL_ANSWER = 64 * 1024 + FRAME_OVERHEAD;
/** `{"Data": ` as rmp-serde writes it: fixmap 1, fixstr 4 "Data". */
const DATA_KEY = [0x81, 0xa4, 0x44, 0x61, 0x74, 0x61];

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.byteLength + b.byteLength);
  out.set(a);
  out.set(b, a.byteLength);
  return out;
}

/** How the payload after `{"Data": ` is written, and how many bytes it holds. */
type Payload =
  | { kind: 'bin' | 'ints'; head: Uint8Array; size: number }
  | { kind: 'other'; head: Uint8Array };

async function payloadHeader(reader: ByteReader, opts: AbortOptions): Promise<Payload> {
  const marker = await reader.exactly(1, opts);
  const m = marker[0] as number;
  // bin 8/16/32 (what we send), or rmp-serde's Vec<u8>: fixarray / array 16 / array 32.
  const width = m === 0xc4 ? 1 : m === 0xc5 || m === 0xdc ? 2 : m === 0xc6 || m === 0xdd ? 4 : 0;
  if (m >= 0x90 && m <= 0x9f) return { kind: 'ints', head: marker, size: m & 0x0f };
  if (width === 0) return { kind: 'other', head: marker };
  const len = await reader.exactly(width, opts);
  let size = 0;
  for (const x of len) size = size * 256 + x;
  return { kind: m >= 0xdc ? 'ints' : 'bin', head: concat(marker, len), size };
}

/**
 * Decodes rmp-serde's `Vec<u8>` elements (a positive fixint, or `0xcc` then the byte) across
 * chunk boundaries: the Rust node answers `Get` so, two wire bytes for each byte ≥ 128.
 */
class IntArrayDecoder {
  private pendingCc = false;
  /** Wire bytes consumed. */
  consumed = 0;
  decode(c: Uint8Array): Uint8Array {
    const out = new Uint8Array(c.byteLength);
    let n = 0;
    for (let i = 0; i < c.byteLength; i++) {
      const b = c[i] as number;
      if (this.pendingCc) {
        out[n++] = b;
        this.pendingCc = false;
      } else if (b < 0x80) out[n++] = b;
      else if (b === 0xcc) this.pendingCc = true;
      else {
        throw new UnexpectedMessageError(
          `"Data": element ${n} of the byte array is not a u8 (marker 0x${b.toString(16)}).`,
        );
      }
    }
    this.consumed += c.byteLength;
    return out.subarray(0, n);
  }
  get midElement(): boolean {
    return this.pendingCc;
  }
}

/**
 * The bytes whose sha256 is `hash`, as they arrive from `peer`. The chunks are NOT verified
 * until the generator returns: it throws {@link PeerSentBadDataError} after the last chunk when
 * they hash to something else, so write them where nothing is visible until it has returned (an
 * import's pending pieces). Other failures as for `shardGet`.
 */
export async function* shardGetStream(
  libp2p: Libp2pDialLike,
  peer: PeerTarget,
  hash: string,
  opts: ShardStreamOptions = {},
): AsyncGenerator<Uint8Array, void, undefined> {
  const h: ContentHash = parseContentHash(hash);
  const maxBytes = opts.maxBytes ?? 0xffffffff;
  const chunkBytes = opts.chunkBytes ?? MiB;
  const ms = opts.timeoutMs ?? 30_000;
  const d = deadline(opts, ms, () => new WireTimeoutError(`getting ${h} from ${String(peer)}`, ms));
  let stream: Stream | undefined;
  let reader: ByteReader | undefined;
  let complete = false;
  const hasher = createIncrementalHasher();
  try {
    const opened = await openShardStream(libp2p, peer, SHARD_PROTOCOL, d.signal, opts);
    const name = opened.name;
    stream = opened.stream;
    reader = new ByteReader(stream);
    await writeFrame(stream, encodeShardRequest({ type: 'Get', hash: h }), { signal: d.signal });
    await stream.close({ signal: d.signal });
    const r = { signal: d.signal };
    d.touch();
    const lenBytes = await reader.exactly(4, r);
    const frameLen = new DataView(lenBytes.buffer).getUint32(0);
    const key = await reader.exactly(Math.min(frameLen, DATA_KEY.length), r);
    const isData = key.byteLength === DATA_KEY.length && DATA_KEY.every((b, i) => key[i] === b);
    const payload: Payload = isData
      ? await payloadHeader(reader, r)
      : { kind: 'other', head: new Uint8Array(0) };
    const headLen = key.byteLength + payload.head.byteLength;
    if (payload.kind === 'other') {
      // Not Data: a small answer (NotFound, Error, …), decoded whole by the codec.
      if (frameLen > SMALL_ANSWER)
        throw new FrameTooLargeError(frameLen, SMALL_ANSWER, 'shard answer');
      const rest = await reader.exactly(frameLen - headLen, r);
      const answer = decodeShardResponse(concat(concat(key, payload.head), rest), { maxBytes: 0 });
      if (answer.type === 'NotFound') throw new ShardNotFoundError(name, h);
      if (answer.type === 'Error') throw new PeerReportedError(name, answer.message);
      throw new UnexpectedMessageError(`Unexpected answer "${answer.type}" to a Get request.`);
    }
    const size = payload.size;
    if (size > maxBytes) throw new FrameTooLargeError(size, maxBytes, 'shard');
    const ints = payload.kind === 'ints' ? new IntArrayDecoder() : undefined;
    // The wire bytes of the payload: exactly `size` for bin; 1 or 2 per byte as integers.
    const wire = frameLen - headLen;
    if (ints ? wire < size || wire > 2 * size : wire !== size) {
      throw new UnexpectedMessageError(
        `The Data frame is ${frameLen} bytes, which cannot hold the ${size} bytes its header announces.`,
      );
    }
    let left = wire;
    let got = 0;
    while (left > 0) {
      d.touch();
      const c = await reader.next(Math.min(left, chunkBytes), r);
      if (!c) throw new PeerSentBadDataError(name, h, `the stream ended ${left} bytes short`);
      left -= c.byteLength;
      const bytes = ints ? ints.decode(c) : c;
      got += bytes.byteLength;
      if (got > size) throw new PeerSentBadDataError(name, h, `it sent more than ${size} bytes`);
      if (bytes.byteLength === 0) continue;
      await hasher.update(bytes);
      d.hold();
      yield bytes;
    }
    if (got !== size || ints?.midElement) {
      throw new PeerSentBadDataError(name, h, `it sent ${got} of the ${size} bytes announced`);
    }
    const actual = await hasher.digest();
    if (actual !== h) throw new PeerSentBadDataError(name, h, `the bytes hash to ${actual}`);
    complete = true;
  } catch (e) {
    if (d.signal.aborted) throw d.signal.reason;
    throw e;
  } finally {
    if (!complete) {
      hasher.cancel();
      stream?.abort(new Error('shard transfer cancelled'));
    }
    reader?.dispose();
    d.done();
  }
}
