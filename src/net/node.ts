/**
 * The browser's libp2p node: WebSockets to its doorways, a circuit-relay reservation, and direct
 * WebRTC connections to a bounded number of the peers they list (bounded-dialer.ts), holders
 * dialled on demand. One doorway is in use (doorway-list.ts); when it stops answering the node
 * moves to the next and says so (`doorway` event, `snapshot().lastSwitch`). It serves the local
 * store over the shard protocols, takes the copies other peers offer
 * (`/elohim/replicate/1.0.0`), and keeps a live picture of its connections for the UI.
 */
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { identify, identifyPush } from '@libp2p/identify';
import type { Connection, Libp2p, PeerId, PrivateKey } from '@libp2p/interface';
import { ping } from '@libp2p/ping';
import { isPrivate } from '@libp2p/utils';
import { type Multiaddr, multiaddr } from '@multiformats/multiaddr';
import { WebRTC, WebSockets } from '@multiformats/multiaddr-matcher';
import { createLibp2p } from 'libp2p';
import type { ContentStore } from '../content/index.ts';
import {
  type AbortOptions,
  errorMessage,
  logger,
  sleep,
  TypedEventEmitter,
  withTimeout,
} from '../wire/index.ts';
import { BoundedDialer, DIAL_TIMEOUT_MS } from './bounded-dialer.ts';
import { fetchDoorwayInfo, fetchFederatedDoorways, fetchSignalPeers } from './doorway-client.ts';
import { DoorwayList, type DoorwaySwitch } from './doorway-list.ts';
import {
  browserNetwork,
  DEFAULT_MAX_PEERS,
  IceServers,
  isDirect,
  type NetworkProfile,
  turnExpiry,
} from './network.ts';
import {
  type ReplicateServer,
  type ReplicateServerOptions,
  replicateServer,
} from './replicate/index.ts';
import { type ShardServerOptions, shardServer } from './shard/index.ts';
import { UploadTracker } from './uploads.ts';

export interface PeerNodeOptions {
  /** HTTP origins of the doorways to use, e.g. `http://127.0.0.1:8080`. */
  doorways: string[];
  store: ContentStore;
  /** This peer's identity (src/identity): its PeerId. */
  privateKey: PrivateKey;
  /** How often to ask the doorways who else is online. Default 3 s. */
  discoveryIntervalMs?: number;
  /**
   * TURN credentials are asked for again when three quarters of their remaining validity has
   * passed, but not sooner than this. Default 30 s.
   */
  iceRefreshMinMs?: number;
  /**
   * Dial the peers the doorways list, up to `maxPeers` (default). Off, peers are dialled only
   * when a fetch needs them (the trust layer says who holds what), and those who dial us are
   * accepted.
   */
  dialListedPeers?: boolean;
  /** Transports and listen addresses. Default {@link browserNetwork}. */
  network?: NetworkProfile;
  /**
   * Direct peers besides doorways dialled from the doorways' lists, and kept when a holder is
   * dialled on demand (the oldest idle one makes room). Default {@link DEFAULT_MAX_PEERS}.
   */
  maxPeers?: number;
  /**
   * Ask each doorway for the others it knows (`/api/v1/federation/doorways`), to fall back to
   * when no configured one answers. Default true.
   */
  learnDoorways?: boolean;
  /** Passed to the shard server (delivery gate, caps); `store`: what it serves, default `store`. */
  shard?: ShardServerOptions & { store?: ContentStore };
  /**
   * Passed to the replicate server, which takes copies other peers offer (what it holds:
   * `policy`; default commons only, up to 1 GiB).
   */
  replicate?: ReplicateServerOptions;
}

export interface DoorwayState {
  origin: string;
  status: 'connecting' | 'connected' | 'offline';
  peerId?: string;
  /** Why the last attempt failed, in words for people. */
  error?: string;
  /** When the next attempt starts (ms since epoch), while offline. */
  retryAt?: number;
}

export interface PeerConnectionInfo {
  peerId: string;
  /** A WebRTC connection without relay limits: bytes flow browser to browser. */
  direct: boolean;
  remoteAddr: string;
  doorway: boolean;
}

