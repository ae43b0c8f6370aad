/**
 * The shard protocol `/elohim/shard/1.0.0` (wire-compatible with the Rust node) and our piece
 * protocol `/elohim/pieces/1.0.0` for large content. Wire formats: see `codec.ts`; frames,
 * MessagePack and the framing errors are `src/wire`'s.
 *
 *   // a libp2p service; on a node made without it: registerShardProtocol(libp2p, store, { allow })
 *   const libp2p = await createLibp2p({ services: { shard: shardServer({ store, allow }) } });
 *   const bytes = await shardGet(libp2p, peerId, hash, { timeoutMs: 10_000 });
 *   for await (const chunk of shardGetStream(libp2p, peerId, shardHash)) … // any size
 *   const m = await fetchManifest(libp2p, peerId, hash);
 *   const held = await fetchHolding(libp2p, peerId, hash); // 'all' or [shard, …]
 *   for await (const p of fetchPieces(libp2p, peerId, m, { shard: 0, first: 0, count: 4 })) …
 *   const pull = await beginShardPull(libp2p, store, rustManifest, [addr]); // a Rust node's blob
 *   await pull.ensure([{ shard: 2, piece: 0 }]);   // shard 2 fetched first, matched its hash
 */
export {
  type FetchPiecesOptions,
  fetchHolding,
  fetchManifest,
  fetchPieces,
  type Libp2pDialLike,
  libp2pShardTransport,
  type PeerTarget,
  type PieceRange,
  type ShardGetOptions,
  type ShardRequestOptions,
  type ShardTransport,
  shardGet,
  shardHave,
  shardPush,
  type VerifiedPiece,
} from './client.ts';
export {
  DEFAULT_MAX_BYTES,
  DEFAULT_MAX_MANIFEST_BYTES,
  decodePieceRequest,
  decodePieceResponse,
  decodeShardRequest,
  decodeShardResponse,
  encodeDataHeader,
  encodePieceRequest,
  encodePieceResponse,
  encodeRustManifest,
  encodeShardRequest,
  encodeShardResponse,
  FRAME_OVERHEAD,
  type Holding,
  MAX_DATA_BYTES,
  MAX_HELD_SHARDS,
  manifestFromWire,
  PIECES_PROTOCOL,
  type PieceRequest,
  type PieceResponse,
  type RemoteManifest,
  SHARD_PROTOCOL,
  type ShardLimits,
  type ShardRequest,
  type ShardResponse,
  shardLimits,
} from './codec.ts';
export {
  PeerReportedError,
  PeerSentBadDataError,
  ShardError,
  ShardNotFoundError,
} from './errors.ts';
export { type ShardStreamOptions, shardGetStream } from './get-stream.ts';
export { createPacer, type PacerClock } from './pace.ts';
export {
  type AllowContext,
  type AllowHook,
  type Libp2pHandleLike,
  type PushPolicy,
  registerShardProtocol,
  type ShardOp,
  type ShardSent,
  type ShardServer,
  type ShardServerComponents,
  type ShardServerInit,
  type ShardServerOptions,
  shardServer,
} from './server.ts';
export {
  beginShardPull,
  importFromShardHolders,
  type ShardImportOptions,
  type ShardPull,
} from './shard-import.ts';
