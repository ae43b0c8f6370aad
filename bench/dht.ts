/**
 * The `dht` suite of `npm run bench`: content routing across doorways at a small scale, in
 * this process on 127.0.0.1. Twenty doorway-like libp2p nodes (TCP, Noise, Yamux, identify,
 * ping and the doorways' kad-dht, server mode, with the doorway's limits) each hold at most
 * `MAX_CONNECTIONS` connections; 2,000 provider records (as 2,000 holders' items would be
 * announced by their doorways, 100 per doorway) are placed, then lookups for random hashes run
 * from random doorways that did not provide them.
 *
 * k (bucket size and replication) is 6 here, not kad-dht's 20: with 20 nodes k = 20 stores
 * every record on every node and every lookup would be a local read, measuring nothing of the
 * routing. With k = 6 about three lookups in four must walk to other doorways (the rest are
 * answered from the asker's own records, and counted).
 */
// libp2p needs Promise.withResolvers, which Node 20 lacks.
import '../doorway/polyfills.ts';
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { identify } from '@libp2p/identify';
import type { Libp2p } from '@libp2p/interface';
import type { KadDHT, SingleKadDHT } from '@libp2p/kad-dht';
import { ping } from '@libp2p/ping';
import { tcp } from '@libp2p/tcp';
import { createLibp2p } from 'libp2p';
import { doorwayDht } from '../doorway/federation/index.ts';
import { contentCid } from '../src/net/index.ts';
import { type Metric, median } from './metrics.ts';

const NODES = 20;
const RECORDS = Number(process.env.DHT_BENCH_RECORDS ?? 2_000);
const LOOKUPS = Number(process.env.DHT_BENCH_LOOKUPS ?? 300);
const K = 6;
const PROVIDE_CONCURRENCY = 4;
/** Connections each node may hold: fewer than the 19 others, so the bound is exercised. */
const MAX_CONNECTIONS = 32;

type DhtNode = Libp2p<{ dht: KadDHT }>;

export interface DhtBenchOptions {
  log: (line: string) => void;
}

const hashOf = (i: number) => `sha256-${(i + 1).toString(16).padStart(64, 'a')}`;

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? Number.NaN;
}

/** A deterministic stream of picks, so two runs ask the same lookups. */
function picker(seed: number): (n: number) => number {
  let x = seed;
  return (n) => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return x % n;
  };
}

async function startNode(): Promise<DhtNode> {
  const node = await createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    // Every node here shares one IP address: the per-address inbound rate (5/s by default, for
    // doorways facing the world) would refuse the DHT's own dials between them.
    connectionManager: {
      maxConnections: MAX_CONNECTIONS,
      inboundConnectionThreshold: 1_000,
      maxIncomingPendingConnections: 100,
    },
    services: {
      identify: identify(),
      ping: ping(),
      dht: doorwayDht({ privateAddresses: true, kBucketSize: K }) as never,
    },
  });
  return node as unknown as DhtNode;
}

