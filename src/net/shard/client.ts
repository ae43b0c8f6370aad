/**
 * Client side of `/elohim/shard/1.0.0` and `/elohim/pieces/1.0.0`.
 *
 * Every call takes an AbortSignal and a timeout (`timeoutMs`: for single-answer requests the
 * whole exchange, dial included; for {@link fetchPieces} the dial and then each piece) and
 * fails with typed errors: `ShardNotFoundError` (peer does not have it / will not deliver),
 * `PeerReportedError` (peer answered `Error`), `PeerSentBadDataError` (bytes that do not
 * match their hash: drop the peer), `WireTimeoutError`, `WireProtocolError` subclasses
 * (malformed answer), `WireStreamClosedError`, or the signal's reason on abort.
 * Nothing unverified is ever returned.
 */
import type { Stream } from '@libp2p/interface';
import {
  type ContentHash,
  parseContentHash,
  pieceLength,
  sha256Bytes,
  shardLength,
} from '../../content/index.ts';
import {
  deadline,
  FrameReader,
  TruncatedFrameError,
  UnexpectedMessageError,
  WireTimeoutError,
  writeFrame,
} from '../../wire/index.ts';
import {
  DEFAULT_MAX_BYTES,
  DEFAULT_MAX_MANIFEST_BYTES,
  decodePieceResponse,
  decodeShardResponse,
  encodePieceRequest,
  encodeShardRequest,
  FRAME_OVERHEAD,
  type Holding,
  PIECES_PROTOCOL,
  type PieceResponse,
  type RemoteManifest,
  SHARD_PROTOCOL,
  type ShardResponse,
} from './codec.ts';
import {
  PeerReportedError,
  PeerSentBadDataError,
  ShardError,
  ShardNotFoundError,
} from './errors.ts';
import { shardGetStream } from './get-stream.ts';
import {
  type Libp2pDialLike,
  openShardStream,
  type PeerTarget,
  type ShardRequestOptions,
} from './open.ts';

export type { Libp2pDialLike, PeerTarget, ShardRequestOptions };

export interface ShardGetOptions extends ShardRequestOptions {
  /** Largest blob accepted (it is held in one buffer). Default 16 MiB. */
  maxBytes?: number;
}

export interface PieceRange {
  shard: number;
  first: number;
  count: number;
}

/** A piece as `fetchPieces` yields it: verified, unless the caller asked it not to. */
export interface VerifiedPiece {
  shard: number;
  piece: number;
  /** Verified against `manifest.piece_hashes[shard][piece]` (unless `verify: false`). */
  bytes: Uint8Array;
}

const DEFAULT_TIMEOUT = 30_000;

/** The caller's signal plus a progress timer whose expiry names `what` timed out. */
function requestDeadline(opts: ShardRequestOptions, what: string) {
  const ms = opts.timeoutMs ?? DEFAULT_TIMEOUT;
  return deadline(opts, ms, () => new WireTimeoutError(what, ms));
}

function targetName(peer: PeerTarget): string {
  if (Array.isArray(peer)) return peer.map(String).join(',');
  return peer.toString();
}

/**
 * One request, one answer. The answer is read while the request is still being written, so
 * an early `Error` (e.g. an oversized Push refused) is seen.
 */
async function exchange<T>(
  libp2p: Libp2pDialLike,
  peer: PeerTarget,
  protocol: string,
  frame: Uint8Array,
  maxFrameBytes: number,
  decode: (payload: Uint8Array) => T,
  opts: ShardRequestOptions,
  what: string,
): Promise<{ answer: T; peer: string }> {
  const d = requestDeadline(opts, what);
  let stream: Stream | undefined;
  let reader: FrameReader | undefined;
  let wrote = false;
  try {
    const opened = await openShardStream(libp2p, peer, protocol, d.signal, opts);
    stream = opened.stream;
    const s = stream;
    reader = new FrameReader(s);
    const answerP = reader.read({ maxFrameBytes, signal: d.signal });
    answerP.catch(() => {});
    const writeP = (async () => {
      await writeFrame(s, frame, { signal: d.signal });
      await s.close({ signal: d.signal });
      wrote = true;
    })();
    writeP.catch(() => {});
    const payload = await answerP;
    if (payload === undefined) throw new TruncatedFrameError(0, undefined);
    const answer = decode(payload);
    if (wrote) await s.close({ signal: d.signal });
    else s.abort(new Error('answer received before the request was fully sent'));
    return { answer, peer: opened.name };
  } catch (e) {
    stream?.abort(e instanceof Error ? e : new Error(String(e)));
    if (d.signal.aborted) throw d.signal.reason;
    throw e;
  } finally {
    reader?.dispose();
    d.done();
  }
}

