import { isIPv6 } from 'node:net';
import { join } from 'node:path';
import {
  type CircuitRelayService,
  circuitRelayServer,
  RELAY_V2_HOP_CODEC,
  RELAY_V2_STOP_CODEC,
} from '@libp2p/circuit-relay-v2';
import type { Libp2p } from '@libp2p/interface';
import type { KadDHT } from '@libp2p/kad-dht';
import { tcp } from '@libp2p/tcp';
import { webSockets } from '@libp2p/websockets';
import { WebSockets } from '@multiformats/multiaddr-matcher';
import type { ContentStore } from '../src/content/node.ts';
import { loadOrCreateKey } from '../src/identity/node.ts';
import type { NetworkProfile } from '../src/net/index.ts';
import { type Peer, startNodePeer } from '../src/peer/node.ts';
import type { SyncRuntime } from '../src/sync/index.ts';
import { openNodeSync } from '../src/sync/node.ts';
import type { DoorwayConfig } from './config.ts';
import { doorwayDht, Federation, HoldingsRegistry, PullThrough } from './federation/index.ts';
import { keeperBudget } from './keeper.ts';
import type { Logger } from './log.ts';
import { PeerRegistry } from './peers.ts';
import { guardedRegistrar, guardStop } from './relay-guard.ts';

type DoorwayService = NonNullable<NetworkProfile['services']>[string];

export type P2pConfig = Pick<
  DoorwayConfig,
  | 'p2pHost'
  | 'p2pPort'
  | 'p2pAnnounce'
  | 'p2pTcpPort'
  | 'peers'
  | 'dhtPrivateAddrs'
  | 'dataDir'
  | 'relayDataLimit'
  | 'relayDurationLimit'
  | 'relayMaxReservations'
  | 'p2pMaxConnections'
  | 'p2pInboundRate'
  | 'p2pMaxPending'
  | 'p2pTrustLoopback'
  | 'storeDir'
  | 'storeQuota'
>;

export interface DoorwayP2p {
  /** The doorway's peer: its content store keeps copies of commons items for others. */
  readonly peer: Peer;
  readonly node: Libp2p<{ relay: CircuitRelayService; dht: KadDHT }>;
  readonly peerId: string;
  readonly peers: PeerRegistry;
  /** The other doorways: linking, the DHT, provider records (federation/). */
  readonly federation: Federation;
  /**
   * Answers other peers over libp2p for what the attached browsers hold, pulled into the HTTP
   * bridge's cache (`attach` it once the bridge is up).
   */
  readonly pullThrough: PullThrough;
  /** The doorway's WebSocket addresses (what browsers dial), each ending in `/p2p/<doorway PeerId>`. */
  multiaddrs(): string[];
  /** Protocols the doorway's node handles. */
  protocols(): string[];
  stop(): Promise<void>;
}

/**
 * Exempt from the connection limits only with --p2p-trust-loopback: behind a reverse proxy on
 * the same host every peer arrives from loopback.
 */
const LOOPBACK_ALLOW = ['/ip4/127.0.0.0/ipcidr/8', '/ip6/::1/ipcidr/128'];
/**
 * Hop streams one connection may have open at once: one per relayed connection it dials
 * through us (held while that connection lasts) plus its reservation. libp2p's default is 32.
 */
export const MAX_HOP_STREAMS = 16;
/** Stop streams we may open to one destination at once (libp2p's default is 300). */
export const MAX_STOP_STREAMS = 64;
/** A hop exchange (request, the destination's answer, our reply) must finish within this. */
export const HOP_TIMEOUT_MS = 10_000;
/** Stand-ins for "no limit" when only one of the two relay limits is 0. */
const UNLIMITED_DATA = 2n ** 63n;
const UNLIMITED_DURATION_MS = 2 ** 31 - 1;

/**
 * libp2p's relay server, its hop handler behind the size guard (relay-guard.ts). Not through
 * `node.use()` middleware: libp2p 3.3 appends the handler to the stored middleware list on
 * every inbound stream, so inbound middleware would run the handler again for each new stream.
 * (Stop streams are outbound, where middleware works: `node.use` below.)
 */
