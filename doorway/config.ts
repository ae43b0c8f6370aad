import { isIP } from 'node:net';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseRustStorage } from './bridge/index.ts';
import { type PeerEntry, PeerListError, parsePeerList } from './federation/index.ts';
import { type IceServer, parseIceServers, type TurnCredentials } from './ice-servers.ts';

/** Everything the doorway can be told, from flags first, then environment, then defaults. */
export interface DoorwayConfig {
  host: string;
  /** 0 asks the OS for a free port (tests use this). */
  port: number;
  /** Folder holding the built PWA (`vite build` output). */
  staticDir: string;
  logLevel: 'silent' | 'info' | 'debug';
  /** IP address the libp2p WebSocket listener binds to. */
  p2pHost: string;
  /** Port of the libp2p WebSocket listener; 0 asks the OS for a free one. */
  p2pPort: number;
  /**
   * Extra multiaddrs to announce instead of the listening ones (e.g. the public `wss://` address
   * of a reverse proxy). Empty: announce what we listen on.
   */
  p2pAnnounce: string[];
  /** Port of the libp2p TCP listener other doorways dial; 0 asks the OS for a free one. */
  p2pTcpPort: number;
  /** Other doorways to link with (`--peers`): multiaddrs naming their PeerId, or their URLs. */
  peers: PeerEntry[];
  /** Whether the DHT passes on private and loopback addresses (a LAN, or tests on 127.0.0.1). */
  dhtPrivateAddrs: boolean;
  /** Folder holding the doorway's persistent state (its libp2p private key). */
  dataDir: string;
  /** Bytes allowed per relayed connection (both directions together); 0 = no limit. */
  relayDataLimit: number;
  /** Seconds a relayed connection may stay open; 0 = no limit. */
  relayDurationLimit: number;
  /** How many peers may hold a relay reservation at once. */
  relayMaxReservations: number;
  /** Most libp2p connections open at once; past it new ones are refused or the least useful pruned. */
  p2pMaxConnections: number;
  /** Inbound libp2p connections accepted per second from one IP address. */
  p2pInboundRate: number;
  /** Inbound libp2p connections still being set up (encryption, muxer) at once. */
  p2pMaxPending: number;
  /** Whether peers on loopback skip the three connection limits above. */
  p2pTrustLoopback: boolean;
  /**
   * Milliseconds a client has to send a whole HTTP request, headers and body (the headers alone
   * get at most {@link MAX_HEADERS_TIMEOUT_MS}); an HTTP connection idle that long is closed.
   */
  httpRequestTimeoutMs: number;
  /**
   * A real Holochain conductor's app interface (`ws://…` or `wss://…`): app websockets are
   * forwarded to it byte for byte. Unset: the doorway's conductor emulator answers them.
   */
  hcConductor: string | undefined;
  /**
   * That conductor's admin interface (`ws://…`): `/hc/connect` grants and issues app tokens
   * through it. Only with `hcConductor`.
   */
  hcAdmin?: string | undefined;
  /** Whether `POST /hc/dev/token` issues session tokens to anyone proving an agent key. */
  hcDevTokens: boolean;
  /** Folder of the doorway's content: `kept/` (copies kept for others) and `cache/` (HTTP). */
  storeDir: string;
  /** Bytes of copies the doorway keeps for others; 0 keeps none. */
  storeQuota: number;
  /** Bytes of content fetched for HTTP clients kept for the next ones (least recently used goes first). */
  cacheQuota: number;
  /** `/store` responses one client address may have under way at once; 0: no bound. Default 32. */
  storePerClient?: number;
  /** Rust storage nodes the /store bridge fetches misses from (`--rust-storage`). */
  rustStorage?: { endpoint: string; multiaddr: string }[];
  /** STUN/TURN servers browsers use for WebRTC (doorway/ice-servers.ts); none when absent. */
  iceServers?: IceServer[];
  /** With a TURN shared secret, short-lived TURN credentials on every ask (ice-servers.ts). */
  turn?: TurnCredentials;
  /**
   * TEST ONLY: answer the bootstrap routes as a Rust doorway does (no `/api/v1/p2p/info`: 404;
   * `/signal/{pubkey}` 400 to a plain GET), so browsers bootstrap from
   * `/api/v1/federation/p2p-peers` (e2e/rust-bootstrap.spec.ts).
   */
  rustBootstrapOnly?: boolean;
}

