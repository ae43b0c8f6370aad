/**
 * The doorway's DHT under abuse, on 127.0.0.1: peers flooding it with provider records get no
 * more than their share of a bounded store, and a DHT message declaring more than 64 KiB is
 * refused at its length prefix while the DHT keeps answering others.
 */
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { identify } from '@libp2p/identify';
import type { Libp2p } from '@libp2p/interface';
import { type KadDHT, kadDHT, passthroughMapper } from '@libp2p/kad-dht';
import { ping } from '@libp2p/ping';
import { tcp } from '@libp2p/tcp';
import { MemoryDatastore } from 'datastore-core';
import { createLibp2p } from 'libp2p';
import { afterEach, describe, expect, it } from 'vitest';
import { contentCid, DHT_PROTOCOL, withDhtFallback } from '../../src/net/index.ts';
import { until } from '../test-support.ts';
import { type DhtLimits, doorwayDht } from './dht.ts';

type DhtNode = Libp2p<{ dht: KadDHT }>;
const nodes: Libp2p[] = [];
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.stop()));
});

async function node(dht: unknown, datastore = new MemoryDatastore()): Promise<DhtNode> {
  const created = await createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    datastore,
    services: {
      identify: identify(),
      ping: ping(),
      dht: dht as ReturnType<typeof kadDHT>,
    },
  });
  nodes.push(created);
  return created as unknown as DhtNode;
}

/** A peer speaking the doorways' DHT with none of their limits. */
const plainDht = () =>
  kadDHT({ protocol: DHT_PROTOCOL, clientMode: false, peerInfoMapper: passthroughMapper });

const hashOf = (i: number) => `sha256-${i.toString(16).padStart(64, '0')}`;

async function providerRecords(datastore: MemoryDatastore): Promise<number> {
  let count = 0;
  for await (const _ of datastore.queryKeys({ prefix: '/dht/provider/' })) count++;
  return count;
}

async function flood(from: DhtNode, first: number, count: number): Promise<void> {
  for (let i = first; i < first + count; i++) {
    for await (const _ of from.services.dht.provide(contentCid(hashOf(i)), {
      signal: AbortSignal.timeout(10_000),
    })) {
      // drained: the walk, then ADD_PROVIDER to the doorway
    }
  }
}

/** The providers `from`'s lookup of item `i` names. */
async function providersOf(from: DhtNode, i: number): Promise<string[]> {
  const found: string[] = [];
  for await (const event of from.services.dht.findProviders(contentCid(hashOf(i)), {
    signal: AbortSignal.timeout(10_000),
  })) {
    if (event.name === 'PROVIDER') found.push(...event.providers.map((p) => String(p.id)));
  }
  return found;
}

describe("the doorway's DHT", () => {
  it('alone, answers a lookup at once instead of holding it until a peer appears', async () => {
    const lone = await node(doorwayDht({ privateAddresses: true }));
    const finder = withDhtFallback({ findHolders: async () => [] }, lone);
    const started = Date.now();
    const found = await finder.findHolders(hashOf(1), { signal: AbortSignal.timeout(20_000) });
    expect(found).toEqual([]);
    // kad-dht alone waits for a peer until the finder's 10 s timeout.
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('keeps a bounded number of provider records, per provider and in all', async () => {
    const limits: Partial<DhtLimits> = { maxProviderRecords: 15, maxRecordsPerProvider: 10 };
    const store = new MemoryDatastore();
    const doorway = await node(doorwayDht({ privateAddresses: true, limits }), store);
    const [a, b] = [await node(plainDht()), await node(plainDht())];
    for (const peer of [a, b]) await peer.dial(doorway.getMultiaddrs());
    await flood(a, 0, 25);
    // Each flooder also keeps its own records; the doorway keeps only its share of A's.
    expect(await providerRecords(store)).toBe(10);
    await flood(b, 100, 25);
    expect(await providerRecords(store)).toBe(15);
    // Honest lookups still work: one of A's records is there to be found.
    expect(await providersOf(b, 0)).toContain(String(a.peerId));
  }, 60_000);

  it('refuses a message longer than 64 KiB at its length prefix, and keeps serving', async () => {
    const doorway = await node(doorwayDht({ privateAddresses: true }));
    const abuser = await node(plainDht());
    await abuser.dial(doorway.getMultiaddrs());
    const stream = await abuser.dialProtocol(doorway.peerId, DHT_PROTOCOL);
    // A varint of 5 MiB and no body: kad-dht itself would wait for it all (10 s, then close).
    const length = 5 * 2 ** 20;
    const prefix: number[] = [];
    for (let rest = length; rest > 0; rest = Math.floor(rest / 128)) {
      prefix.push((rest % 128) | (rest >= 128 ? 0x80 : 0));
    }
    stream.send(Uint8Array.from(prefix));
    const sent = Date.now();
    await until('the doorway to drop the stream', () =>
      stream.status !== 'open' || stream.readStatus !== 'readable' ? true : undefined,
    );
    // At the prefix: well before kad-dht's own 10 s message timeout.
    expect(Date.now() - sent).toBeLessThan(5_000);
    // The connection and the DHT still serve a well-behaved request.
    const honest = await node(plainDht());
    await honest.dial(doorway.getMultiaddrs());
    await flood(honest, 7, 1);
    expect(await providersOf(abuser, 7)).toContain(String(honest.peerId));
  }, 30_000);
});