export interface NodeSnapshot {
  peerId: string;
  doorways: DoorwayState[];
  peers: PeerConnectionInfo[];
  /** Where other browsers can reach us (…/p2p-circuit/webrtc/p2p/<us>), once reserved. */
  webrtcAddrs: string[];
  /**
   * What this peer tells the trust layer others may dial: its WebRTC addresses in a browser,
   * every address it listens on (or announces) in Node.
   */
  dialAddrs: string[];
  /** The person chose to work offline: no connection in or out until they go back online. */
  workingOffline: boolean;
  /** The doorway in use (trust layer, relay, HTTP fallback), once one answered. */
  doorwayInUse?: string;
  /** The last change of the doorway in use, and why. */
  lastSwitch?: DoorwaySwitch;
}

/** The transport part of a doorway address (`/ip4/…/tcp/…/ws`), which relayed addresses start with. */
function transportPrefix(address: string): string {
  const at = address.indexOf('/p2p/');
  return at === -1 ? address : address.slice(0, at);
}

/**
 * `change`: the snapshot may differ (one event per burst of libp2p events). `doorway`: another
 * doorway is in use now (the first one answering, or a switch away from one that stopped).
 */
export interface PeerNodeEvents {
  change: CustomEvent<void>;
  doorway: CustomEvent<{ origin: string; switched?: DoorwaySwitch }>;
}

const log = logger('net:node');
/** The peer-store tag that keeps doorway connections when libp2p prunes past maxConnections. */
const DOORWAY_TAG = 'elohim-doorway';

const MAX_BACKOFF_MS = 30_000;
const ICE_WAIT_MAX_MS = 24 * 60 * 60 * 1000;

export class PeerNode extends TypedEventEmitter<PeerNodeEvents> {
  readonly #doorways = new Map<string, DoorwayState>();
  readonly #doorwayPeers = new Set<string>();
  /** Transport prefixes of configured doorways: the only private/`ws://` addresses we dial. */
  readonly #allowedPrefixes = new Set<string>();
  readonly #list: DoorwayList;
  /** Doorways with a connect loop running: the configured ones, and learned ones once needed. */
  readonly #running = new Set<string>();
  /** What each doorway's info said its ICE servers are (IceServers checks them). */
  readonly #iceOf = new Map<string, unknown>();
  readonly #ice: IceServers;
  readonly #dialer: BoundedDialer;
  readonly #stop = new AbortController();
  readonly #discovered = Promise.withResolvers<void>();
  /** What the shard server is sending, to whom (uploads in progress). */
  readonly uploads = new UploadTracker({
    describe: (peer) => ({ direct: this.isDirectPeer(peer), doorway: this.isDoorway(peer) }),
  });
  #changeQueued = false;
  #replicas: ReplicateServer | undefined;

  /** Shared with the connection gater, which refuses everything while `offline`. */
  readonly #mode: { offline: boolean };
  #backOnline = Promise.withResolvers<void>();