/** The frame cap for answers without a payload: room for an `Error` text. */
const SMALL_ANSWER_BYTES = FRAME_OVERHEAD + 64 * 1024;

function unexpected(op: string, got: { type: string }): never {
  throw new UnexpectedMessageError(`Unexpected answer "${got.type}" to a ${op} request.`);
}

/** Throws the error for a `NotFound` or `Error` answer (either protocol). */
function commonAnswers(resp: ShardResponse | PieceResponse, peer: string, hash: ContentHash): void {
  if (resp.type === 'NotFound') throw new ShardNotFoundError(peer, hash);
  if (resp.type === 'Error') throw new PeerReportedError(peer, resp.message);
}

/**
 * The bytes whose sha256 is `hash` (a blob, or a shard of one), verified, in one buffer of at
 * most `maxBytes`. For shards of any size, in bounded memory: {@link shardGetStream}.
 */
export async function shardGet(
  libp2p: Libp2pDialLike,
  peer: PeerTarget,
  hash: string,
  opts: ShardGetOptions = {},
): Promise<Uint8Array> {
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES;
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const c of shardGetStream(libp2p, peer, hash, {
    ...opts,
    maxBytes,
  })) {
    chunks.push(c);
    size += c.byteLength;
  }
  if (chunks.length === 1) return chunks[0] as Uint8Array;
  const out = new Uint8Array(size);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.byteLength;
  }
  return out;
}

/** Whether the peer says it holds `hash` (and would deliver it to us). */
export async function shardHave(
  libp2p: Libp2pDialLike,
  peer: PeerTarget,
  hash: string,
  opts: ShardRequestOptions = {},
): Promise<boolean> {
  const h = parseContentHash(hash);
  const { answer, peer: name } = await exchange(
    libp2p,
    peer,
    SHARD_PROTOCOL,
    encodeShardRequest({ type: 'Have', hash: h }),
    SMALL_ANSWER_BYTES,
    (p) => decodeShardResponse(p, { maxBytes: 0 }),
    opts,
    `asking ${targetName(peer)} for ${h}`,
  );
  if (answer.type === 'NotFound') return false;
  commonAnswers(answer, name, h);
  if (answer.type !== 'Have') unexpected('Have', answer);
  return answer.have;
}

/** Pushes `data` as `hash`; resolves on `PushAck`. The peer verifies the hash. */
export async function shardPush(
  libp2p: Libp2pDialLike,
  peer: PeerTarget,
  hash: string,
  data: Uint8Array,
  opts: ShardRequestOptions = {},
): Promise<void> {
  const h = parseContentHash(hash);
  const { answer, peer: name } = await exchange(
    libp2p,
    peer,
    SHARD_PROTOCOL,
    encodeShardRequest({ type: 'Push', hash: h, data }),
    SMALL_ANSWER_BYTES,
    (p) => decodeShardResponse(p, { maxBytes: 0 }),
    { timeoutMs: 120_000, ...opts },
    `pushing ${h} to ${targetName(peer)}`,
  );
  commonAnswers(answer, name, h);
  if (answer.type !== 'PushAck') unexpected('Push', answer);
}

