/**
 * Content routing across doorways: who holds a hash, asked of libp2p's Kademlia DHT
 * (`@libp2p/kad-dht`) when the peers at hand have nothing. Only nodes made with a `dht`
 * service (doorways, in server mode among themselves) ask it; a browser's node has none and
 * reaches what the DHT knows through its doorway's `/store/{hash}` (docs/architecture.md,
 * "Many doorways").
 */
import type { Connection, PeerId, PeerInfo } from '@libp2p/interface';
import type { KadDHT, SingleKadDHT } from '@libp2p/kad-dht';
import { CID } from 'multiformats/cid';
import { cidOf } from '../content/index.ts';
import { logger } from '../wire/index.ts';
import { type HolderFinder, namesNew } from './fetch.ts';
import type { Libp2pDialLike } from './shard/index.ts';

const log = logger('dht');

/** The DHT protocol of this network: doorways speak only it, never IPFS's `/ipfs/kad/1.0.0`. */
export const DHT_PROTOCOL = '/elohim/kad/1.0.0';
/** The CIDv1 (raw, sha2-256) the DHT keys a content hash under; only its multihash counts there. */
export function contentCid(hash: string): CID {
  return CID.parse(cidOf(hash));
}

/** What the finder needs of a node: its id, dialling, and (on doorways) the DHT. */
export interface DhtNode extends Libp2pDialLike {
  peerId: PeerId;
  services: object;
}

/** The node's DHT, when it was made with one (`services.dht`). */
export function dhtOf(node: DhtNode): KadDHT | undefined {
  const dht = (node.services as { dht?: KadDHT }).dht;
  return dht && typeof dht.findProviders === 'function' ? dht : undefined;
}

/**
 * Peers in the DHT's routing table: kad-dht's `SingleKadDHT` has one (the WAN/LAN pair it can
 * also make has two); undefined when unknown.
 */
function routingTableSize(dht: KadDHT): number | undefined {
  return 'routingTable' in dht ? (dht as SingleKadDHT).routingTable.size : undefined;
}

export interface DhtFinderOptions {
  /** The whole lookup (the DHT walk, then the dials). Default 10 s. */
  timeoutMs?: number;
  /** Providers dialled at most. Default 8. */
  limit?: number;
}

/**
 * Holders of a hash from the DHT's provider records: walks towards the hash's key, dials the
 * providers it names (their recorded addresses, or what the peer store knows) and hands over
 * those whose key Noise confirmed. A lookup that runs out of time keeps what it found.
 */
export function dhtHolderFinder(
  node: DhtNode,
  dht: KadDHT,
  options: DhtFinderOptions = {},
): HolderFinder {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const limit = options.limit ?? 8;

  async function reach(provider: PeerInfo, signal: AbortSignal): Promise<PeerId | undefined> {
    try {
      const connection: Connection = await node.dial(
        provider.multiaddrs.length > 0 ? provider.multiaddrs : provider.id,
        { signal },
      );
      return connection.remotePeer.equals(provider.id) ? provider.id : undefined;
    } catch (error) {
      log('provider %p unreachable: %e', provider.id, error);
      return undefined;
    }
  }

  return {
    async findHolders(hash, { signal, onSearch }) {
      // kad-dht holds a query until its routing table has a peer: a doorway alone (or before
      // its --peers answer) would wait out the whole timeout for a hash nobody has.
      if (routingTableSize(dht) === 0) {
        onSearch?.({ source: 'dht', listed: 0, reached: 0 });
        return [];
      }
      const lookup = AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]);
      const providers = new Map<string, PeerInfo>();
      try {
        for await (const event of dht.findProviders(contentCid(hash), { signal: lookup })) {
          if (event.name !== 'PROVIDER') continue;
          for (const provider of event.providers) {
            if (provider.id.equals(node.peerId)) continue;
            providers.set(provider.id.toString(), provider);
          }
          if (providers.size >= limit) break;
        }
      } catch (error) {
        if (signal.aborted) throw signal.reason;
        log('lookup of %s ended early: %e', hash, error);
      }
      const reached = await Promise.all(
        [...providers.values()].slice(0, limit).map((p) => reach(p, lookup)),
      );
      if (signal.aborted) throw signal.reason;
      const found = reached.filter((p): p is PeerId => p !== undefined);
      onSearch?.({ source: 'dht', listed: providers.size, reached: found.length });
      return found;
    },
  };
}

/**
 * `first`, then — only when it finds no holder (none but the `known` ones) — the DHT (a walk across doorways costs more than
 * asking the peers at hand). `first` unchanged when the node has no DHT.
 */
export function withDhtFallback(
  first: HolderFinder,
  node: DhtNode,
  options?: DhtFinderOptions,
): HolderFinder {
  const dht = dhtOf(node);
  if (!dht) return first;
  const viaDht = dhtHolderFinder(node, dht, options);
  return {
    async findHolders(hash, opts) {
      const near = await first.findHolders(hash, opts);
      if (namesNew(near, opts.known)) return near;
      return [...near, ...(await viaDht.findHolders(hash, opts))];
    },
  };
}