export const DEFAULT_TURN_TTL_S = 86_400;

/** libp2p's own relay defaults (go-libp2p's too): enough for WebRTC signalling, not for bulk data. */
export const DEFAULT_RELAY_DATA_LIMIT = 128 * 1024;
export const DEFAULT_RELAY_DURATION_LIMIT = 120;
export const DEFAULT_RELAY_MAX_RESERVATIONS = 128;
/** Floors below which WebRTC signalling (SDP + ICE over the relay, Noise, identify) could fail. */
export const MIN_RELAY_DATA_LIMIT = 64 * 1024;
export const MIN_RELAY_DURATION_LIMIT = 30;
/** libp2p's own connection limits; here they hold for loopback peers too. */
export const DEFAULT_P2P_MAX_CONNECTIONS = 300;
export const DEFAULT_P2P_INBOUND_RATE = 5;
export const DEFAULT_P2P_MAX_PENDING = 10;
export const DEFAULT_HTTP_REQUEST_TIMEOUT_S = 30;
export const DEFAULT_STORE_QUOTA = 10 * 2 ** 30;
export const DEFAULT_CACHE_QUOTA = 2 * 2 ** 30;
export const DEFAULT_STORE_PER_CLIENT = 32;
/** Node's default (60 s) lets a client dribble headers for a minute. */
export const MAX_HEADERS_TIMEOUT_MS = 10_000;

