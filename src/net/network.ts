/**
 * How a node reaches others (what differs between a browser tab and a Node process), and the
 * limits that keep a browser's connections bounded however many peers the network has.
 */
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2';
import type { Connection } from '@libp2p/interface';
import { webRTC } from '@libp2p/webrtc';
import { webSockets } from '@libp2p/websockets';
import { TCP, WebRTC } from '@multiformats/multiaddr-matcher';
import type { Libp2pOptions } from 'libp2p';

export interface NetworkProfile {
  transports: NonNullable<Libp2pOptions['transports']>;
  listen: string[];
  /**
   * Dial private and `ws://` addresses freely (a Node peer on loopback or a LAN). Off (a
   * browser), only the configured doorways' such addresses are dialled.
   */
  dialPrivate: boolean;
  /** Addresses to announce instead of the listening ones (a doorway behind a reverse proxy). */
  announce?: string[];
  /** Connection limits (libp2p's); its defaults when absent. */
  connectionManager?: Libp2pOptions['connectionManager'];
  /** Services besides the peer's own, e.g. a doorway's relay server. */
  services?: Libp2pOptions['services'];
}

/**
 * Direct peers (not doorways) a browser dials from what the doorways list, and keeps when it
 * dials a holder on demand: enough for the replicator's copies (2, or 7 shard holders for
 * rs-4-7 plus one) and a few more holders to fetch from at once, few enough that WebRTC's
 * per-connection cost (an SCTP association, ICE keep-alives) stays small on a phone.
 */
export const DEFAULT_MAX_PEERS = 8;

/**
 * libp2p's hard bound on a browser's connections, of every kind: the {@link DEFAULT_MAX_PEERS}
 * it dials, as many other browsers that picked it, and room for doorways and the short relayed
 * connections each WebRTC dial signals over. Past it libp2p closes the least valued (doorways
 * are tagged so they stay).
 */
export const DEFAULT_MAX_CONNECTIONS = 3 * DEFAULT_MAX_PEERS;

const MAX_ICE_SERVERS = 8;
const MAX_ICE_URLS = 4;
const ICE_URL = /^(stuns?|turns?):/;

/**
 * One ICE server as the doorway sent it, or undefined when a browser would refuse it (which
 * would fail every WebRTC connection): `urls` of stun/turn schemes, string credentials.
 */
function iceServer(input: unknown): RTCIceServer | undefined {
  if (typeof input !== 'object' || input === null) return undefined;
  const { urls, username, credential } = input as Record<string, unknown>;
  const list = (Array.isArray(urls) ? urls : [urls]).slice(0, MAX_ICE_URLS);
  if (list.length === 0 || !list.every((u) => typeof u === 'string' && ICE_URL.test(u))) {
    return undefined;
  }
  const checked = list as string[];
  const server: RTCIceServer = { urls: checked };
  if (typeof username === 'string') server.username = username;
  if (typeof credential === 'string') server.credential = credential;
  const turn = checked.some((u) => u.startsWith('turn'));
  if (turn && (server.username === undefined || server.credential === undefined)) return undefined;
  return server;
}

/**
 * When the earliest TURN credential in a doorway's `ice_servers` expires (ms since the epoch),
 * or undefined when none says. Doorways hand out TURN REST credentials (`--turn-secret`):
 * username `<expiry in unix seconds>:<name>`, valid until then.
 */
export function turnExpiry(servers: unknown): number | undefined {
  const expiries = (Array.isArray(servers) ? servers : [])
    .map(iceServer)
    .filter((s): s is RTCIceServer => s?.username !== undefined)
    .map((s) => /^(\d{1,12}):/.exec(s.username as string)?.[1])
    .filter((t): t is string => t !== undefined)
    .map((t) => Number(t) * 1000);
  return expiries.length > 0 ? Math.min(...expiries) : undefined;
}

/** Where the page's WebRTC transport reads its ICE servers: what the doorway in use handed out. */
export class IceServers {
  #servers: RTCIceServer[] = [];

  get servers(): RTCIceServer[] {
    return this.#servers.map((s) => ({ ...s }));
  }

  /** Takes what a doorway sent, keeping at most 8 servers a browser would accept. */
  set(servers: unknown): void {
    this.#servers = (Array.isArray(servers) ? servers : [])
      .map(iceServer)
      .filter((s): s is RTCIceServer => s !== undefined)
      .slice(0, MAX_ICE_SERVERS);
  }

  /** What each new RTCPeerConnection is created with (read per connection: the list may change). */
  rtcConfiguration(): RTCConfiguration {
    return this.#servers.length > 0 ? { iceServers: this.servers } : {};
  }
}

/** How long one dial to a browser may take (libp2p's default is 6 s an address, 10 s in all). */
const WEBRTC_DIAL_TIMEOUT_MS = 20_000;
/**
 * Inbound connections a browser takes per second from one address. Every one it gets arrives
 * through a doorway's relay, so libp2p's default (5 per host per second, made for TCP
 * listeners) counted every peer behind that doorway as one host: the sixth peer to dial within
 * a second was refused (docs/design.md §9). The pending cap and `maxConnections` still bound
 * what a flood can cost.
 */
const INBOUND_RELAYED_PER_SECOND = 50;

/**
 * A browser's: WebSockets to the doorways, a relay reservation, WebRTC to peers with the ICE
 * servers the doorway hands out, and a bounded number of connections.
 */
export function browserNetwork(ice: IceServers = new IceServers()): NetworkProfile {
  return {
    transports: [
      webSockets(),
      webRTC({
        // 16 MiB of buffered data broke streams here; 2–8 MiB worked (docs/design.md §9).
        // Messages stay libp2p's 16 KiB: 256 KiB ones measured no better (src/net/README.md).
        dataChannel: { maxBufferedAmount: 4 * 1024 * 1024 },
        rtcConfiguration: () => ice.rtcConfiguration(),
      }),
      circuitRelayTransport(),
    ],
    listen: ['/p2p-circuit', '/webrtc'],
    dialPrivate: false,
    connectionManager: {
      maxConnections: DEFAULT_MAX_CONNECTIONS,
      // A browser-to-browser dial is signalling through the relay, ICE and two handshakes:
      // libp2p's 6 s per address gave up on a busy machine (or a slow phone) while it was
      // still on its way. The caller's own signal still ends a dial sooner.
      addressDialTimeout: WEBRTC_DIAL_TIMEOUT_MS,
      dialTimeout: WEBRTC_DIAL_TIMEOUT_MS,
      inboundConnectionThreshold: INBOUND_RELAYED_PER_SECOND,
    },
  };
}

/**
 * A connection is direct when it carries no relay limits and goes browser to browser (WebRTC,
 * through a TURN server too) or process to process (TCP), not through a doorway's relay
 * (docs/design.md §9).
 */
export function isDirect(connection: Connection): boolean {
  const address = connection.remoteAddr;
  return connection.limits == null && (WebRTC.matches(address) || TCP.matches(address));
}
