/**
 * The network layer: the browser's libp2p node (doorway relay, WebRTC to peers), the shard
 * protocols it serves, and fetching content by hash from the peers that hold it.
 *
 *   const node = await PeerNode.start({ doorways: [location.origin], store });
 *   const finder = connectedPeersFinder(() => node.directPeers(), node.libp2p);
 *   await fetchContent(node, store, finder, hash, { onProgress });
 *   // keep copies of what this browser authors on other peers
 *   const replicator = new Replicator({ node, store, trust: () => trust, copies: 2 });
 */

export { fetchThroughDoorway, MAX_BRIDGE_FETCH_BYTES } from './bridge-fetch.ts';
export { BodyTooLargeError, readCappedJson } from './capped-json.ts';
export {
  contentCid,
  DHT_PROTOCOL,
  type DhtFinderOptions,
  type DhtNode,
  dhtHolderFinder,
  dhtOf,
  withDhtFallback,
} from './dht.ts';
export {
  DoorwayUnreachableError,
  fetchDoorwayInfo,
  fetchFederatedDoorways,
  fetchP2pPeers,
  fetchSignalPeers,
} from './doorway-client.ts';
export {
  DoorwayList,
  type DoorwaySwitch,
  doorwayOrigin,
  MAX_LEARNED_DOORWAYS,
} from './doorway-list.ts';
export { AllHoldersFailedError, FetchError, NoHoldersError } from './errors.ts';
export {
  type FetchNode,
  type FetchOptions,
  type FetchPeerProgress,
  type FetchProgress,
  type FindOptions,
  fetchContent,
  type HolderFinder,
} from './fetch.ts';
export { connectedPeersFinder, type NearFirstOptions, nearFirst } from './finders.ts';
export {
  decodeHoldings,
  encodeHoldings,
  encodeHoldingsAnswer,
  HOLDINGS_PROTOCOL,
  HoldingsAnnouncer,
  type HoldingsUpdate,
  MAX_HASHES_PER_MESSAGE,
  MAX_HOLDINGS_FRAME_BYTES,
} from './holdings/index.ts';
export {
  browserNetwork,
  DEFAULT_MAX_CONNECTIONS,
  DEFAULT_MAX_PEERS,
  IceServers,
  isDirect,
  type NetworkProfile,
} from './network.ts';
export {
  type DoorwayState,
  type NodeSnapshot,
  type PeerConnectionInfo,
  PeerNode,
  type PeerNodeEvents,
  type PeerNodeOptions,
} from './node.ts';
export {
  MAX_P2P_PEERS,
  type NatStatus,
  type P2pPeer,
  readNatStatus,
  readP2pPeers,
  withPeerId,
} from './p2p-peers.ts';
export {
  FollowerPeerService,
  LeaderGoneError,
  LeaderPeerService,
  type PeerFetchOptions,
  type PeerService,
  type PeerServiceEvents,
} from './peer-service.ts';
export { RateMeter, type RateMeterOptions, secondsLeft } from './rate.ts';
export {
  type GateAnswer,
  type HoldGate,
  holdGate,
  NotHeldError,
  OfferMismatchError,
  OfferWithdrawnError,
  pushPolicy,
  REPLICATE_PROTOCOL,
  type ReplicaOffer,
  type ReplicaPeer,
  type ReplicaPolicy,
  type ReplicaState,
  ReplicateError,
  type ReplicateOptions,
  type ReplicateReport,
  type ReplicateServer,
  type ReplicateServerOptions,
  type ReplicationGate,
  ReplicaUnconfirmedError,
  registerReplicateProtocol,
  replicate,
  replicationGate,
  type SpaceBudget,
  storageEstimate,
} from './replicate/index.ts';
export {
  type KeepingOptions,
  keepingPolicy,
  type ReplicaChange,
  type ReplicaHealth,
  type ReplicaHealthState,
  Replicator,
  type ReplicatorEvents,
  type ReplicatorNode,
  type ReplicatorOptions,
} from './replicator/index.ts';
export {
  type SearchEvent,
  type SearchProgress,
  type SearchReport,
  SearchTally,
} from './search.ts';
export {
  type AllowHook,
  beginShardPull,
  fetchManifest,
  importFromShardHolders,
  type PeerTarget,
  SHARD_PROTOCOL,
  type ShardPull,
  shardGetStream,
} from './shard/index.ts';
export { ContentStreamer, type ContentStreamerOptions, type StreamStats } from './stream-fetch.ts';
export {
  type Upload,
  UploadTracker,
  type UploadTrackerEvents,
  type UploadTrackerOptions,
} from './uploads.ts';
