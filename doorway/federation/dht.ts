/**
 * The doorways' Kademlia DHT: `@libp2p/kad-dht` in server mode on this network's own protocol,
 * with its limits set for a public server, a cap on the provider records others may make us
 * keep (kad-dht keeps every one it is sent, for a day, in the node's datastore) and on the
 * size of the messages it reads (dht-guard.ts).
 */
import {
  type KadDHT,
  type KadDHTComponents,
  kadDHT,
  passthroughMapper,
  removePrivateAddressesMapper,
} from '@libp2p/kad-dht';
import { DHT_PROTOCOL } from '../../src/net/index.ts';
import { guardedDhtConnections, guardedDhtRegistrar } from './dht-guard.ts';

type Datastore = KadDHTComponents['datastore'];

/** Where kad-dht keeps provider records in the datastore: `<prefix>/provider/<key>/<peer>`. */
const DATASTORE_PREFIX = '/dht';
const PROVIDER_PREFIX = `${DATASTORE_PREFIX}/provider/`;

export interface DhtLimits {
  /** Provider records kept for all peers together. */
  maxProviderRecords: number;
  /** Provider records kept for one provider: one peer cannot fill the store alone. */
  maxRecordsPerProvider: number;
  /** Concurrent inbound DHT streams per connection (kad-dht's default is 32). */
  maxInboundStreams: number;
  /** Concurrent outbound DHT streams per connection (kad-dht's default is 64). */
  maxOutboundStreams: number;
  /** An inbound request must be answered within this (ms), or its stream is closed. */
  incomingMessageTimeoutMs: number;
}

export const DEFAULT_DHT_LIMITS: DhtLimits = {
  // A record is ~100 bytes of key and value: 100k of them stay under ~20 MB.
  maxProviderRecords: 100_000,
  maxRecordsPerProvider: 20_000,
  maxInboundStreams: 16,
  maxOutboundStreams: 32,
  incomingMessageTimeoutMs: 10_000,
};

export interface DoorwayDhtOptions {
  /**
   * Keep private and loopback addresses in the peer records the DHT sends and takes (a LAN or
   * a test on 127.0.0.1). Off, only public addresses travel.
   */
  privateAddresses: boolean;
  limits?: Partial<DhtLimits>;
  /** Kademlia's k: bucket size, and how many servers keep each record. Default 20 (kad-dht's). */
  kBucketSize?: number;
}

/** The provider that made a record: the key's last part. */
function providerOf(key: string): string {
  return key.slice(key.lastIndexOf('/') + 1);
}

/**
 * The datastore kad-dht sees: the node's own, except that a provider record beyond the limits
 * is dropped instead of stored (the sender is not told; an honest one never gets near them).
 * Counts only what passes here: kad-dht writes and deletes provider records only through it.
 */
export function capProviderRecords(datastore: Datastore, limits: DhtLimits): Datastore {
  let total = 0;
  const perProvider = new Map<string, number>();
  return new Proxy(datastore, {
    get(target, prop) {
      if (prop === 'put') {
        const put: Datastore['put'] = async (key, value, options) => {
          const text = key.toString();
          if (!text.startsWith(PROVIDER_PREFIX) || (await target.has(key, options))) {
            return target.put(key, value, options);
          }
          const provider = providerOf(text);
          const mine = perProvider.get(provider) ?? 0;
          if (total >= limits.maxProviderRecords || mine >= limits.maxRecordsPerProvider) {
            return key;
          }
          total++;
          perProvider.set(provider, mine + 1);
          return target.put(key, value, options);
        };
        return put;
      }
      if (prop === 'delete') {
        const remove: Datastore['delete'] = async (key, options) => {
          const text = key.toString();
          if (text.startsWith(PROVIDER_PREFIX) && (await target.has(key, options))) {
            total--;
            const provider = providerOf(text);
            const left = (perProvider.get(provider) ?? 1) - 1;
            if (left > 0) perProvider.set(provider, left);
            else perProvider.delete(provider);
          }
          return target.delete(key, options);
        };
        return remove;
      }
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/** kad-dht as a doorway runs it: a server from the start, on {@link DHT_PROTOCOL}. */
export function doorwayDht(options: DoorwayDhtOptions): (components: KadDHTComponents) => KadDHT {
  const limits = { ...DEFAULT_DHT_LIMITS, ...options.limits };
  const create = kadDHT({
    protocol: DHT_PROTOCOL,
    // Doorways are dialable servers; waiting for libp2p to find a public address would leave
    // a doorway on a LAN (or in a test) a client forever.
    clientMode: false,
    ...(options.kBucketSize === undefined ? {} : { kBucketSize: options.kBucketSize }),
    peerInfoMapper: options.privateAddresses ? passthroughMapper : removePrivateAddressesMapper,
    logPrefix: 'elohim:kad',
    datastorePrefix: DATASTORE_PREFIX,
    maxInboundStreams: limits.maxInboundStreams,
    maxOutboundStreams: limits.maxOutboundStreams,
    incomingMessageTimeout: limits.incomingMessageTimeoutMs,
  });
  // libp2p's components object is a Proxy; a child object overrides just these three.
  return (components) =>
    create(
      Object.create(components, {
        datastore: { value: capProviderRecords(components.datastore, limits) },
        registrar: { value: guardedDhtRegistrar(components.registrar, DHT_PROTOCOL) },
        connectionManager: {
          value: guardedDhtConnections(components.connectionManager, DHT_PROTOCOL),
        },
      }),
    );
}
