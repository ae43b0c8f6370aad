export { IdentityError, KEY_FILE, loadOrCreateKey } from '../src/identity/node.ts';
export {
  ConfigError,
  DEFAULT_RELAY_DATA_LIMIT,
  DEFAULT_RELAY_DURATION_LIMIT,
  DEFAULT_RELAY_MAX_RESERVATIONS,
  type DoorwayConfig,
  HELP,
  loadConfig,
} from './config.ts';
export {
  DEV_TOKEN_PURPOSE,
  DNA_HASHES,
  ROLES,
  type RoleName,
  StoreError,
  startTrustLayer,
  TokenError,
  type TrustLayer,
  type TrustLayerConfig,
} from './holochain/index.ts';
export { createLogger, type Logger } from './log.ts';
export { type DoorwayP2p, type P2pConfig, startP2p } from './p2p.ts';
export {
  type Capability,
  capabilitiesOf,
  dialableAddrs,
  type NatStatus,
  type PeerEntry,
  PeerRegistry,
  RELAY_HOP_PROTOCOL,
  SHARD_PROTOCOL,
  SYNC_PROTOCOL,
} from './peers.ts';
export {
  dispatch,
  p2pRoutes,
  parsePubkey,
  type Route,
  type RouteContext,
  sendJson,
} from './routes.ts';
export { type Doorway, MissingBuildError, startDoorway } from './server.ts';
