/**
 * Serving `/elohim/shard/1.0.0` (Rust-compatible) and `/elohim/pieces/1.0.0` (ours) from a
 * {@link ContentStore}.
 *
 * Which hashes `Get`/`Have` answer for: a stored blob's hash (the whole blob, which for
 * `none` is also shard 0), AND the hash of any shard of a stored `chunked`/`rs-4-7` blob
 * (that shard's bytes; rs shards are the zero-padded ones the manifest hashes), because the
 * Rust store keys shards by their hash and a Rust peer fetches a sharded blob shard by shard.
 * The shard index is built from the store's manifests on first use and rebuilt after any
 * change event. Shards this peer keeps without their blob (a holding: rs-4-7 spreads its
 * shards over peers) answer by their shard hash too, and on the piece protocol the holding
 * serves its manifest, its `Holds` answer and the pieces of the shards it has; never the blob.
 *
 * Every outgoing byte is read through `store.readPiece` (verified); a piece that fails
 * verification ends the answer with an `Error`. Errors never escape the handler: malformed
 * input gets `{"Error": …}` and the stream is closed; transport failures abort the stream.
 *
 * A libp2p-style service: `shardServer(init)` returns the factory libp2p (or
 * {@link registerShardProtocol}) calls with the node's components; `start()` registers the
 * handlers, `stop()` removes them.
 */
import type {
  Connection,
  PeerId,
  Startable,
  Stream,
  StreamHandlerOptions,
} from '@libp2p/interface';
import type { ContentHash, ContentStore, RemoteManifest } from '../../content/index.ts';
import { type StoredManifest, sha256Bytes, shardLength } from '../../content/index.ts';
import {
  errorMessage,
  FrameReader,
  FrameTooLargeError,
  logger,
  WireStreamClosedError,
  WireTimeoutError,
  writeFrame,
} from '../../wire/index.ts';
import {
  DEFAULT_MAX_MANIFEST_BYTES,
  decodePieceRequest,
  decodeShardRequest,
  encodeDataHeader,
  encodePieceResponse,
  encodeShardResponse,
  PIECES_PROTOCOL,
  type PieceResponse,
  SHARD_PROTOCOL,
  type ShardLimits,
  type ShardResponse,
  shardLimits,
} from './codec.ts';
import { ShardError } from './errors.ts';
import { createPacer } from './pace.ts';
import { blobPieces, ShardIndex, shardPieces } from './store-reads.ts';

const log = logger('shard');

/** Cap on a request that carries no data: every one but a `Push` from a peer allowed to push. */
const SMALL_REQUEST_BYTES = 4096;
const PUSH_REFUSED =
  'this peer takes no Push from you: offer the blob over /elohim/replicate/1.0.0 instead, which it accepts only as its owner allows';

export type ShardOp = 'get' | 'have' | 'manifest' | 'pieces';

export interface AllowContext {
  op: ShardOp;
  /** The blob the requested hash belongs to (equal to `hash` unless a shard hash was asked for). */
  blobHash: ContentHash;
}

/** Decides whether `peer` may receive (or learn that we hold) `hash`. Throwing means no. */
export type AllowHook = (
  peer: PeerId,
  hash: ContentHash,
  ctx: AllowContext,
) => boolean | Promise<boolean>;

/**
 * Who may store a blob here by `Push`. A push is someone else's bytes landing in this
 * person's store and served onward, so nobody may unless the policy says so.
 */
export interface PushPolicy {
  /**
   * Whether `peer` may push at all. Asked before its request is read: a peer that may not
   * has its request frame capped like any small request, so a refused Push costs no buffer.
   */
  from(peer: PeerId): boolean | Promise<boolean>;
  /**
   * Whether this blob may be stored (space, size), after its hash is verified. Answers the
   * reason to refuse, or undefined to store it.
   */
  refuse?(peer: PeerId, hash: ContentHash, size: number): Promise<string | undefined>;
}

