/**
 * The browser's libp2p node: WebSockets to the doorway, a circuit-relay reservation on it, and
 * direct WebRTC connections to the other peers it lists. It serves the local store over the
 * shard protocols, takes the copies other peers offer (`/elohim/replicate/1.0.0`), and keeps a
 * live picture of its connections for the UI.
 */
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2';
import { identify, identifyPush } from '@libp2p/identify';
import type { Connection, Libp2p, PrivateKey } from '@libp2p/interface';
import { ping } from '@libp2p/ping';
import { isPrivate } from '@libp2p/utils';
import { webRTC } from '@libp2p/webrtc';
import { webSockets } from '@libp2p/websockets';
import { type Multiaddr, multiaddr } from '@multiformats/multiaddr';
import { TCP, WebRTC, WebSockets } from '@multiformats/multiaddr-matcher';
import { createLibp2p, type Libp2pOptions } from 'libp2p';
import type { ContentStore } from '../content/index.ts';
import { errorMessage, TypedEventEmitter, withTimeout } from '../wire/index.ts';
import { fetchDoorwayInfo, fetchSignalPeers } from './doorway-client.ts';
import {
  type ReplicateServer,
  type ReplicateServerOptions,
  replicateServer,
} from './replicate/index.ts';
import { type ShardServerOptions, shardServer } from './shard/index.ts';
import { sleep } from './sleep.ts';

export interface PeerNodeOptions {
  /** HTTP origins of the doorways to use, e.g. `http://127.0.0.1:8080`. */
  doorways: string[];
  store: ContentStore;
  /** This peer's identity (src/identity): its PeerId. */
  privateKey: PrivateKey;
  /** How often to ask the doorways who else is online. Default 3 s. */
  discoveryIntervalMs?: number;
  /**
   * Dial every peer the doorways list (default). Off, peers are dialled only when a fetch
   * needs them (the trust layer says who holds what), and those who dial us are accepted.
   */
  dialListedPeers?: boolean;
  /** Transports and listen addresses. Default {@link browserNetwork}. */
  network?: NetworkProfile;
  /** Passed to the shard server (delivery gate, caps). */
  shard?: ShardServerOptions;
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
}

/** How a node reaches others: what differs between a browser tab and a Node process. */
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

/** A browser's: WebSockets to the doorways, a relay reservation, WebRTC to peers. */
export function browserNetwork(): NetworkProfile {
  return {
    transports: [
      webSockets(),
      // 16 MiB of buffered data broke streams here; 2–8 MiB worked (docs/design.md §9).
      webRTC({ dataChannel: { maxBufferedAmount: 4 * 1024 * 1024 } }),
      circuitRelayTransport(),
    ],
    listen: ['/p2p-circuit', '/webrtc'],
    dialPrivate: false,
  };
}

/**
 * A connection is direct when it carries no relay limits and goes browser to browser (WebRTC)
 * or process to process (TCP), not through a doorway's relay (docs/design.md §9).
 */
export function isDirect(connection: Connection): boolean {
  const address = connection.remoteAddr;
  return connection.limits == null && (WebRTC.matches(address) || TCP.matches(address));
}

/** The transport part of a doorway address (`/ip4/…/tcp/…/ws`), which relayed addresses start with. */
function transportPrefix(address: string): string {
  const at = address.indexOf('/p2p/');
  return at === -1 ? address : address.slice(0, at);
}

/** `change`: the snapshot may differ (one event per burst of libp2p events). */
export interface PeerNodeEvents {
  change: CustomEvent<void>;
}

const DIAL_TIMEOUT_MS = 10_000;
const DIAL_ATTEMPTS = 3;
const MAX_BACKOFF_MS = 30_000;

export class PeerNode extends TypedEventEmitter<PeerNodeEvents> {
  readonly #doorways = new Map<string, DoorwayState>();
  readonly #doorwayPeers = new Set<string>();
  /** Transport prefixes of configured doorways: the only private/`ws://` addresses we dial. */
  readonly #allowedPrefixes = new Set<string>();
  readonly #dialing = new Set<string>();
  readonly #stop = new AbortController();
  readonly #discovered = Promise.withResolvers<void>();
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
  ) {
    super();
    this.#allowedPrefixes = allowedPrefixes;
    this.#mode = mode;
    for (const origin of options.doorways) {
      this.#doorways.set(origin, { origin, status: 'connecting' });
    }
  }

  static async start(options: PeerNodeOptions): Promise<PeerNode> {
    const network = options.network ?? browserNetwork();
    const allowedPrefixes = new Set<string>();
    const mode = { offline: false };
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
        shard: shardServer({ ...options.shard, store: options.store }),
        replicate: replicateServer({ ...options.replicate, store: options.store }),
      },
    });
    const node = new PeerNode(libp2p, options, allowedPrefixes, mode);
    node.#replicas = libp2p.services.replicate;
    for (const event of ['connection:open', 'connection:close', 'self:peer:update'] as const) {
      libp2p.addEventListener(event, () => node.#changed());
    }
    for (const origin of options.doorways) void node.#keepDoorway(origin);
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
    };
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
    return this.snapshot()
      .peers.filter((p) => p.direct && !p.doorway)
      .map((p) => p.peerId);
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
    this.#changed();
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
        const closed = this.#whenDisconnected(info.peer_id);
        await this.libp2p.dial(
          info.multiaddrs.map((a) => multiaddr(a)),
          { signal: withTimeout(stop, DIAL_TIMEOUT_MS) },
        );
        this.#setDoorway(origin, { status: 'connected', peerId: info.peer_id });
        backoff = 1_000;
        void this.#discoverVia(origin).then(() => this.#discovered.resolve());
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

  #whenDisconnected(peerId: string): Promise<void> {
    return new Promise((resolve) => {
      const onDisconnect = (event: CustomEvent) => {
        if (String(event.detail) !== peerId) return;
        this.libp2p.removeEventListener('peer:disconnect', onDisconnect);
        resolve();
      };
      this.libp2p.addEventListener('peer:disconnect', onDisconnect);
      this.#stop.signal.addEventListener('abort', () => resolve(), { once: true });
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

  async #discoverVia(origin: string): Promise<void> {
    if (this.options.dialListedPeers === false) return;
    let peers: Awaited<ReturnType<typeof fetchSignalPeers>>;
    try {
      peers = await fetchSignalPeers(origin, this.peerId, this.#stop.signal);
    } catch {
      return; // the doorway loop reports doorway trouble
    }
    const connected = new Set(this.directPeers());
    await Promise.all(
      peers
        .filter((peer) => !connected.has(peer.peer_id) && !this.#doorwayPeers.has(peer.peer_id))
        .map((peer) => this.#dialDirect(peer.peer_id, peer.multiaddrs)),
    );
  }

  /** Dials a peer's WebRTC address (signalled through the relay), retrying: ~1 dial in 20 times out. */
  async #dialDirect(peerId: string, addresses: string[]): Promise<void> {
    const webrtc = addresses.map((a) => multiaddr(a)).filter((ma) => WebRTC.matches(ma));
    if (webrtc.length === 0 || this.#dialing.has(peerId)) return;
    this.#dialing.add(peerId);
    try {
      for (let attempt = 1; attempt <= DIAL_ATTEMPTS && !this.#stop.signal.aborted; attempt++) {
        try {
          await this.libp2p.dial(webrtc, {
            signal: withTimeout(this.#stop.signal, DIAL_TIMEOUT_MS),
          });
          return;
        } catch {
          // The next discovery round tries again after the last attempt.
        }
      }
    } finally {
      this.#dialing.delete(peerId);
    }
  }
}
