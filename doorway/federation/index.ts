/**
 * Many doorways, one network: doorways link with the ones configured (`--peers`), learn of the
 * others through the DHT and the trust layer, and route content between them with Kademlia
 * (`@libp2p/kad-dht`, server mode, `/elohim/kad/1.0.0`). README.md says how.
 */
export {
  capProviderRecords,
  DEFAULT_DHT_LIMITS,
  type DhtLimits,
  type DoorwayDhtOptions,
  doorwayDht,
} from './dht.ts';
export {
  DhtMessageError,
  guardDhtStream,
  guardedDhtConnections,
  guardedDhtRegistrar,
  MAX_DHT_MESSAGE,
} from './dht-guard.ts';
export {
  DEFAULT_MAX_DOORWAYS,
  DoorwayDirectory,
  type DoorwaySource,
  type KnownDoorway,
} from './directory.ts';
export { DoorwayInfoError, PeerListError } from './errors.ts';
export { Federation, type FederationInit, resolveDoorwayUrl } from './federation.ts';
export {
  DEFAULT_HOLDINGS_LIMITS,
  type HoldingsEvents,
  type HoldingsLimits,
  HoldingsRegistry,
  holdersFirst,
} from './holdings.ts';
export { HoldingsServer, type HoldingsServerInit, refusal } from './holdings-server.ts';
export { MAX_PEER_ENTRIES, type PeerEntry, parsePeerList } from './peer-list.ts';
export { ContentProvider, type ProvideOptions } from './provide.ts';
export { type PullSource, PullThrough, type PullThroughOptions } from './pull-through.ts';
export { federationRoutes, MAX_LISTED_DOORWAYS } from './routes.ts';