function guardedRelayServer(
  init: Parameters<typeof circuitRelayServer>[0],
): ReturnType<typeof circuitRelayServer> {
  const create = circuitRelayServer(init);
  // libp2p's components object is a Proxy; a child object overrides just the registrar.
  return (components) =>
    create(
      Object.create(components, {
        registrar: { value: guardedRegistrar(components.registrar, RELAY_V2_HOP_CODEC) },
      }),
    );
}

/**
 * The doorway's libp2p node, which is its `Peer`'s: a WebSocket listener (browsers dial
 * `ws://`), Noise, Yamux, identify + identify-push, ping, the content protocols and a
 * circuit-relay-v2 server, with a persistent identity. Browsers connect to it; it relays
 * between them, records what they announce in `peers`, keeps the commons copies they offer,
 * and pulls from them over those same connections for the HTTP bridge.
 */
export async function startP2p(config: P2pConfig, log: Logger): Promise<DoorwayP2p> {
  const ip = isIPv6(config.p2pHost) ? 'ip6' : 'ip4';
  const listen = `/${ip}/${config.p2pHost}/tcp/${config.p2pPort}/ws`;
  // Doorways dial each other over plain TCP (browsers cannot, so they never see it).
  const listenTcp = `/${ip}/${config.p2pHost}/tcp/${config.p2pTcpPort}`;
  const unlimited = config.relayDataLimit === 0 && config.relayDurationLimit === 0;
  const keptDir = join(config.storeDir, 'kept');
  const syncDir = join(config.storeDir, 'sync');

  const network: NetworkProfile = {
    transports: [webSockets(), tcp()],
    listen: [listen, listenTcp],
    // It dials other doorways and the holders the DHT names, at any address (not a browser).
    dialPrivate: true,
    announce: config.p2pAnnounce,
    connectionManager: {
      maxConnections: config.p2pMaxConnections,
      inboundConnectionThreshold: config.p2pInboundRate,
      maxIncomingPendingConnections: config.p2pMaxPending,
      allow: config.p2pTrustLoopback ? LOOPBACK_ALLOW : [],
    },
    services: {
      // kad-dht needs the `ping` service, which the Peer's node adds beside these.
      dht: doorwayDht({ privateAddresses: config.dhtPrivateAddrs }) as unknown as DoorwayService,
      relay: guardedRelayServer({
        hopTimeout: HOP_TIMEOUT_MS,
        maxInboundHopStreams: MAX_HOP_STREAMS,
        maxOutboundStopStreams: MAX_STOP_STREAMS,
        reservations: {
          maxReservations: config.relayMaxReservations,
          applyDefaultLimit: !unlimited,
          defaultDataLimit:
            config.relayDataLimit === 0 ? UNLIMITED_DATA : BigInt(config.relayDataLimit),
          // libp2p's relay takes this in milliseconds.
          defaultDurationLimit:
            config.relayDurationLimit === 0
              ? UNLIMITED_DURATION_MS
              : config.relayDurationLimit * 1000,
        },
      }),
    },
  };
  // The same Peer as a browser's, on the node browsers connect to: it serves what it keeps
  // over their WebSocket connection, and keeps the commons copies they offer (holdGate: the
  // doorway's agent is in no one's family, so commons is all it may hold).
  let store: ContentStore | undefined;
  // What attached browsers hold: provided in the DHT as ours, and pulled through for others.
  const holdings = new HoldingsRegistry();
  const pullThrough = new PullThrough(holdings, log);
  // Made once the node runs (it needs the node); asked by mayServe from then on.
  let federation: Federation | undefined;
  let sync: Promise<SyncRuntime> | undefined;
  const peer = await startNodePeer({
    dataDir: config.dataDir,
    contentDir: keptDir,
    network,
    copies: 0,
    dialListedPeers: false,
    keepForOthers: config.storeQuota > 0,
    budget: keeperBudget(config.storeQuota, keptDir, () => store as ContentStore),
    trust: false,
    serve: (kept) => pullThrough.serving(kept),
    // What only attached browsers hold is pulled through for other doorways, never for a
    // browser: it should dial the holder (the trust layer names it) rather than load the doorway.
    mayServe: async (peer, hash) =>
      !(await pullThrough.onlyBrowsersHold(hash)) ||
      ((await federation?.isDoorway(peer.toString())) ?? false),
    // Doorways provide in the DHT themselves: it is browsers that announce to them.
    announceHoldings: false,
    // Descriptions of the commons items it keeps, synced with browsers and served over
    // /elohim/sync/1.0.0 (to Rust nodes too); no one's device, it keeps no other document.
    sync: (agent) => {
      sync ??= openNodeSync({ agent, dir: syncDir });
      return sync;
    },
    syncCommonsOnly: true,
  });
  // Ends sync once the peer has stopped: every document write done before the process exits.
  const stopSync = async () => {
    const runtime = await sync?.catch(() => undefined);
    await runtime?.shutdown();
  };
  store = peer.store;
  const node = peer.node.libp2p as Libp2p<{ relay: CircuitRelayService; dht: KadDHT }>;

  // The relay reads the destination's answer on stop streams we open: same size limits.
  node.use(RELAY_V2_STOP_CODEC, guardStop);

  const self = node.peerId.toString();
  log.info(
    `p2p identity ${self} (key in ${config.dataDir}); keeps copies in ${keptDir}, ` +
      `descriptions in ${syncDir}`,
  );
  const peers = new PeerRegistry();

  node.addEventListener('peer:connect', ({ detail }) => {
    const id = detail.toString();
    if (id === self) return;
    peers.connected(id);
    const addr = node.getConnections(detail)[0]?.remoteAddr.toString() ?? '?';
    log.info(`peer connected ${id} from ${addr} (${peers.size} connected)`);
  });
  node.addEventListener('peer:disconnect', ({ detail }) => {
    const id = detail.toString();
    if (peers.disconnected(id)) log.info(`peer disconnected ${id} (${peers.size} connected)`);
  });
  node.addEventListener('peer:identify', ({ detail }) => {
    const id = detail.peerId.toString();
    if (id === self) return;
    // Identify may finish before 'peer:connect' was seen by us; the connection is what counts.
    if (!peers.has(id) && node.getConnections(detail.peerId).length > 0) peers.connected(id);
    const addrs = detail.signedPeerRecord?.addresses ?? detail.listenAddrs;
    if (!peers.identified(id, { addrs, protocols: detail.protocols })) return;
    const entry = peers.get(id);
    log.debug(
      `peer identified ${id} agent=${detail.agentVersion ?? '?'} ` +
        `addrs=[${entry?.multiaddrs.join(' ') ?? ''}] protocols=[${entry?.protocols.join(' ') ?? ''}]`,
    );
  });
  node.services.relay.addEventListener('relay:reservation', ({ detail }) => {
    log.debug(
      `relay reservation until ${detail.expiry.toISOString()} for ${detail.addr.toString()}`,
    );
  });

  for (const addr of node.getMultiaddrs()) log.info(`p2p listening on ${addr.toString()}`);
  const limits = unlimited
    ? 'unlimited'
    : `${config.relayDataLimit || 'unlimited'} bytes, ${config.relayDurationLimit || 'unlimited'} s`;
  log.debug(`relay: ${config.relayMaxReservations} reservations, per relayed connection ${limits}`);
  log.debug(
    `connections: at most ${config.p2pMaxConnections}, ${config.p2pMaxPending} being set up, ` +
      `${config.p2pInboundRate}/s per address${config.p2pTrustLoopback ? ' (loopback exempt)' : ''}`,
  );

  // The same key file the peer's identity came from: its agent registers the doorway.
  const { key } = await loadOrCreateKey(config.dataDir);
  federation = new Federation({
    node,
    store: peer.store,
    peers: config.peers,
    key,
    log,
    holdings,
  });
  try {
    await federation.start();
  } catch (error) {
    pullThrough.stop();
    await federation.stop();
    await peer.stop();
    await stopSync();
    peer.store.close();
    throw error;
  }

  let stopping: Promise<void> | undefined;
  return {
    peer,
    node,
    peerId: self,
    peers,
    federation,
    pullThrough,
    multiaddrs: () =>
      node
        .getMultiaddrs()
        .filter((ma) => WebSockets.matches(ma))
        .map((ma) => ma.toString()),
    protocols: () => node.getProtocols(),
    stop() {
      pullThrough.stop();
      stopping ??= federation
        .stop()
        .then(() => peer.stop())
        .then(stopSync)
        .then(() => {
          peer.store.close();
          peers.clear();
        });
      return stopping;
    },
  };
}