const HELP = `Usage: doorway [options]

Options (environment variable in brackets):
  --host <addr>       HTTP interface [ELOHIM_HOST]                default 127.0.0.1
  --port <n>          HTTP port; 0 picks a free one [ELOHIM_PORT] default 8080
  --static <dir>      built app to serve [ELOHIM_STATIC_DIR]      default dist
  --log-level <lvl>   silent | info | debug [ELOHIM_LOG_LEVEL]    default info
  --p2p-host <ip>     libp2p WebSocket interface [ELOHIM_P2P_HOST]
                      default: --host if it is an IP address, else 127.0.0.1
  --p2p-port <n>      libp2p WebSocket port; 0 picks a free one [ELOHIM_P2P_PORT]
                      default 8081 (0 when --port is 0)
  --p2p-announce <ma,...>  multiaddrs to announce instead of the listening ones,
                      comma-separated, e.g. /dns4/example.org/tcp/443/wss [ELOHIM_P2P_ANNOUNCE]
  --p2p-tcp-port <n>  libp2p TCP port other doorways dial; 0 picks a free one
                      [ELOHIM_P2P_TCP_PORT]                       default 8082 (0 when --port is 0)
  --rust-storage <list>  Rust storage nodes /store/{hash} fetches misses from, comma-separated
                      URL=MULTIADDR: its HTTP API (manifests) and its libp2p TCP address
                      (shards) [ELOHIM_RUST_STORAGE]               default none
  --peers <list>      doorways to link with, comma-separated: multiaddrs ending in
                      /p2p/<PeerId>, or doorway URLs (read through their /api/v1/p2p/info)
                      [ELOHIM_PEERS]                              default none
  --dht-private-addrs <on|off>     let the DHT pass on private and loopback addresses
                      (doorways on one LAN or one machine) [ELOHIM_DHT_PRIVATE_ADDRS]
                      default on when --host is loopback, else off
  --data-dir <dir>    persistent state (the doorway's key, hence its PeerId)
                      [ELOHIM_DATA_DIR]                           default .doorway
  --relay-data-limit <bytes>       per relayed connection; 0 = unlimited
                      [ELOHIM_RELAY_DATA_LIMIT]                   default 131072 (128 KiB)
  --relay-duration-limit <s>       per relayed connection; 0 = unlimited
                      [ELOHIM_RELAY_DURATION_LIMIT]               default 120
  --relay-max-reservations <n>     peers holding a relay slot at once
                      [ELOHIM_RELAY_MAX_RESERVATIONS]             default 128
  --p2p-max-connections <n>        libp2p connections open at once
                      [ELOHIM_P2P_MAX_CONNECTIONS]                default ${DEFAULT_P2P_MAX_CONNECTIONS}
  --p2p-inbound-rate <n>           inbound libp2p connections per second from one IP
                      address [ELOHIM_P2P_INBOUND_RATE]           default ${DEFAULT_P2P_INBOUND_RATE}
  --p2p-max-pending <n>            inbound libp2p connections being set up at once
                      [ELOHIM_P2P_MAX_PENDING]                    default ${DEFAULT_P2P_MAX_PENDING}
  --p2p-trust-loopback             exempt peers on 127.0.0.0/8 and ::1 from the three limits
                      above; never behind a reverse proxy on this host, where every
                      peer arrives from loopback [ELOHIM_P2P_TRUST_LOOPBACK=on|off] default off
  --http-request-timeout <s>       seconds a client has to send a whole request (headers
                      within min(${MAX_HEADERS_TIMEOUT_MS / 1000}, this)); an idle connection closes after as long
                      [ELOHIM_HTTP_REQUEST_TIMEOUT]               default ${DEFAULT_HTTP_REQUEST_TIMEOUT_S}
  --hc-conductor <ws url>          forward /hc/app websockets to this real conductor's
                      app interface instead of the built-in conductor EMULATOR
                      [ELOHIM_HC_CONDUCTOR]                       default: emulate
  --hc-admin <ws url>              that conductor's admin interface: /hc/connect grants the
                      app's key and issues its app token through it (needs --hc-conductor)
                      [ELOHIM_HC_ADMIN]                           default: none (501)
  --hc-dev-tokens <on|off>         POST /hc/dev/token hands a session token to whoever
                      proves an agent key (no account) [ELOHIM_HC_DEV_TOKENS]
                      default on when --host is loopback, else off
  --store-dir <dir>   the doorway's content: copies it keeps of public (commons) items,
                      their descriptions (sync/) and its HTTP cache
                      [ELOHIM_STORE_DIR]                          default <data-dir>/store
  --store-quota <bytes>            space for copies kept for others; 0 keeps none
                      [ELOHIM_STORE_QUOTA]                        default ${DEFAULT_STORE_QUOTA} (10 GiB)
  --cache-quota <bytes>            space for what /store/{hash} fetched from peers
                      [ELOHIM_CACHE_QUOTA]                        default ${DEFAULT_CACHE_QUOTA} (2 GiB)
  --store-per-client <n>           /store responses one client address (IPv6: /64) may
                      have at once, beyond: 429; behind a reverse proxy raise it or 0
                      (no bound) [ELOHIM_STORE_PER_CLIENT]       default ${DEFAULT_STORE_PER_CLIENT}
  --ice-servers <list>             STUN/TURN servers handed to browsers for WebRTC; JSON
                      ([{"urls":…,"username":…,"credential":…}]) or comma-separated urls,
                      turn:user:credential@host:3478; repeatable [ELOHIM_ICE_SERVERS]
                      default none (loopback and LANs need none). Anyone who can reach the
                      doorway reads them: give TURN servers per-user quotas.
  --turn-secret <secret>           the TURN server's shared secret (coturn use-auth-secret):
                      TURN servers listed without credentials get fresh ones, valid
                      --turn-ttl seconds, on every ask [ELOHIM_TURN_SECRET]   default none
  --turn-ttl <s>      how long those stay valid [ELOHIM_TURN_TTL]  default ${DEFAULT_TURN_TTL_S} (a day)
  --test-rust-bootstrap            TEST ONLY: no /api/v1/p2p/info (404) and /signal
                      answering a plain GET with 400, as a Rust doorway does, so that
                      browsers bootstrap from /api/v1/federation/p2p-peers
                      [ELOHIM_TEST_RUST_BOOTSTRAP=on|off]         default off
  --help              show this text

The relay defaults carry WebRTC signalling only (that is all browsers need to connect
directly). Limits below ${MIN_RELAY_DATA_LIMIT} bytes or ${MIN_RELAY_DURATION_LIMIT} s are refused so signalling always fits.
With both limits 0, relayed connections are unlimited and carry any protocol.
`;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