async function until(what: string, check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`dht bench: timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function drain(events: AsyncIterable<unknown>): Promise<void> {
  for await (const _ of events) {
    // the walk and its messages
  }
}

/** One lookup: ms to the first answer naming `provider`, and the queries sent until then. */
async function lookup(node: DhtNode, hash: string, provider: string) {
  const started = performance.now();
  let queries = 0;
  let local = false;
  for await (const event of node.services.dht.findProviders(contentCid(hash), {
    signal: AbortSignal.timeout(10_000),
  })) {
    if (event.name === 'SEND_QUERY') queries++;
    if (event.name === 'PROVIDER' && event.providers.some((p) => String(p.id) === provider)) {
      local = event.from.equals(node.peerId);
      return { ms: performance.now() - started, queries, local };
    }
  }
  return undefined;
}

export async function dhtSuite({ log }: DhtBenchOptions): Promise<Metric[]> {
  const nodes: DhtNode[] = [];
  try {
    for (let i = 0; i < NODES; i++) nodes.push(await startNode());
    // Each doorway is configured with one or two others (--peers); the DHT finds the rest.
    // A node at its connection bound refuses more (a reset): another attempt finds it pruned.
    for (let i = 1; i < NODES; i++) {
      const target = (nodes[Math.floor((i - 1) / 2)] as DhtNode).getMultiaddrs();
      for (let attempt = 1; ; attempt++) {
        try {
          await nodes[i]?.dial(target, { signal: AbortSignal.timeout(10_000) });
          break;
        } catch (error) {
          if (attempt === 5) throw error;
          await new Promise((r) => setTimeout(r, 200 * attempt));
        }
      }
    }
    const table = (n: DhtNode) => (n.services.dht as SingleKadDHT).routingTable.size;
    // A doorway's own neighbourhood lookup (kad-dht's self-query, here at once rather than on
    // its timer) is how the others hear of it and it of them.
    for (let round = 0; round < 5 && !nodes.every((n) => table(n) >= K); round++) {
      // A doorway whose links all dropped redials the one it was configured with (as
      // federation.ts does with backoff).
      await Promise.all(
        nodes.map(async (n, i) => {
          if (i === 0 || table(n) > 0) return;
          const seed = nodes[Math.floor((i - 1) / 2)] as DhtNode;
          await n
            .dial(seed.getMultiaddrs(), { signal: AbortSignal.timeout(5_000) })
            .catch(() => {});
        }),
      );
      await Promise.all(
        nodes.map((n) =>
          drain(
            n.services.dht.getClosestPeers(n.peerId.toMultihash().bytes, {
              signal: AbortSignal.timeout(10_000),
            }),
          ).catch(() => {}),
        ),
      );
      log(
        `dht: round ${round}: tables ${nodes.map(table).join(' ')}, connections ${nodes.map((n) => n.getConnections().length).join(' ')}`,
      );
    }
    // A node with an empty table could neither provide nor look up: the run would mean nothing.
    await until(
      'every routing table to have a peer',
      () => nodes.every((n) => table(n) > 0),
      30_000,
    );
    log(`dht: routing tables ${nodes.map(table).join(' ')}`);

    const provideStart = performance.now();
    // Each doorway provides its share, PROVIDE_CONCURRENCY at a time (a provide waits for the
    // slowest of the servers it writes to, so one at a time would take minutes).
    let next = 0;
    let provideFailures = 0;
    await Promise.all(
      Array.from({ length: NODES * PROVIDE_CONCURRENCY }, async () => {
        for (let i = next++; i < RECORDS; i = next++) {
          const node = nodes[i % NODES] as DhtNode;
          await drain(
            node.services.dht.provide(contentCid(hashOf(i)), {
              signal: AbortSignal.timeout(30_000),
            }),
          ).catch(() => provideFailures++);
        }
      }),
    );
    const provideMs = performance.now() - provideStart;
    log(
      `dht: ${RECORDS} provider records placed in ${(provideMs / 1000).toFixed(1)} s (${provideFailures} timed out)`,
    );

    const pick = picker(16);
    const times: number[] = [];
    const hops: number[] = [];
    let localHits = 0;
    let misses = 0;
    let connectionsMax = 0;
    for (let l = 0; l < LOOKUPS; l++) {
      const item = pick(RECORDS);
      const providerIndex = item % NODES;
      const asker = nodes[(providerIndex + 1 + pick(NODES - 1)) % NODES] as DhtNode;
      const provider = String((nodes[providerIndex] as DhtNode).peerId);
      const found = await lookup(asker, hashOf(item), provider);
      if (!found) {
        misses++;
        continue;
      }
      times.push(found.ms);
      if (found.local) localHits++;
      else hops.push(found.queries);
      for (const node of nodes) {
        connectionsMax = Math.max(connectionsMax, node.getConnections().length);
      }
    }
    const note = `${NODES} nodes on loopback, k=${K}, ${RECORDS} records, ${LOOKUPS} lookups from non-providers`;
    return [
      {
        metric: 'dht_lookup_p50_ms',
        value: median(times),
        unit: 'ms',
        target: '≤ 100',
        note: `${note}; ${localHits} answered from the asker's own records`,
      },
      { metric: 'dht_lookup_p95_ms', value: percentile(times, 0.95), unit: 'ms', note },
      {
        metric: 'dht_lookup_hops_p50',
        value: median(hops),
        unit: 'queries',
        note: 'DHT requests sent until a provider was named (walks only, not local answers)',
      },
      {
        metric: 'dht_lookup_misses',
        value: misses,
        unit: 'lookups',
        target: '0',
        note: 'lookups that found no provider within 10 s',
      },
      {
        metric: 'dht_provide_ms',
        value: provideMs / RECORDS,
        unit: 'ms/record',
        note: `${RECORDS} provides, ${NODES * PROVIDE_CONCURRENCY} at once, ${provideFailures} timed out`,
      },
      {
        metric: 'peer_connections_max',
        value: connectionsMax,
        unit: 'connections',
        target: `≤ ${MAX_CONNECTIONS}`,
        note: 'most connections any node held during the lookups (maxConnections)',
      },
    ];
  } finally {
    await Promise.all(nodes.map((n) => n.stop()));
  }
}