export interface ShardServerOptions {
  /**
   * Whether `peer` may ask for `hash` (as asked: a blob or a shard hash) at all, before the
   * store is looked into — a lookup may itself cost work, e.g. a doorway's pull-through asks a
   * holder for its manifest. Refused → `NotFound` / `Have(false)`, nothing read. Default: all.
   */
  mayAsk?: (peer: PeerId, hash: ContentHash) => boolean | Promise<boolean>;
  /** Delivery gate (default: allow all). Refused → `NotFound` / `Have(false)`, zero bytes sent. */
  allow?: AllowHook;
  /** Who may `Push` what. Default: nobody (every Push is answered with an Error). */
  push?: PushPolicy;
  /** Largest `Push` payload (a stranger's bytes). Default 16 MiB. `Get` answers any size. */
  maxBytes?: number;
  /** Largest request frame. Default `2 × maxBytes + 1 KiB` (integer-array bytes). */
  maxFrameBytes?: number;
  /** Time allowed for the request to arrive, and for each drain while answering. Default 30 s. */
  timeoutMs?: number;
  /** Also serve `/elohim/pieces/1.0.0`. Default true. */
  pieces?: boolean;
  /** Passed to the registrar's `handle` (e.g. `runOnLimitedConnection`, `maxInboundStreams`). */
  handlerOptions?: StreamHandlerOptions;
  /**
   * Bench only (default: none): caps this server's upload, all streams together, to stand in
   * for a holder on a slow uplink. Never set for users.
   */
  uploadBytesPerSecond?: number;
  /** Diagnostics, besides the `elohim:shard` log (default: nothing). */
  onError?: (error: unknown, ctx: { peer: string; protocol: string }) => void;
  /** Told of every piece of content sent, once it is written to the stream (uploads in progress). */
  onSent?: (sent: ShardSent) => void;
}

/** Bytes of one blob sent to one peer (a piece, or a part of a `Data` answer). */
export interface ShardSent {
  peer: string;
  blobHash: ContentHash;
  /** The blob's display name, when its manifest has one. */
  name: string | undefined;
  bytes: number;
  /** The whole blob's size. */
  totalBytes: number;
}

/** What the server serves from, and how. */
export interface ShardServerInit extends ShardServerOptions {
  store: ContentStore;
}

/** The part of libp2p's registrar (or of a libp2p node) a protocol server needs. */
export interface Libp2pHandleLike {
  handle(
    protocol: string,
    handler: (stream: Stream, connection: Connection) => void | Promise<void>,
    options?: StreamHandlerOptions,
  ): Promise<void>;
  unhandle(protocol: string): Promise<void>;
}

/** What the server needs of the node: libp2p passes its components to a service factory. */
export interface ShardServerComponents {
  registrar: Libp2pHandleLike;
}

export interface ShardServer extends Startable {
  readonly protocols: readonly string[];
  /** Registers the protocols' handlers. */
  start(): Promise<void>;
  /** Unregisters the protocols; streams in progress finish. */
  stop(): Promise<void>;
  isStarted(): boolean;
}

/** What an incoming hash names here: a whole blob, or one shard of a blob stored or held. */
interface Located {
  manifest: StoredManifest | RemoteManifest;
  /** Set when a shard hash was asked for. */
  shard: number | undefined;
  /** The shards held when only some are (a holding); undefined for a whole blob. */
  held: readonly number[] | undefined;
}

/** A `Data` answer streamed from the store: header first, then one piece at a time. */
interface StreamedData {
  type: 'StreamedData';
  manifest: StoredManifest | RemoteManifest;
  size: number;
  pieces: () => AsyncGenerator<Uint8Array>;
}

/**
 * The shard protocol (and, unless `pieces: false`, the piece protocol) as a libp2p service
 * serving from `init.store`: `services: { shard: shardServer({ store }) }`.
 */
export function shardServer(
  init: ShardServerInit,
): (components: ShardServerComponents) => ShardServer {
  return ({ registrar }) => createShardServer(registrar, init);
}

/** Starts a {@link shardServer} on a libp2p node created without it. */
export async function registerShardProtocol(
  libp2p: Libp2pHandleLike,
  store: ContentStore,
  options: ShardServerOptions = {},
): Promise<ShardServer> {
  const server = shardServer({ ...options, store })({ registrar: libp2p });
  await server.start();
  return server;
}

