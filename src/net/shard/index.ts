/**
 * The shard protocol `/elohim/shard/1.0.0` (wire-compatible with the Rust node) and our piece
 * protocol `/elohim/pieces/1.0.0` for large content. Wire formats: see `codec.ts`.
 *
 *   const server = await registerShardProtocol(libp2p, store, { allow });
 *   const bytes = await shardGet(libp2p, peerId, hash, { timeoutMs: 10_000 });
 *   const m = await fetchManifest(libp2p, peerId, hash);
 *   const held = await fetchHolding(libp2p, peerId, hash); // 'all' or [shard, …]
 *   for await (const p of fetchPieces(libp2p, peerId, m, { shard: 0, first: 0, count: 4 })) …
 */
export {
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
  encodeFrame,
  encodePieceRequest,
  encodePieceResponse,
  encodeShardRequest,
  encodeShardResponse,
  FRAME_OVERHEAD,
  frameLength,
  type Holding,
  MAX_HELD_SHARDS,
  manifestFromWire,
  PIECES_PROTOCOL,
  type PieceRequest,
  type PieceResponse,
  type RemoteManifest,
  remoteManifest,
  SHARD_PROTOCOL,
  type ShardLimits,
  type ShardRequest,
  type ShardResponse,
  shardLimits,
  unframe,
} from './codec.ts';
export {
  BadBytesError,
  BadMsgpackError,
  FrameTooLargeError,
  PeerReportedError,
  PeerSentBadDataError,
  ShardError,
  ShardNotFoundError,
  ShardProtocolError,
  ShardStreamClosedError,
  ShardTimeoutError,
  TruncatedFrameError,
  UnexpectedMessageError,
} from './errors.ts';
export {
  type AllowContext,
  type AllowHook,
  type Libp2pHandleLike,
  type PushPolicy,
  registerShardProtocol,
  type ShardOp,
  type ShardServer,
  type ShardServerOptions,
} from './server.ts';
export {
  FrameReader,
  type FrameReadOptions,
  type FrameWriteOptions,
  readFrame,
  waitForDrain,
  writeFrame,
} from './stream.ts';
