/**
 * `Get` on `/elohim/shard/1.0.0` for a shard of any size, in bounded memory.
 *
 * The Rust store makes every blob over 16 MiB `rs-4-7` with shards of a quarter of the blob,
 * unbounded, and answers a `Get` with the whole shard in one `{"Data": bin}` frame. So the
 * answer is not read as a frame: its 4-byte length and the MessagePack header before the
 * payload are decoded first, then the payload is passed on chunk by chunk as it arrives,
 * hashed on the way, with back-pressure (src/wire `ByteReader`). Any other answer (`NotFound`,
 * `Error`, `Have`, or `Data` written as an integer array, rmp-serde's `Vec<u8>`) is small or
 * capped, and is read whole and decoded by the codec.
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
  /**
   * Largest answer held whole: a `Data` written as an integer array (rmp-serde's `Vec<u8>`,
   * two bytes per byte ≥ 128) or an `Error`. Default 32 MiB + 1 KiB (a 16 MiB blob as integers).
   */
  maxBufferedBytes?: number;
  /** Largest chunk yielded. Default 1 MiB. */
  chunkBytes?: number;
}

const MiB = 1024 * 1024;
const DEFAULT_BUFFERED = 32 * MiB + FRAME_OVERHEAD;
/** `{"Data": ` as rmp-serde writes it: fixmap 1, fixstr 4 "Data". */
const DATA_KEY = [0x81, 0xa4, 0x44, 0x61, 0x74, 0x61];

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.byteLength + b.byteLength);
  out.set(a);
  out.set(b, a.byteLength);
  return out;
}

/** The bin payload length after `{"Data": `, or undefined when the value is not `bin`. */
async function binLength(
  reader: ByteReader,
  opts: AbortOptions,
): Promise<{ head: Uint8Array; size?: number }> {
  const marker = await reader.exactly(1, opts);
  const width = marker[0] === 0xc4 ? 1 : marker[0] === 0xc5 ? 2 : marker[0] === 0xc6 ? 4 : 0;
  if (width === 0) return { head: marker };
  const len = await reader.exactly(width, opts);
  let size = 0;
  for (const b of len) size = size * 256 + b;
  return { head: concat(marker, len), size };
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
  const maxBuffered = opts.maxBufferedBytes ?? DEFAULT_BUFFERED;
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
    const bin = isData ? await binLength(reader, r) : { head: new Uint8Array(0) };
    if (bin.size === undefined) {
      // Not a bin Data: small (or capped) answer, decoded whole by the codec.
      const seen = concat(key, bin.head);
      if (frameLen > maxBuffered)
        throw new FrameTooLargeError(frameLen, maxBuffered, 'shard answer');
      const rest = await reader.exactly(frameLen - seen.byteLength, r);
      const answer = decodeShardResponse(concat(seen, rest), { maxBytes });
      if (answer.type === 'NotFound') throw new ShardNotFoundError(name, h);
      if (answer.type === 'Error') throw new PeerReportedError(name, answer.message);
      if (answer.type !== 'Data') {
        throw new UnexpectedMessageError(`Unexpected answer "${answer.type}" to a Get request.`);
      }
      await hasher.update(answer.data);
      d.hold();
      for (let off = 0; off < answer.data.byteLength; off += chunkBytes) {
        yield answer.data.subarray(off, off + chunkBytes);
      }
      d.touch();
    } else {
      const size = bin.size;
      if (DATA_KEY.length + bin.head.byteLength + size !== frameLen) {
        throw new UnexpectedMessageError(
          `The Data frame is ${frameLen} bytes but its bin header says ${size} bytes of payload.`,
        );
      }
      if (size > maxBytes) throw new FrameTooLargeError(size, maxBytes, 'shard');
      let left = size;
      while (left > 0) {
        d.touch();
        const c = await reader.next(Math.min(left, chunkBytes), r);
        if (!c)
          throw new PeerSentBadDataError(
            name,
            h,
            `the stream ended ${left} bytes short of ${size}`,
          );
        left -= c.byteLength;
        await hasher.update(c);
        d.hold();
        yield c;
      }
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