function createShardServer(registrar: Libp2pHandleLike, init: ShardServerInit): ShardServer {
  const { store, ...options } = init;
  const limits = shardLimits(options);
  const timeoutMs = options.timeoutMs ?? 30_000;
  const allow: AllowHook = options.allow ?? (() => true);
  const index = new ShardIndex(store);
  const pacer =
    options.uploadBytesPerSecond === undefined
      ? undefined
      : createPacer(options.uploadBytesPerSecond);
  const sentTo = (peer: PeerId, manifest: StoredManifest | RemoteManifest, bytes: number) => {
    try {
      options.onSent?.({
        peer: peer.toString(),
        blobHash: manifest.blob_hash,
        name: 'name' in manifest ? manifest.name : undefined,
        bytes,
        totalBytes: manifest.total_size,
      });
    } catch {}
  };
  const report = (e: unknown, peer: string, protocol: string) => {
    log.error('%s from %s: %e', protocol, peer, e);
    try {
      options.onError?.(e, { peer, protocol });
    } catch {}
  };

  const allowed = async (peer: PeerId, hash: ContentHash, ctx: AllowContext) => {
    try {
      return (await allow(peer, hash, ctx)) === true;
    } catch (e) {
      report(e, peer.toString(), SHARD_PROTOCOL);
      return false;
    }
  };

  const mayAsk = async (peer: PeerId, hash: ContentHash): Promise<boolean> => {
    if (!options.mayAsk) return true;
    try {
      return (await options.mayAsk(peer, hash)) === true;
    } catch (e) {
      report(e, peer.toString(), SHARD_PROTOCOL);
      return false;
    }
  };

  const mayPush = async (peer: PeerId): Promise<boolean> => {
    if (!options.push) return false;
    try {
      return (await options.push.from(peer)) === true;
    } catch (e) {
      report(e, peer.toString(), SHARD_PROTOCOL);
      return false;
    }
  };

  /** What an incoming blob hash names here: the whole blob, or the shards held of it. */
  const locateBlob = async (hash: ContentHash): Promise<Located | undefined> => {
    const manifest = await store.manifest(hash);
    if (manifest) return { manifest, shard: undefined, held: undefined };
    const holding = await store.holding(hash);
    if (!holding) return undefined;
    return {
      manifest: holding.manifest,
      shard: undefined,
      held: holding.shards.map((s) => s.index),
    };
  };

  /** The blob an incoming hash names, or the blob of the shard it names, if we have it. */
  const locate = async (hash: ContentHash): Promise<Located | undefined> => {
    const whole = await store.manifest(hash);
    if (whole) return { manifest: whole, shard: undefined, held: undefined };
    const loc = await index.lookup(hash);
    if (!loc) return undefined;
    const owner = await locateBlob(loc.blobHash);
    if (!owner || (owner.held && !owner.held.includes(loc.shard))) return undefined;
    return { ...owner, shard: loc.shard };
  };

  /** A blob hash of which only some shards are held names nothing `Get`/`Have` can serve. */
  const servable = (found: Located | undefined) =>
    found && (found.held === undefined || found.shard !== undefined) ? found : undefined;

  const answerShard = async (
    peer: PeerId,
    payload: Uint8Array,
    sizeCheck: ShardLimits,
  ): Promise<ShardResponse | StreamedData> => {
    const req = decodeShardRequest(payload, sizeCheck);
    switch (req.type) {
      case 'Have': {
        if (!(await mayAsk(peer, req.hash))) return { type: 'Have', have: false };
        const found = servable(await locate(req.hash));
        if (!found) return { type: 'Have', have: false };
        const ok = await allowed(peer, req.hash, {
          op: 'have',
          blobHash: found.manifest.blob_hash,
        });
        return { type: 'Have', have: ok };
      }
      case 'Get': {
        if (!(await mayAsk(peer, req.hash))) return { type: 'NotFound' };
        const found = servable(await locate(req.hash));
        if (!found) return { type: 'NotFound' };
        if (!(await allowed(peer, req.hash, { op: 'get', blobHash: found.manifest.blob_hash }))) {
          return { type: 'NotFound' };
        }
        const { manifest: m, shard } = found;
        const size = shard === undefined ? m.total_size : shardLength(m, shard);
        // Any size (a Rust node's shard is a quarter of its blob, unbounded), streamed piece by
        // piece so that no answer sits whole in memory. A piece failing verification midway
        // aborts the stream.
        return {
          type: 'StreamedData',
          manifest: m,
          size,
          pieces: () =>
            shard !== undefined ? shardPieces(store, m, shard) : blobPieces(store, m.blob_hash),
        };
      }
      case 'Push': {
        if (!(await mayPush(peer))) {
          return { type: 'Error', message: PUSH_REFUSED };
        }
        const actual = await sha256Bytes(req.data);
        if (actual !== req.hash) {
          return {
            type: 'Error',
            message: `hash mismatch: the pushed ${req.data.byteLength} bytes hash to ${actual}, not ${req.hash}; nothing was stored`,
          };
        }
        const refusal = await options.push?.refuse?.(peer, req.hash, req.data.byteLength);
        if (refusal !== undefined) {
          return { type: 'Error', message: `push of ${req.hash} refused: ${refusal}` };
        }
        const m = await store.put(req.data);
        if (m.blob_hash !== req.hash) {
          return { type: 'Error', message: `stored hash ${m.blob_hash} differs from ${req.hash}` };
        }
        return { type: 'PushAck' };
      }
    }
  };

  /** Common shape of both handlers: read one request, answer, close; never throw. */
  const serve = async (
    stream: Stream,
    connection: Connection,
    protocol: string,
    maxFrameBytes: number,
    respond: (payload: Uint8Array, send: (frame: Uint8Array) => Promise<void>) => Promise<void>,
    errorFrame: (message: string) => Uint8Array,
  ) => {
    const peer = connection.remotePeer.toString();
    const reader = new FrameReader(stream);
    // A paced wait ends with the stream: a fetcher that cancels frees its share of the upload.
    const ended = new AbortController();
    const onClose = () =>
      ended.abort(
        new WireStreamClosedError('the fetcher went while its answer waited on the upload limit'),
      );
    if (pacer) stream.addEventListener('close', onClose);
    const send = async (frame: Uint8Array) => {
      await pacer?.take(frame.byteLength, ended.signal);
      await writeFrame(stream, frame, { timeoutMs });
    };
    const closeWrite = () => stream.close({ signal: AbortSignal.timeout(timeoutMs) });
    try {
      const payload = await reader.read({ maxFrameBytes, timeoutMs });
      if (payload !== undefined) await respond(payload, send);
      await closeWrite();
    } catch (e) {
      report(e, peer, protocol);
      const transport =
        e instanceof WireStreamClosedError ||
        e instanceof WireTimeoutError ||
        stream.status !== 'open' ||
        stream.writeStatus !== 'writable';
      if (!transport) {
        // Malformed request, gate or store failure: say so, then let the peer finish sending.
        try {
          reader.discardRest();
          await send(errorFrame(errorMessage(e)));
          await closeWrite();
          if (
            e instanceof FrameTooLargeError &&
            !(await reader.waitEnd(Math.min(timeoutMs, 5_000)))
          ) {
            stream.abort(e);
          }
          return;
        } catch {}
      }
      stream.abort(e instanceof Error ? e : new Error(String(e)));
    } finally {
      stream.removeEventListener('close', onClose);
      reader.dispose();
    }
  };

  const shardHandler = async (stream: Stream, connection: Connection) =>
    serve(
      stream,
      connection,
      SHARD_PROTOCOL,
      (await mayPush(connection.remotePeer)) ? limits.maxFrameBytes : SMALL_REQUEST_BYTES,
      async (payload, send) => {
        const resp = await answerShard(connection.remotePeer, payload, limits);
        if (resp.type !== 'StreamedData') {
          await send(encodeShardResponse(resp));
          return;
        }
        await send(encodeDataHeader(resp.size));
        let sent = 0;
        try {
          for await (const piece of resp.pieces()) {
            sent += piece.byteLength;
            if (sent > resp.size)
              throw new ShardError('the stored blob is longer than its manifest');
            await send(piece);
            sentTo(connection.remotePeer, resp.manifest, piece.byteLength);
          }
          if (sent !== resp.size)
            throw new ShardError('the stored blob is shorter than its manifest');
        } catch (e) {
          // Part of the Data frame is out: an Error frame cannot follow. Reset the stream.
          report(e, connection.remotePeer.toString(), SHARD_PROTOCOL);
          stream.abort(e instanceof Error ? e : new Error(String(e)));
        }
      },
      (message) => encodeShardResponse({ type: 'Error', message }),
    );

  const pieceHandler = (stream: Stream, connection: Connection) =>
    serve(
      stream,
      connection,
      PIECES_PROTOCOL,
      SMALL_REQUEST_BYTES,
      async (payload, send) => {
        const req = decodePieceRequest(payload);
        const peer = connection.remotePeer;
        if (!(await mayAsk(peer, req.hash))) {
          await send(encodePieceResponse({ type: 'NotFound' }));
          return;
        }
        // Pieces address blobs (their manifest); a shard hash is not a manifest.
        const found = await locateBlob(req.hash);
        const manifest = found?.manifest;
        const op = req.type === 'Pieces' ? 'pieces' : 'manifest';
        if (!manifest || !(await allowed(peer, req.hash, { op, blobHash: manifest.blob_hash }))) {
          await send(encodePieceResponse({ type: 'NotFound' }));
          return;
        }
        if (req.type === 'Holds') {
          await send(encodePieceResponse({ type: 'Holds', holding: found.held ?? 'all' }));
          return;
        }
        if (req.type === 'Manifest') {
          const frame = encodePieceResponse({ type: 'Manifest', manifest });
          if (frame.byteLength > DEFAULT_MAX_MANIFEST_BYTES) {
            throw new FrameTooLargeError(frame.byteLength, DEFAULT_MAX_MANIFEST_BYTES, 'manifest');
          }
          await send(frame);
          return;
        }
        const { shard, first, count } = req;
        if (shard >= manifest.total_shards) {
          throw new ShardError(
            `shard ${shard} is out of range: ${req.hash} has ${manifest.total_shards} shard(s)`,
          );
        }
        if (found.held && !found.held.includes(shard)) {
          throw new ShardError(
            `this peer keeps only shard(s) ${found.held.join(', ')} of ${req.hash}, not shard ${shard}; ask it with Holds first`,
          );
        }
        const n = manifest.piece_hashes[shard]?.length ?? 0;
        if (first + count > n) {
          throw new ShardError(
            `pieces ${first}..${first + count - 1} are out of range: shard ${shard} of ${req.hash} has ${n} piece(s)`,
          );
        }
        for (let piece = first; piece < first + count; piece++) {
          if (stream.writeStatus !== 'writable') return;
          let data: Uint8Array;
          try {
            data = await store.readPiece(manifest.blob_hash, shard, piece);
          } catch (e) {
            const msg = errorMessage(e);
            const resp: PieceResponse = {
              type: 'Error',
              message: `cannot read piece ${shard}/${piece}: ${msg}`,
            };
            await send(encodePieceResponse(resp));
            return;
          }
          // One piece in flight: writeFrame waits for `drain` before the next.
          await send(encodePieceResponse({ type: 'Piece', shard, piece, data }));
          sentTo(peer, manifest, data.byteLength);
        }
        await send(encodePieceResponse({ type: 'End' }));
      },
      (message) => encodePieceResponse({ type: 'Error', message }),
    );

  const handlers: [string, (stream: Stream, connection: Connection) => Promise<void>][] = [
    [SHARD_PROTOCOL, shardHandler],
  ];
  if (options.pieces !== false) handlers.push([PIECES_PROTOCOL, pieceHandler]);
  let started = false;
  return {
    protocols: handlers.map(([protocol]) => protocol),
    async start() {
      if (started) return;
      index.open();
      for (const [protocol, handler] of handlers) {
        await registrar.handle(protocol, handler, options.handlerOptions);
      }
      started = true;
    },
    async stop() {
      if (!started) return;
      started = false;
      index.close();
      for (const [protocol] of handlers) await registrar.unhandle(protocol);
    },
    isStarted: () => started,
  };
}