function integer(flag: string, text: string, min: number, max: number): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new ConfigError(`${flag} must be an integer from ${min} to ${max}, got "${text}"`);
  }
  return value;
}

/** A limit that is 0 (unlimited) or at least `floor`. */
function limit(flag: string, text: string, floor: number, max: number): number {
  const value = integer(flag, text, 0, max);
  if (value !== 0 && value < floor) {
    throw new ConfigError(
      `${flag} must be 0 (unlimited) or at least ${floor} so WebRTC signalling fits, got "${text}"`,
    );
  }
  return value;
}

function isWsUrl(text: string): boolean {
  try {
    const url = new URL(text);
    return (url.protocol === 'ws:' || url.protocol === 'wss:') && url.hostname !== '';
  } catch {
    return false;
  }
}

export function loadConfig(argv: string[], env: NodeJS.ProcessEnv): DoorwayConfig | 'help' {
  const { values } = parseArgs({
    args: argv,
    options: {
      host: { type: 'string' },
      port: { type: 'string' },
      static: { type: 'string' },
      'log-level': { type: 'string' },
      'p2p-host': { type: 'string' },
      'p2p-port': { type: 'string' },
      'p2p-announce': { type: 'string' },
      'p2p-tcp-port': { type: 'string' },
      peers: { type: 'string' },
      'rust-storage': { type: 'string' },
      'dht-private-addrs': { type: 'string' },
      'data-dir': { type: 'string' },
      'relay-data-limit': { type: 'string' },
      'relay-duration-limit': { type: 'string' },
      'relay-max-reservations': { type: 'string' },
      'p2p-max-connections': { type: 'string' },
      'p2p-inbound-rate': { type: 'string' },
      'p2p-max-pending': { type: 'string' },
      'p2p-trust-loopback': { type: 'boolean' },
      'test-rust-bootstrap': { type: 'boolean' },
      'http-request-timeout': { type: 'string' },
      'hc-conductor': { type: 'string' },
      'hc-admin': { type: 'string' },
      'hc-dev-tokens': { type: 'string' },
      'store-dir': { type: 'string' },
      'store-quota': { type: 'string' },
      'cache-quota': { type: 'string' },
      'store-per-client': { type: 'string' },
      'ice-servers': { type: 'string', multiple: true },
      'turn-secret': { type: 'string' },
      'turn-ttl': { type: 'string' },
      help: { type: 'boolean' },
    },
    strict: true,
  });
  if (values.help) return 'help';
  const port = integer('--port', values.port ?? env.ELOHIM_PORT ?? '8080', 0, 65535);
  const logLevel = values['log-level'] ?? env.ELOHIM_LOG_LEVEL ?? 'info';
  if (logLevel !== 'silent' && logLevel !== 'info' && logLevel !== 'debug') {
    throw new ConfigError(`--log-level must be silent, info or debug, got "${logLevel}"`);
  }
  const host = values.host ?? env.ELOHIM_HOST ?? '127.0.0.1';

  const p2pHost = values['p2p-host'] ?? env.ELOHIM_P2P_HOST ?? (isIP(host) ? host : '127.0.0.1');
  if (!isIP(p2pHost)) {
    throw new ConfigError(`--p2p-host must be an IPv4 or IPv6 address, got "${p2pHost}"`);
  }
  // A doorway on a free HTTP port (tests, several doorways side by side) takes a free p2p port too.
  const p2pPort = integer(
    '--p2p-port',
    values['p2p-port'] ?? env.ELOHIM_P2P_PORT ?? (port === 0 ? '0' : '8081'),
    0,
    65535,
  );
  const announceText = values['p2p-announce'] ?? env.ELOHIM_P2P_ANNOUNCE ?? '';
  const p2pAnnounce = announceText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  for (const addr of p2pAnnounce) {
    if (!addr.startsWith('/')) {
      throw new ConfigError(
        `--p2p-announce takes multiaddrs such as /dns4/host/tcp/443/wss, got "${addr}"`,
      );
    }
  }
  const p2pTcpPort = integer(
    '--p2p-tcp-port',
    values['p2p-tcp-port'] ?? env.ELOHIM_P2P_TCP_PORT ?? (port === 0 ? '0' : '8082'),
    0,
    65535,
  );
  let peers: PeerEntry[];
  try {
    peers = parsePeerList(values.peers ?? env.ELOHIM_PEERS ?? '');
  } catch (error) {
    if (error instanceof PeerListError) throw new ConfigError(error.message);
    throw error;
  }
  let rustStorage: { endpoint: string; multiaddr: string }[];
  try {
    rustStorage = parseRustStorage(values['rust-storage'] ?? env.ELOHIM_RUST_STORAGE ?? '');
  } catch (error) {
    throw new ConfigError((error as Error).message);
  }
  const dataDir = values['data-dir'] ?? env.ELOHIM_DATA_DIR ?? '.doorway';
  if (dataDir.trim() === '') throw new ConfigError('--data-dir must not be empty');
  const storeDir = values['store-dir'] ?? env.ELOHIM_STORE_DIR ?? join(dataDir, 'store');
  if (storeDir.trim() === '') throw new ConfigError('--store-dir must not be empty');
  const hcConductor = values['hc-conductor'] ?? env.ELOHIM_HC_CONDUCTOR ?? '';
  if (hcConductor !== '' && !isWsUrl(hcConductor)) {
    throw new ConfigError(
      `--hc-conductor takes the conductor's app interface as ws://host:port or wss://…, got "${hcConductor}"`,
    );
  }
  const hcAdmin = values['hc-admin'] ?? env.ELOHIM_HC_ADMIN ?? '';
  if (hcAdmin !== '' && (!isWsUrl(hcAdmin) || hcConductor === '')) {
    throw new ConfigError(
      `--hc-admin takes the conductor's admin interface as ws://host:port or wss://…, together with --hc-conductor, got "${hcAdmin}"`,
    );
  }
  // Dev tokens let anyone with a key in; on by default only where only this machine can ask.
  const loopback = ['127.0.0.1', '::1', 'localhost'].includes(host);
  const devTokens =
    values['hc-dev-tokens'] ?? env.ELOHIM_HC_DEV_TOKENS ?? (loopback ? 'on' : 'off');
  if (devTokens !== 'on' && devTokens !== 'off') {
    throw new ConfigError(`--hc-dev-tokens must be on or off, got "${devTokens}"`);
  }
  const dhtPrivate =
    values['dht-private-addrs'] ?? env.ELOHIM_DHT_PRIVATE_ADDRS ?? (loopback ? 'on' : 'off');
  if (dhtPrivate !== 'on' && dhtPrivate !== 'off') {
    throw new ConfigError(`--dht-private-addrs must be on or off, got "${dhtPrivate}"`);
  }
  const rustBootstrap = values['test-rust-bootstrap']
    ? 'on'
    : (env.ELOHIM_TEST_RUST_BOOTSTRAP ?? 'off');
  if (rustBootstrap !== 'on' && rustBootstrap !== 'off') {
    throw new ConfigError(`ELOHIM_TEST_RUST_BOOTSTRAP must be on or off, got "${rustBootstrap}"`);
  }
  const trustLoopback = values['p2p-trust-loopback']
    ? 'on'
    : (env.ELOHIM_P2P_TRUST_LOOPBACK ?? 'off');
  if (trustLoopback !== 'on' && trustLoopback !== 'off') {
    throw new ConfigError(`ELOHIM_P2P_TRUST_LOOPBACK must be on or off, got "${trustLoopback}"`);
  }
  const turnSecret = values['turn-secret'] ?? env.ELOHIM_TURN_SECRET ?? '';
  let iceServers: IceServer[];
  try {
    iceServers = parseIceServers(
      values['ice-servers'] ?? (env.ELOHIM_ICE_SERVERS ? [env.ELOHIM_ICE_SERVERS] : []),
      { turnSecret: turnSecret !== '' },
    );
  } catch (error) {
    throw new ConfigError(`--ice-servers: ${(error as Error).message}`);
  }
  if (turnSecret !== '' && !iceServers.some((s) => s.urls.some((u) => u.startsWith('turn')))) {
    throw new ConfigError(
      '--turn-secret needs a TURN server without credentials in --ice-servers (turn:host:3478)',
    );
  }
  const turnTtl = integer(
    '--turn-ttl',
    values['turn-ttl'] ?? env.ELOHIM_TURN_TTL ?? String(DEFAULT_TURN_TTL_S),
    60,
    7 * 86_400,
  );
  const count = (flag: string, text: string | undefined, fallback: number, max: number) =>
    integer(flag, text ?? String(fallback), 1, max);

  return {
    host,
    port,
    staticDir: values.static ?? env.ELOHIM_STATIC_DIR ?? 'dist',
    logLevel,
    p2pHost,
    p2pPort,
    p2pAnnounce,
    p2pTcpPort,
    peers,
    ...(rustStorage.length > 0 ? { rustStorage } : {}),
    dhtPrivateAddrs: dhtPrivate === 'on',
    dataDir,
    relayDataLimit: limit(
      '--relay-data-limit',
      values['relay-data-limit'] ?? env.ELOHIM_RELAY_DATA_LIMIT ?? String(DEFAULT_RELAY_DATA_LIMIT),
      MIN_RELAY_DATA_LIMIT,
      Number.MAX_SAFE_INTEGER,
    ),
    relayDurationLimit: limit(
      '--relay-duration-limit',
      values['relay-duration-limit'] ??
        env.ELOHIM_RELAY_DURATION_LIMIT ??
        String(DEFAULT_RELAY_DURATION_LIMIT),
      MIN_RELAY_DURATION_LIMIT,
      // libp2p's relay keeps the duration in ms in a uint32 and in a setTimeout (< 2^31 ms).
      2_000_000,
    ),
    relayMaxReservations: integer(
      '--relay-max-reservations',
      values['relay-max-reservations'] ??
        env.ELOHIM_RELAY_MAX_RESERVATIONS ??
        String(DEFAULT_RELAY_MAX_RESERVATIONS),
      1,
      100_000,
    ),
    p2pMaxConnections: count(
      '--p2p-max-connections',
      values['p2p-max-connections'] ?? env.ELOHIM_P2P_MAX_CONNECTIONS,
      DEFAULT_P2P_MAX_CONNECTIONS,
      100_000,
    ),
    p2pInboundRate: count(
      '--p2p-inbound-rate',
      values['p2p-inbound-rate'] ?? env.ELOHIM_P2P_INBOUND_RATE,
      DEFAULT_P2P_INBOUND_RATE,
      100_000,
    ),
    p2pMaxPending: count(
      '--p2p-max-pending',
      values['p2p-max-pending'] ?? env.ELOHIM_P2P_MAX_PENDING,
      DEFAULT_P2P_MAX_PENDING,
      100_000,
    ),
    p2pTrustLoopback: trustLoopback === 'on',
    httpRequestTimeoutMs:
      count(
        '--http-request-timeout',
        values['http-request-timeout'] ?? env.ELOHIM_HTTP_REQUEST_TIMEOUT,
        DEFAULT_HTTP_REQUEST_TIMEOUT_S,
        3_600,
      ) * 1000,
    hcConductor: hcConductor === '' ? undefined : hcConductor,
    hcAdmin: hcAdmin === '' ? undefined : hcAdmin,
    hcDevTokens: devTokens === 'on',
    ...(iceServers.length > 0 ? { iceServers } : {}),
    ...(turnSecret !== '' ? { turn: { secret: turnSecret, ttlSeconds: turnTtl } } : {}),
    ...(rustBootstrap === 'on' ? { rustBootstrapOnly: true } : {}),
    storeDir,
    storeQuota: integer(
      '--store-quota',
      values['store-quota'] ?? env.ELOHIM_STORE_QUOTA ?? String(DEFAULT_STORE_QUOTA),
      0,
      Number.MAX_SAFE_INTEGER,
    ),
    cacheQuota: integer(
      '--cache-quota',
      values['cache-quota'] ?? env.ELOHIM_CACHE_QUOTA ?? String(DEFAULT_CACHE_QUOTA),
      0,
      Number.MAX_SAFE_INTEGER,
    ),
    storePerClient: integer(
      '--store-per-client',
      values['store-per-client'] ?? env.ELOHIM_STORE_PER_CLIENT ?? String(DEFAULT_STORE_PER_CLIENT),
      0,
      1_000_000,
    ),
  };
}

export { HELP };
