/**
 * Three real doorways in this process on 127.0.0.1, linked in a line by `--peers` (D2 names
 * D1's URL, D3 names D2's multiaddr): they find each other through the DHT, what D1 keeps is
 * found by D3 through D1's provider record, and D3's `/store/{hash}` serves an item only D1
 * keeps.
 */
import 'fake-indexeddb/auto';
import { peerIdFromString } from '@libp2p/peer-id';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { contentCid, dhtHolderFinder } from '../../src/net/index.ts';
import { pseudoRandomBytes } from '../../src/test-support/bytes.ts';
import type { Doorway } from '../server.ts';
import { startTestDoorway, until } from '../test-support.ts';
import { parsePeerList } from './peer-list.ts';

interface DoorwaysJson {
  self: { peer_id: string };
  doorways: {
    peer_id: string;
    url: string | null;
    multiaddrs: string[];
    sources: string[];
    reachable: boolean;
    last_seen: string | null;
  }[];
  total: number;
}

async function doorwaysOf(doorway: Doorway, query = ''): Promise<DoorwaysJson> {
  const response = await fetch(new URL(`/api/v1/federation/doorways${query}`, doorway.url));
  expect(response.status).toBe(200);
  return (await response.json()) as DoorwaysJson;
}

const tcpAddr = (doorway: Doorway) => {
  const addr = doorway.p2p.node
    .getMultiaddrs()
    .map(String)
    .find((a) => !a.includes('/ws'));
  if (!addr) throw new Error('the doorway listens on no TCP address');
  return addr;
};

describe('doorways linked with --peers', () => {
  const stops: (() => Promise<void>)[] = [];
  let d1: Doorway;
  let d2: Doorway;
  let d3: Doorway;

  beforeAll(async () => {
    const start = async (peers: string) => {
      const started = await startTestDoorway({ peers: parsePeerList(peers) });
      stops.push(() => started.stop());
      return started.doorway;
    };
    d1 = await start('');
    d2 = await start(d1.url);
    d3 = await start(tcpAddr(d2));
  }, 30_000);

  afterAll(async () => {
    for (const stop of stops.splice(0).reverse()) await stop();
  });

  it('link to the ones configured and find the others through the DHT', async () => {
    const knows = async (a: Doorway, b: Doorway) =>
      (await doorwaysOf(a)).doorways.find((d) => d.peer_id === b.p2p.peerId && d.reachable);
    const d2OnD1 = await until('D1 to list D2', () => knows(d1, d2));
    expect(d2OnD1.sources).toContain('dht');
    const d1OnD2 = await until('D2 to list D1', () => knows(d2, d1));
    expect(d1OnD2.sources).toEqual(expect.arrayContaining(['config', 'dht']));
    expect(d1OnD2.url).toBe(d1.url.slice(0, -1));
    expect(d1OnD2.last_seen).not.toBeNull();
    // Nobody told D3 of D1: D2 named it when D3's DHT looked up its own neighbourhood.
    const d1OnD3 = await until('D3 to learn of D1 through the DHT', () => knows(d3, d1), 20_000);
    expect(d1OnD3.sources).toEqual(['dht']);
    expect(d1OnD3.multiaddrs.some((a) => /\/tcp\/\d+$/.test(a.replace(/\/p2p\/.*$/, '')))).toBe(
      true,
    );
    const answer = await doorwaysOf(d3);
    expect(answer.self.peer_id).toBe(d3.p2p.peerId);
  }, 30_000);

  it('bounds the list it answers', async () => {
    await until('D2 to know two doorways', async () =>
      (await doorwaysOf(d2)).total >= 2 ? true : undefined,
    );
    const one = await doorwaysOf(d2, '?limit=1');
    expect(one.doorways).toHaveLength(1);
    expect(one.total).toBeGreaterThanOrEqual(2);
    for (const limit of ['0', '101', 'x', '1.5', '-1']) {
      const response = await fetch(new URL(`/api/v1/federation/doorways?limit=${limit}`, d2.url));
      expect(response.status).toBe(400);
    }
  });

  it('finds what another doorway keeps through its provider record', async () => {
    const item = await d1.p2p.peer.store.put(new Blob([pseudoRandomBytes(40_000, 16)]));
    const d1Id = peerIdFromString(d1.p2p.peerId);
    const dht = d3.p2p.node.services.dht;
    // D1 provides what it keeps; D3's lookup walks the DHT to a server holding the record.
    const providers = await until('the provider record to be found from D3', async () => {
      for await (const event of dht.findProviders(contentCid(item.blob_hash), {
        signal: AbortSignal.timeout(5_000),
      })) {
        if (event.name === 'PROVIDER' && event.providers.some((p) => p.id.equals(d1Id))) {
          return event.providers;
        }
      }
      return undefined;
    });
    expect(providers.map((p) => p.id.toString())).toContain(d1.p2p.peerId);
    const finder = dhtHolderFinder(d3.p2p.node, dht);
    const holders = await finder.findHolders(item.blob_hash, {
      signal: AbortSignal.timeout(10_000),
    });
    expect(holders.map(String)).toEqual([d1.p2p.peerId]);
  }, 30_000);

  it('serves at /store/{hash} what only another doorway keeps', async () => {
    const bytes = pseudoRandomBytes(70_000, 17);
    const item = await d1.p2p.peer.store.put(new Blob([bytes]));
    expect(await d3.p2p.peer.store.has(item.blob_hash)).toBe(false);
    const response = await fetch(new URL(`/store/${item.blob_hash}`, d3.url));
    expect(response.status).toBe(200);
    expect(new Uint8Array(await response.arrayBuffer())).toEqual(bytes);
  }, 30_000);
});
