/**
 * Doorways finding each other. The configured ones (`--peers`) are dialled and redialled with
 * backoff; every peer that identifies with the DHT protocol is a doorway (browsers do not speak
 * it), and the DHT's own routing-table upkeep (its self-lookups, which dial the closest
 * doorways it hears of) is the peer exchange. What the doorway keeps is provided in the DHT.
 */
import type { Libp2p, PeerId, PrivateKey } from '@libp2p/interface';
import type { KadDHT } from '@libp2p/kad-dht';
import { peerIdFromString } from '@libp2p/peer-id';
import { multiaddr } from '@multiformats/multiaddr';
import type { ContentStore } from '../../src/content/node.ts';
import { DHT_PROTOCOL, fetchManifest } from '../../src/net/index.ts';
import { errorMessage, listen, sleep, withTimeout } from '../../src/wire/index.ts';
import { checkServable } from '../bridge/index.ts';
import type { Logger } from '../log.ts';
import { DoorwayDirectory, type DoorwaySource, type KnownDoorway } from './directory.ts';
import { DoorwayInfoError } from './errors.ts';
import { type HoldingsEvents, HoldingsRegistry } from './holdings.ts';
import { HoldingsServer } from './holdings-server.ts';
import type { PeerEntry } from './peer-list.ts';
import { ContentProvider } from './provide.ts';
import { TrustDirectory } from './trust.ts';

export interface FederationInit {
  node: Libp2p<{ dht: KadDHT }>;
  /** What the doorway keeps: provided in the DHT. */
  store: ContentStore;
  peers: readonly PeerEntry[];
  /** The doorway's key: its agent registers the doorway in the trust layer. */
  key: PrivateKey;
  log: Logger;
  /** Known doorways at most. Default 256. */
  maxDoorways?: number;
  /** Per dial and per `/api/v1/p2p/info`. Default 10 s. */
  dialTimeoutMs?: number;
  /** Longest wait between two dials of a configured doorway. Default 60 s. */
  maxBackoffMs?: number;
  /** What the attached browsers hold (they say so over the holdings protocol). Default: a new one. */
  holdings?: HoldingsRegistry;
}

/** A doorway's `/api/v1/p2p/info` is a few hundred bytes; more is not a doorway's. */
const MAX_INFO_BYTES = 64 * 1024;
const MAX_INFO_ADDRS = 32;

/** Reads `url`'s `/api/v1/p2p/info`: its PeerId and addresses, within size and time limits. */
export async function resolveDoorwayUrl(
  url: string,
  signal: AbortSignal,
): Promise<{ peerId: string; multiaddrs: string[] }> {
  let text: string;
  try {
    const response = await fetch(new URL('/api/v1/p2p/info', url), { signal });
    if (!response.ok) throw new DoorwayInfoError(url, `HTTP ${response.status}`);
    const length = Number(response.headers.get('content-length') ?? 0);
    if (length > MAX_INFO_BYTES) throw new DoorwayInfoError(url, `${length} bytes of info`);
    const bytes = new Uint8Array(await response.arrayBuffer());
    if (bytes.byteLength > MAX_INFO_BYTES) throw new DoorwayInfoError(url, 'too much info');
    text = new TextDecoder().decode(bytes);
  } catch (error) {
    if (error instanceof DoorwayInfoError || signal.aborted) throw error;
    throw new DoorwayInfoError(url, errorMessage(error));
  }
  const info = JSON.parse(text) as { peer_id?: unknown; multiaddrs?: unknown };
  const addrs = Array.isArray(info.multiaddrs) ? info.multiaddrs : [];
  if (typeof info.peer_id !== 'string' || !addrs.every((a) => typeof a === 'string')) {
    throw new DoorwayInfoError(url, 'no peer_id and multiaddrs');
  }
  return { peerId: info.peer_id, multiaddrs: (addrs as string[]).slice(0, MAX_INFO_ADDRS) };
}

export class Federation {
  readonly directory: DoorwayDirectory;
  readonly provider: ContentProvider;
  /** What the attached browsers hold: provided in the DHT as this doorway's. */
  readonly holdings: HoldingsRegistry;
  readonly #holdingsServer: HoldingsServer;
  readonly #stop = new AbortController();
  readonly #init: FederationInit;
  readonly #timeoutMs: number;
  #trust: TrustDirectory | undefined;