  private constructor(
    readonly libp2p: Libp2p,
    private readonly options: PeerNodeOptions,
    allowedPrefixes: Set<string>,
    mode: { offline: boolean },
    ice: IceServers,
  ) {
    super();
    this.#allowedPrefixes = allowedPrefixes;
    this.#mode = mode;
    this.#ice = ice;
    this.#list = new DoorwayList(options.doorways);
    this.#dialer = new BoundedDialer(libp2p, {
      maxPeers: options.maxPeers ?? DEFAULT_MAX_PEERS,
      dialPrivate: options.network?.dialPrivate ?? false,
      isDoorway: (peerId) => this.#doorwayPeers.has(peerId),
      signal: this.#stop.signal,
    });
    for (const origin of options.doorways) {
      this.#doorways.set(origin, { origin, status: 'connecting' });
    }
  }

  static async start(options: PeerNodeOptions): Promise<PeerNode> {
    const ice = new IceServers();
    const network = options.network ?? browserNetwork(ice);
    const allowedPrefixes = new Set<string>();
    const mode = { offline: false };
    // The shard server is made before the node it reports uploads to.
    let made: PeerNode | undefined;
    const libp2p = await createLibp2p({
      privateKey: options.privateKey,
      addresses: {
        listen: network.listen,
        ...(network.announce?.length ? { announce: network.announce } : {}),
      },
      ...(network.connectionManager ? { connectionManager: network.connectionManager } : {}),
      transports: network.transports,
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      connectionGater: {
        // The browser default refuses ws:// and private addresses; a configured doorway on
        // loopback or a LAN (and peers reached through it) must stay dialable.
        denyDialMultiaddr: (ma: Multiaddr) => {
          if (mode.offline) return true;
          if (network.dialPrivate) return false;
          const text = ma.toString();
          for (const prefix of allowedPrefixes) if (text.startsWith(prefix)) return false;
          return WebSockets.matches(ma) || isPrivate(ma);
        },
        denyInboundConnection: () => mode.offline,
        denyInboundEncryptedConnection: () => mode.offline,
      },
      services: {
        ...network.services,
        identify: identify(),
        identifyPush: identifyPush(),
        ping: ping(),
        shard: shardServer({
          ...options.shard,
          store: options.shard?.store ?? options.store,
          onSent: (sent) => {
            options.shard?.onSent?.(sent);
            made?.uploads.record(sent);
          },
        }),
        replicate: replicateServer({ ...options.replicate, store: options.store }),
      },
    });
    const node = new PeerNode(libp2p, options, allowedPrefixes, mode, ice);
    made = node;
    node.#replicas = libp2p.services.replicate;
    for (const event of ['connection:open', 'connection:close', 'self:peer:update'] as const) {
      libp2p.addEventListener(event, () => node.#changed());
    }
    for (const origin of options.doorways) node.#run(origin);
    void node.#discover();
    return node;
  }

  get peerId(): string {
    return this.libp2p.peerId.toString();
  }

  snapshot(): NodeSnapshot {
    const webrtcAddrs = this.libp2p
      .getMultiaddrs()
      .filter((ma) => WebRTC.matches(ma))
      .map(String);
    const peers = new Map<string, PeerConnectionInfo>();
    for (const connection of this.libp2p.getConnections()) {
      const peerId = connection.remotePeer.toString();
      const direct = isDirect(connection);
      const known = peers.get(peerId);
      if (known && (known.direct || !direct)) continue;
      peers.set(peerId, {
        peerId,
        direct,
        remoteAddr: connection.remoteAddr.toString(),
        doorway: this.#doorwayPeers.has(peerId),
      });
    }
    return {
      peerId: this.peerId,
      doorways: [...this.#doorways.values()].map((d) => ({ ...d })),
      peers: [...peers.values()],
      webrtcAddrs,
      dialAddrs: this.options.network?.dialPrivate
        ? this.libp2p.getMultiaddrs().map(String)
        : webrtcAddrs,
      workingOffline: this.#mode.offline,
      ...(this.#list.inUse ? { doorwayInUse: this.#list.inUse } : {}),
      ...(this.#list.lastSwitch ? { lastSwitch: { ...this.#list.lastSwitch } } : {}),
    };
  }

  /** The doorway in use: where the trust layer, the relay and the HTTP fallback are. */
  doorwayInUse(): string | undefined {
    return this.#list.inUse;
  }

  /** The ICE servers the page's WebRTC connections use now (the doorway in use handed them out). */
  iceServers(): RTCIceServer[] {
    return this.#ice.servers;
  }

  /**
   * Dials a peer a fetch needs (a holder the trust layer named), within the bound: at
   * `maxPeers` direct peers the oldest idle one is closed first (BoundedDialer).
   */
  dial(target: PeerId | Multiaddr | Multiaddr[], options: AbortOptions = {}): Promise<Connection> {
    return this.#dialer.dial(target, options);
  }

  /**
   * Works offline (every connection closed, none made or accepted) or goes back online (the
   * doorways are dialled at once, then the peers they list). Edits made meanwhile sync then.
   */
  async setWorkOffline(offline: boolean): Promise<void> {
    if (this.#mode.offline === offline) return;
    this.#mode.offline = offline;
    if (offline) {
      await Promise.all(
        this.libp2p
          .getConnections()
          .map((c) => c.close().catch(() => c.abort(new Error('working offline')))),
      );
    } else {
      this.#backOnline.resolve();
      this.#backOnline = Promise.withResolvers<void>();
    }
    this.#changed();
  }

  /** Peers other than doorways with a direct connection now. */
  directPeers(): string[] {
    return this.#dialer.directPeers();
  }

  /**
   * The configured doorways with an open connection now (their PeerIds): over WebSockets,
   * without relay limits, so a whole item can be offered to one (the replicator keeps commons
   * items there) or fetched from one.
   */
  connectedDoorways(): string[] {
    const open = this.libp2p
      .getConnections()
      .filter((c) => c.status === 'open' && c.limits == null)
      .map((c) => c.remotePeer.toString())
      .filter((p) => this.#doorwayPeers.has(p));
    return [...new Set(open)];
  }

  isDirectPeer(peerId: string): boolean {
    return this.libp2p
      .getConnections()
      .some((c) => c.remotePeer.toString() === peerId && isDirect(c));
  }

  onPeerGone(listener: (peerId: string) => void, signal: AbortSignal): void {
    watchPeersGone(this.libp2p, listener, signal);
  }

  isDoorway(peerId: string): boolean {
    return this.#doorwayPeers.has(peerId);
  }

  /**
   * Resolves once a doorway has been reached and the peers it listed have been dialled (or
   * after `timeoutMs`): a fetch started then sees every holder online, not just the first.
   */
  async whenDiscovered(timeoutMs = 15_000): Promise<void> {
    await Promise.race([this.#discovered.promise, sleep(timeoutMs, this.#stop.signal)]);
  }

  /** Asks the doorways for peers now instead of at the next interval; resolves when dials end. */
  async discoverNow(): Promise<void> {
    await Promise.all(
      [...this.#doorways.values()]
        .filter((d) => d.status === 'connected')
        .map((d) => this.#discoverVia(d.origin)),
    );
  }

  async stop(): Promise<void> {
    this.#stop.abort();
    this.uploads.close();
    // Pulls in progress are aborted and their imports discarded before the connections go.
    await this.#replicas?.stop();
    await this.libp2p.stop();
  }

  #changed(): void {
    // Many libp2p events arrive in bursts; one 'change' per task is enough for a UI.
    if (this.#changeQueued) return;
    this.#changeQueued = true;
    queueMicrotask(() => {
      this.#changeQueued = false;
      this.safeDispatchEvent('change');
    });
  }

  #setDoorway(origin: string, patch: Partial<DoorwayState>): void {
    const previous = this.#doorways.get(origin) ?? { origin, status: 'connecting' };
    const next: DoorwayState = { ...previous, ...patch };
    if (patch.status === 'connected') {
      delete next.error;
      delete next.retryAt;
    }
    this.#doorways.set(origin, next);
    if (patch.status !== undefined) this.#decideDoorway();
    this.#changed();
  }

  /** Starts the connect loop of a doorway, once. */
  #run(origin: string): void {
    if (this.#running.has(origin)) return;
    this.#running.add(origin);
    void this.#keepDoorway(origin);
  }

  /**
   * After a doorway connected or went away: which one is in use now (DoorwayList), telling
   * listeners when it changed, and a learned doorway dialled when none answers.
   */
  #decideDoorway(): void {
    const connected = (origin: string) => this.#doorways.get(origin)?.status === 'connected';
    const before = this.#list.inUse;
    const switched = this.#list.update(connected);
    const now = this.#list.inUse;
    if (now !== undefined && now !== before) {
      this.#ice.set(this.#iceOf.get(now));
      if (switched) log('switched to %s: %s', switched.to, switched.reason);
      this.safeDispatchEvent('doorway', {
        detail: { origin: now, ...(switched ? { switched } : {}) },
      });
    }
    if (this.#mode.offline || this.#stop.signal.aborted) return;
    const standby = this.#list.nextStandby(this.#running, this.#list.origins.some(connected));
    if (standby) this.#run(standby);
  }

  /** Connects to one doorway and reconnects with exponential backoff whenever it goes away. */
  async #keepDoorway(origin: string): Promise<void> {
    const stop = this.#stop.signal;
    let backoff = 1_000;
    while (!stop.aborted) {
      if (this.#mode.offline) {
        this.#setDoorway(origin, { status: 'offline', error: 'Working offline.' });
        await Promise.race([this.#backOnline.promise, sleep(60_000, stop)]);
        backoff = 1_000;
        continue;
      }
      try {
        this.#setDoorway(origin, { status: 'connecting' });
        const info = await fetchDoorwayInfo(origin, withTimeout(stop, DIAL_TIMEOUT_MS));
        for (const address of info.multiaddrs) this.#allowedPrefixes.add(transportPrefix(address));
        this.#doorwayPeers.add(info.peer_id);
        this.#iceOf.set(origin, info.ice_servers);
        const closed = this.#whenDisconnected(info.peer_id);
        const connection = await this.libp2p.dial(
          info.multiaddrs.map((a) => multiaddr(a)),
          { signal: withTimeout(stop, DIAL_TIMEOUT_MS) },
        );
        // Pruning past maxConnections closes the least valued first: never a doorway.
        await this.libp2p.peerStore
          .merge(connection.remotePeer, { tags: { [DOORWAY_TAG]: { value: 100 } } })
          .catch(() => {});
        this.#setDoorway(origin, { status: 'connected', peerId: info.peer_id });
        backoff = 1_000;
        void this.#discoverVia(origin).then(() => this.#discovered.resolve());
        void this.#learnFrom(origin);
        void this.#keepIceFresh(origin, closed);
        await closed;
        if (stop.aborted) return;
        this.#setDoorway(origin, {
          status: 'offline',
          error: 'The doorway closed the connection.',
        });
      } catch (error) {
        if (stop.aborted) return;
        this.#setDoorway(origin, {
          status: 'offline',
          error: errorMessage(error),
        });
      }
      if (this.#mode.offline) continue;
      this.#setDoorway(origin, { retryAt: Date.now() + backoff });
      await Promise.race([sleep(backoff, stop), this.#backOnline.promise]);
      backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
    }
  }

  /**
   * While connected to `origin`, asks it for fresh TURN credentials before the ones it handed
   * out expire (`--turn-ttl`, a day by default): a page open longer would otherwise offer
   * expired ones to every new WebRTC connection, and a peer behind a symmetric NAT could no
   * longer be reached.
   */
  async #keepIceFresh(origin: string, closed: Promise<void>): Promise<void> {
    const gone = new AbortController();
    void closed.then(() => gone.abort());
    const signal = AbortSignal.any([this.#stop.signal, gone.signal]);
    const minWait = this.options.iceRefreshMinMs ?? 30_000;
    while (!signal.aborted) {
      const expires = turnExpiry(this.#iceOf.get(origin));
      if (expires === undefined) return;
      // At most a day at a time: a longer timer would overflow and fire at once.
      const wait = Math.max(minWait, 0.75 * (expires - Date.now()));
      await sleep(Math.min(wait, ICE_WAIT_MAX_MS), signal);
      if (signal.aborted) return;
      try {
        const info = await fetchDoorwayInfo(origin, withTimeout(signal, DIAL_TIMEOUT_MS));
        this.#iceOf.set(origin, info.ice_servers);
        if (this.#list.inUse === origin) this.#ice.set(info.ice_servers);
        log('fresh ICE servers from %s', origin);
      } catch (error) {
        log('no fresh ICE servers from %s: %s', origin, errorMessage(error));
      }
    }
  }

  /** The other doorways `origin` knows, kept to fall back to (a doorway without the route: none). */
  async #learnFrom(origin: string): Promise<void> {
    if (this.options.learnDoorways === false) return;
    try {
      const learned = this.#list.learn(
        await fetchFederatedDoorways(origin, withTimeout(this.#stop.signal, DIAL_TIMEOUT_MS)),
      );
      if (learned.length > 0) log('learned doorways from %s: %s', origin, learned.join(' '));
    } catch (error) {
      log('no doorway list from %s: %s', origin, errorMessage(error));
    }
  }

  #whenDisconnected(peerId: string): Promise<void> {
    return new Promise((resolve) => {
      // Both listeners go when either fires: a doorway reconnecting all day adds none for good.
      const gone = new AbortController();
      const done = () => gone.abort();
      gone.signal.addEventListener('abort', () => {
        this.#stop.signal.removeEventListener('abort', done);
        resolve();
      });
      this.#stop.signal.addEventListener('abort', done, { once: true });
      watchPeersGone(
        this.libp2p,
        (id) => {
          if (id === peerId) done();
        },
        gone.signal,
      );
    });
  }

  async #discover(): Promise<void> {
    const stop = this.#stop.signal;
    const interval = this.options.discoveryIntervalMs ?? 3_000;
    while (!stop.aborted) {
      await sleep(interval, stop);
      await this.discoverNow().catch(() => {});
    }
  }

  /** Dials peers `origin` lists, within the bound (the doorway answers a random sample). */
  async #discoverVia(origin: string): Promise<void> {
    if (this.options.dialListedPeers === false) return;
    try {
      await this.#dialer.dialListed(await fetchSignalPeers(origin, this.peerId, this.#stop.signal));
    } catch {
      // the doorway loop reports doorway trouble
    }
  }
}

/** Calls `listener` with each peer whose last connection to `libp2p` closed, until `signal` aborts. */
export function watchPeersGone(
  libp2p: Pick<Libp2p, 'addEventListener' | 'removeEventListener'>,
  listener: (peerId: string) => void,
  signal: AbortSignal,
): void {
  if (signal.aborted) return;
  const onDisconnect = (event: CustomEvent<PeerId>) => listener(event.detail.toString());
  libp2p.addEventListener('peer:disconnect', onDisconnect);
  signal.addEventListener(
    'abort',
    () => libp2p.removeEventListener('peer:disconnect', onDisconnect),
    { once: true },
  );
}
