import { isIPv6 } from 'node:net';
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { type CircuitRelayService, circuitRelayServer } from '@libp2p/circuit-relay-v2';
import { identify, identifyPush } from '@libp2p/identify';
import type { Libp2p } from '@libp2p/interface';
import { ping } from '@libp2p/ping';
import { webSockets } from '@libp2p/websockets';
import { createLibp2p } from 'libp2p';
import type { DoorwayConfig } from './config.ts';
import { loadOrCreateKey } from './identity.ts';
import type { Logger } from './log.ts';
import { PeerRegistry } from './peers.ts';

export type P2pConfig = Pick<
  DoorwayConfig,
  | 'p2pHost'
  | 'p2pPort'
  | 'p2pAnnounce'
  | 'dataDir'
  | 'relayDataLimit'
  | 'relayDurationLimit'
  | 'relayMaxReservations'
>;

export interface DoorwayP2p {
  readonly node: Libp2p<{ relay: CircuitRelayService }>;
  readonly peerId: string;
  readonly peers: PeerRegistry;
  /** The doorway's dialable addresses, each ending in `/p2p/<doorway PeerId>`. */
  multiaddrs(): string[];
  /** Protocols the doorway's node handles. */
  protocols(): string[];
  stop(): Promise<void>;
}

/** Loopback, so many browser tabs on one machine are never refused by the inbound rate limiter. */
const LOOPBACK_ALLOW = ['/ip4/127.0.0.0/ipcidr/8', '/ip6/::1/ipcidr/128'];
/** Stand-ins for "no limit" when only one of the two relay limits is 0. */
const UNLIMITED_DATA = 2n ** 63n;
const UNLIMITED_DURATION_MS = 2 ** 31 - 1;

/**
 * The doorway's libp2p node: a WebSocket listener (browsers dial `ws://`), Noise, Yamux,
 * identify + identify-push, ping and a circuit-relay-v2 server, with a persistent identity.
 * It never dials browsers; it only accepts them, relays between them, and records what
 * they announce in `peers`.
 */
export async function startP2p(config: P2pConfig, log: Logger): Promise<DoorwayP2p> {
  const { key, created } = await loadOrCreateKey(config.dataDir);
  const ip = isIPv6(config.p2pHost) ? 'ip6' : 'ip4';
  const listen = `/${ip}/${config.p2pHost}/tcp/${config.p2pPort}/ws`;
  const unlimited = config.relayDataLimit === 0 && config.relayDurationLimit === 0;

  const node = await createLibp2p({
    privateKey: key,
    addresses: {
      listen: [listen],
      ...(config.p2pAnnounce.length > 0 ? { announce: config.p2pAnnounce } : {}),
    },
    transports: [webSockets()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    // Node's default gater already allows private and loopback addresses; say so explicitly.
    connectionGater: {
      denyDialMultiaddr: () => false,
      denyInboundConnection: () => false,
    },
    connectionManager: { allow: LOOPBACK_ALLOW },
    services: {
      identify: identify(),
      identifyPush: identifyPush(),
      ping: ping(),
      relay: circuitRelayServer({
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
  });

  const self = node.peerId.toString();
  log.info(`p2p identity ${self} (${created ? 'new, saved in' : 'from'} ${config.dataDir})`);
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

  let stopping: Promise<void> | undefined;
  return {
    node,
    peerId: self,
    peers,
    multiaddrs: () => node.getMultiaddrs().map((ma) => ma.toString()),
    protocols: () => node.getProtocols(),
    stop() {
      stopping ??= Promise.resolve(node.stop()).then(() => peers.clear());
      return stopping;
    },
  };
}