  constructor(init: FederationInit) {
    this.#init = init;
    this.#timeoutMs = init.dialTimeoutMs ?? 10_000;
    this.directory = new DoorwayDirectory(init.node.peerId.toString(), init.maxDoorways);
    this.holdings = init.holdings ?? new HoldingsRegistry();
    this.provider = new ContentProvider(init.node.services.dht, init.store, init.log, {
      heldElsewhere: (hash) => this.holdings.has(hash),
      mayProvide: (hash, signal) => this.#mayProvide(hash, signal),
    });
    this.#holdingsServer = new HoldingsServer({
      node: init.node,
      registry: this.holdings,
      isDoorway: (peer) => this.isDoorway(peer),
      log: init.log,
    });
  }

  /**
   * Whether this doorway may answer for `hash`: its keeper holds it, or a browser that said it
   * holds it shows a manifest the bridge would serve (commons, not sealed). A browser cannot
   * make this doorway provide a private item by naming it.
   */
  async #mayProvide(hash: string, signal: AbortSignal): Promise<boolean> {
    const { store, node } = this.#init;
    if ((await store.has(hash)) || (await store.holding(hash))) return true;
    // Two holders at most: a hash named by liars only costs two small requests.
    for (const holder of this.holdings.holders(hash).slice(0, 2)) {
      try {
        checkServable(await fetchManifest(node, peerIdFromString(holder), hash, { signal }));
        return true;
      } catch (error) {
        if (signal.aborted) throw error;
      }
    }
    return false;
  }

  /** A peer that speaks the DHT (or is listed as a doorway) is a doorway, not a browser. */
  async isDoorway(peer: string): Promise<boolean> {
    if (this.directory.get(peer)) return true;
    const { node } = this.#init;
    const connection = node.getConnections().find((c) => c.remotePeer.toString() === peer);
    if (!connection) return false;
    const known = await node.peerStore.get(connection.remotePeer).catch(() => undefined);
    return known?.protocols.includes(DHT_PROTOCOL) ?? false;
  }

  /** Starts listening, providing and dialling the configured doorways (in the background). */
  async start(): Promise<void> {
    const { node } = this.#init;
    const signal = this.#stop.signal;
    node.addEventListener(
      'peer:identify',
      ({ detail }) => {
        if (!detail.protocols.includes(DHT_PROTOCOL)) return;
        // A doorway that spoke as a browser before identify ended: it provides for itself.
        this.holdings.forget(detail.peerId.toString());
        const known = this.directory.get(detail.peerId.toString());
        const added = this.directory.update(detail.peerId.toString(), {
          multiaddrs: detail.listenAddrs.map(String),
          source: 'dht',
          reachable: true,
        });
        if (added && !known) {
          this.#init.log.info(`federation: doorway ${detail.peerId} joined`);
          // A new DHT server: records no one else took may find a place now.
          this.provider.retry();
        }
      },
      { signal },
    );
    node.addEventListener(
      'peer:disconnect',
      ({ detail }) => {
        this.directory.disconnected(detail.toString());
        // A browser that went away no longer holds anything here.
        this.holdings.forget(detail.toString());
        this.#holdingsServer.forget(detail.toString());
      },
      { signal },
    );
    const unlisten = listen<HoldingsEvents['change']['detail']>(this.holdings, 'change', (d) => {
      if (d.held) this.provider.add(d.hash);
      else void this.provider.withdraw(d.hash).catch(() => {});
    });
    signal.addEventListener('abort', unlisten, { once: true });
    await this.provider.start();
    await this.#holdingsServer.start();
    for (const entry of this.#init.peers) void this.#keepLinked(entry);
  }

  /** Known doorways, reachable ones first, at most `limit`. */
  doorways(limit?: number): KnownDoorway[] {
    return this.directory.list(limit);
  }

  /** Learns of a doorway elsewhere (the trust layer); it is dialled once, then left to the DHT. */
  async learn(
    peerId: string,
    multiaddrs: readonly string[],
    source: DoorwaySource,
    url?: string,
  ): Promise<void> {
    const { node } = this.#init;
    if (this.#stop.signal.aborted || peerId === node.peerId.toString()) return;
    const fresh = !this.directory.get(peerId);
    if (!this.directory.update(peerId, { multiaddrs, source, ...(url ? { url } : {}) })) return;
    if (fresh && node.getConnections().every((c) => c.remotePeer.toString() !== peerId)) {
      await this.#dial(peerId, multiaddrs).catch(() => {});
    }
  }

  /**
   * Registers this doorway (reachable at `url`) in the trust layer `origin`'s `/hc` routes reach,
   * and learns of the doorways registered there, now and every `intervalMs`.
   */
  joinTrustLayer(origin: string, url: string, intervalMs?: number): TrustDirectory {
    if (this.#trust) throw new Error('This doorway already uses a trust layer.');
    const { node, key, log } = this.#init;
    this.#trust = new TrustDirectory({
      origin,
      key,
      log,
      ...(intervalMs === undefined ? {} : { intervalMs }),
      self: () => ({
        peerId: node.peerId.toString(),
        url,
        multiaddrs: node.getMultiaddrs().map(String),
        dht: DHT_PROTOCOL,
      }),
      learn: (peerId, multiaddrs, from) => void this.learn(peerId, multiaddrs, 'trust', from),
    });
    if (!this.#stop.signal.aborted) this.#trust.start();
    return this.#trust;
  }

  async stop(): Promise<void> {
    this.#stop.abort();
    await this.#holdingsServer.stop();
    this.holdings.clear();
    this.provider.stop();
    await this.#trust?.stop();
  }

  async #dial(peerId: string, multiaddrs: readonly string[]): Promise<PeerId> {
    const { node } = this.#init;
    const signal = withTimeout(this.#stop.signal, this.#timeoutMs);
    try {
      // TCP first (the doorways' own transport), then the WebSocket addresses browsers use.
      const ordered = [...multiaddrs].sort(
        (a, b) => Number(a.includes('/ws')) - Number(b.includes('/ws')),
      );
      const connection = await node.dial(
        ordered.map((a) => multiaddr(a)),
        { signal },
      );
      if (connection.remotePeer.toString() !== peerId) {
        await connection.close();
        throw new Error(`it answered as ${connection.remotePeer}, not ${peerId}`);
      }
      this.directory.update(peerId, { reachable: true });
      return connection.remotePeer;
    } catch (error) {
      this.directory.update(peerId, { reachable: false, lastError: errorMessage(error) });
      throw error;
    }
  }

  /** Keeps one configured doorway linked: resolve, dial, wait until the link drops, again. */
  async #keepLinked(entry: PeerEntry): Promise<void> {
    const { log, node } = this.#init;
    const stop = this.#stop.signal;
    const maxBackoff = this.#init.maxBackoffMs ?? 60_000;
    let backoff = 1_000;
    const name = entry.kind === 'url' ? entry.url : entry.addr;
    while (!stop.aborted) {
      try {
        const target =
          entry.kind === 'url'
            ? await resolveDoorwayUrl(entry.url, withTimeout(stop, this.#timeoutMs))
            : { peerId: entry.peerId, multiaddrs: [entry.addr] };
        this.directory.update(target.peerId, {
          source: 'config',
          multiaddrs: target.multiaddrs,
          ...(entry.kind === 'url' ? { url: entry.url } : {}),
        });
        if (!node.getConnections().some((c) => c.remotePeer.toString() === target.peerId)) {
          await this.#dial(target.peerId, target.multiaddrs);
          log.info(`federation: linked with ${name}`);
        }
        backoff = 1_000;
        await this.#whenDisconnected(target.peerId);
      } catch (error) {
        if (stop.aborted) return;
        log.debug(`federation: ${name} unreachable: ${errorMessage(error)}`);
      }
      await sleep(backoff, stop);
      backoff = Math.min(backoff * 2, maxBackoff);
    }
  }

  #whenDisconnected(peerId: string): Promise<void> {
    const { node } = this.#init;
    return new Promise((resolve) => {
      const done = new AbortController();
      const finish = () => {
        done.abort();
        resolve();
      };
      node.addEventListener(
        'peer:disconnect',
        ({ detail }) => {
          if (detail.toString() === peerId) finish();
        },
        { signal: done.signal },
      );
      this.#stop.signal.addEventListener('abort', finish, { signal: done.signal });
      if (!node.getConnections().some((c) => c.remotePeer.toString() === peerId)) finish();
    });
  }
}