/** The peer's manifest for blob `hash` (structure checked, `blob_hash` must match). */
export async function fetchManifest(
  libp2p: Libp2pDialLike,
  peer: PeerTarget,
  hash: string,
  opts: ShardRequestOptions & { maxManifestBytes?: number } = {},
): Promise<RemoteManifest> {
  const h = parseContentHash(hash);
  const { answer, peer: name } = await exchange(
    libp2p,
    peer,
    PIECES_PROTOCOL,
    encodePieceRequest({ type: 'Manifest', hash: h }),
    opts.maxManifestBytes ?? DEFAULT_MAX_MANIFEST_BYTES,
    (p) => decodePieceResponse(p, 0),
    opts,
    `getting the manifest of ${h} from ${targetName(peer)}`,
  );
  commonAnswers(answer, name, h);
  if (answer.type !== 'Manifest') unexpected('Manifest', answer);
  if (answer.manifest.blob_hash !== h) {
    throw new PeerSentBadDataError(
      name,
      h,
      `it answered with the manifest of ${answer.manifest.blob_hash}`,
    );
  }
  return answer.manifest;
}

/**
 * What the peer holds of blob `hash`: `'all'`, or the shards it keeps without the blob (each
 * index checked against `totalShards` when given). NotFound → `ShardNotFoundError`.
 */
export async function fetchHolding(
  libp2p: Libp2pDialLike,
  peer: PeerTarget,
  hash: string,
  opts: ShardRequestOptions & { totalShards?: number } = {},
): Promise<Holding> {
  const h = parseContentHash(hash);
  const { answer, peer: name } = await exchange(
    libp2p,
    peer,
    PIECES_PROTOCOL,
    encodePieceRequest({ type: 'Holds', hash: h }),
    SMALL_ANSWER_BYTES,
    (p) => decodePieceResponse(p, 0),
    opts,
    `asking ${targetName(peer)} what it holds of ${h}`,
  );
  commonAnswers(answer, name, h);
  if (answer.type !== 'Holds') unexpected('Holds', answer);
  const { holding } = answer;
  const total = opts.totalShards;
  if (holding !== 'all' && total !== undefined && holding.some((s) => s >= total)) {
    throw new PeerSentBadDataError(
      name,
      h,
      `it says it holds shard(s) beyond the ${total} of the blob`,
    );
  }
  return holding;
}

export interface FetchPiecesOptions extends ShardRequestOptions {
  /**
   * Hash each piece against `manifest.piece_hashes` before it is yielded. Default true; false
   * only for a caller that hands every piece to something verifying it anyway (an import
   * session's `writePiece`), so that a piece is hashed once, not twice, on the way in.
   */
  verify?: boolean;
}

/**
 * Streams pieces `first … first+count-1` of one shard, each verified against
 * `manifest.piece_hashes` before it is yielded (unless `verify: false`). The peer sends one
 * piece at a time with back-pressure; stop iterating (or abort) to cancel the transfer. A
 * wrong, missing, reordered or wrongly sized piece fails with `PeerSentBadDataError` naming
 * peer and piece.
 */
export async function* fetchPieces(
  libp2p: Libp2pDialLike,
  peer: PeerTarget,
  manifest: RemoteManifest,
  range: PieceRange,
  opts: FetchPiecesOptions = {},
): AsyncGenerator<VerifiedPiece, void, undefined> {
  const { shard, first, count } = range;
  const hash = manifest.blob_hash;
  const hashes = manifest.piece_hashes[shard];
  if (
    !hashes ||
    !Number.isSafeInteger(first) ||
    !Number.isSafeInteger(count) ||
    first < 0 ||
    count < 1 ||
    first + count > hashes.length
  ) {
    throw new ShardError(
      `Pieces ${first}+${count} of shard ${shard} are not in the manifest of ${hash}.`,
    );
  }
  const shardLen = shardLength(manifest, shard);
  const maxFrameBytes = 2 * manifest.piece_size + FRAME_OVERHEAD;
  const d = requestDeadline(opts, `fetching pieces of ${hash} from ${targetName(peer)}`);
  let stream: Stream | undefined;
  let reader: FrameReader | undefined;
  let complete = false;
  try {
    const opened = await openShardStream(libp2p, peer, PIECES_PROTOCOL, d.signal, opts);
    const name = opened.name;
    stream = opened.stream;
    reader = new FrameReader(stream);
    await writeFrame(stream, encodePieceRequest({ type: 'Pieces', hash, shard, first, count }), {
      signal: d.signal,
    });
    await stream.close({ signal: d.signal });
    let expected = first;
    for (;;) {
      d.touch();
      const payload = await reader.read({ maxFrameBytes, signal: d.signal });
      if (payload === undefined) {
        throw new PeerSentBadDataError(
          name,
          hash,
          `the stream ended after ${expected - first} of ${count} piece(s)`,
          shard,
          expected,
        );
      }
      const msg = decodePieceResponse(payload, manifest.piece_size);
      if (msg.type === 'Piece') {
        if (expected >= first + count) {
          throw new PeerSentBadDataError(
            name,
            hash,
            `it sent more than the ${count} piece(s) asked for`,
            shard,
            msg.piece,
          );
        }
        if (msg.shard !== shard || msg.piece !== expected) {
          throw new PeerSentBadDataError(
            name,
            hash,
            `it sent piece ${msg.shard}/${msg.piece} where ${shard}/${expected} was due`,
            shard,
            expected,
          );
        }
        const want = pieceLength(shardLen, manifest.piece_size, expected);
        if (msg.data.byteLength !== want) {
          throw new PeerSentBadDataError(
            name,
            hash,
            `the piece is ${msg.data.byteLength} bytes, not ${want}`,
            shard,
            expected,
          );
        }
        if (opts.verify !== false) {
          const actual = await sha256Bytes(msg.data);
          if (actual !== hashes[expected]) {
            throw new PeerSentBadDataError(
              name,
              hash,
              `the piece hashes to ${actual}, not ${hashes[expected]}`,
              shard,
              expected,
            );
          }
        }
        d.hold();
        yield { shard, piece: expected, bytes: msg.data };
        expected++;
        continue;
      }
      if (msg.type === 'End') {
        if (expected !== first + count) {
          throw new PeerSentBadDataError(
            name,
            hash,
            `it ended after ${expected - first} of ${count} piece(s)`,
            shard,
            expected,
          );
        }
        complete = true;
        return;
      }
      if (msg.type === 'NotFound') throw new ShardNotFoundError(name, hash);
      if (msg.type === 'Error') throw new PeerReportedError(name, msg.message);
      unexpected('Pieces', msg);
    }
  } catch (e) {
    if (d.signal.aborted) throw d.signal.reason;
    throw e;
  } finally {
    if (!complete) stream?.abort(new Error('piece transfer cancelled'));
    reader?.dispose();
    d.done();
  }
}

/**
 * The seam between the fetch scheduler (and tests) and the network: everything the scheduler
 * asks of a peer. {@link libp2pShardTransport} implements it over libp2p.
 */
export interface ShardTransport<P = PeerTarget> {
  get(peer: P, hash: string, opts?: ShardGetOptions): Promise<Uint8Array>;
  have(peer: P, hash: string, opts?: ShardRequestOptions): Promise<boolean>;
  push(peer: P, hash: string, data: Uint8Array, opts?: ShardRequestOptions): Promise<void>;
  manifest(peer: P, hash: string, opts?: ShardRequestOptions): Promise<RemoteManifest>;
  holding(peer: P, hash: string, opts?: ShardRequestOptions): Promise<Holding>;
  pieces(
    peer: P,
    manifest: RemoteManifest,
    range: PieceRange,
    opts?: ShardRequestOptions,
  ): AsyncIterable<VerifiedPiece>;
}

export function libp2pShardTransport(
  libp2p: Libp2pDialLike,
  defaults: ShardRequestOptions = {},
): ShardTransport<PeerTarget> {
  return {
    get: (peer, hash, opts) => shardGet(libp2p, peer, hash, { ...defaults, ...opts }),
    have: (peer, hash, opts) => shardHave(libp2p, peer, hash, { ...defaults, ...opts }),
    push: (peer, hash, data, opts) => shardPush(libp2p, peer, hash, data, { ...defaults, ...opts }),
    manifest: (peer, hash, opts) => fetchManifest(libp2p, peer, hash, { ...defaults, ...opts }),
    holding: (peer, hash, opts) => fetchHolding(libp2p, peer, hash, { ...defaults, ...opts }),
    pieces: (peer, manifest, range, opts) =>
      fetchPieces(libp2p, peer, manifest, range, { ...defaults, ...opts }),
  };
}
