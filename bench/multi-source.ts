/**
 * The `multi-source` suite of `npm run bench` (Node, in this process, 127.0.0.1): what fetching
 * from several holders is for — holders whose upload is slow. Each holder is a libp2p node
 * (TCP, Noise, Yamux) serving one filesystem store over the shard protocols with the
 * bench-only upload limit (`uploadBytesPerSecond`, 2 MB/s); a fresh fetcher pulls a 32 MiB
 * blob (rs-4-7, 1 MiB pieces: the defaults) with `fetchContent`, verified and committed.
 *
 * - `multi_source_limited_ratio`: 3 limited holders ÷ 1 limited holder (time of 1 ÷ time of 3);
 * - `stalled_holder_ratio`: 3 limited holders of which one stops sending after its first piece
 *   and never answers again (its connection stays up, so only the end-game can take its work
 *   back), ÷ the 2 healthy holders alone.
 *
 * On this machine the receiver's CPU is not the bound here (6 MB/s in all): the figures show
 * how the scheduler spreads work and ends it, which is what a slow uplink exposes.
 */
import '../doorway/polyfills.ts';
import { join } from 'node:path';
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import type { Libp2p } from '@libp2p/interface';
import { tcp } from '@libp2p/tcp';
import { createLibp2p } from 'libp2p';
import { tempDir } from '../e2e/support/files.ts';
import type { ContentStore } from '../src/content/index.ts';
import { openFsContentStore } from '../src/content/node.ts';
import { fetchContent } from '../src/net/index.ts';
import { registerShardProtocol } from '../src/net/shard/index.ts';
import type { Metric } from './metrics.ts';
import { randomBytes } from './random.ts';

const MiB = 2 ** 20;
const SIZE = 32 * MiB;
const UPLOAD = 2e6;

async function startNode(listen: boolean): Promise<Libp2p> {
  return createLibp2p({
    addresses: { listen: listen ? ['/ip4/127.0.0.1/tcp/0'] : [] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    // All on one address: the per-address inbound rate limit would refuse the fetchers' dials.
    connectionManager: { inboundConnectionThreshold: 1_000 },
  });
}

/** A store whose `readPiece` answers `pieces` times, then never again (a stalled holder). */
function stallingAfter(store: ContentStore, pieces: number): ContentStore {
  let served = 0;
  const never = new Promise<never>(() => {});
  return new Proxy(store, {
    get(target, property) {
      if (property === 'readPiece') {
        return (hash: string, shard: number, piece: number) =>
          served++ < pieces ? target.readPiece(hash, shard, piece) : never;
      }
      const value = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

export async function multiSourceSuite({
  log,
}: {
  log: (line: string) => void;
}): Promise<Metric[]> {
  const dir = await tempDir();
  const nodes: Libp2p[] = [];
  const stores: ContentStore[] = [];
  try {
    const source = await openFsContentStore({ dir: join(dir.dir, 'source') });
    stores.push(source);
    log(`putting ${SIZE / MiB} MiB into the holders' store…`);
    const m = await source.put(randomBytes(SIZE));
    const holder = async (store: ContentStore) => {
      const node = await startNode(true);
      nodes.push(node);
      await registerShardProtocol(node, store, { uploadBytesPerSecond: UPLOAD });
      return node;
    };
    const healthy = [await holder(source), await holder(source), await holder(source)];
    const stalling = await holder(stallingAfter(source, 1));

    let run = 0;
    /** Time to fetch the blob into a fresh store from `holders`, in ms. */
    const fetchFrom = async (holders: Libp2p[]) => {
      const node = await startNode(false);
      nodes.push(node);
      for (const h of holders)
        await node.peerStore.merge(h.peerId, { multiaddrs: h.getMultiaddrs() });
      const store = await openFsContentStore({ dir: join(dir.dir, `fetch-${run++}`) });
      stores.push(store);
      const started = performance.now();
      await fetchContent(
        { libp2p: node, isDirectPeer: () => true },
        store,
        { findHolders: async () => holders.map((h) => h.peerId) },
        m.blob_hash,
        { signal: AbortSignal.timeout(120_000) },
      );
      const ms = performance.now() - started;
      await node.stop();
      return ms;
    };
    const [a, b, c] = healthy as [Libp2p, Libp2p, Libp2p];
    log('one limited holder…');
    const one = await fetchFrom([a]);
    log('three limited holders…');
    const three = await fetchFrom([a, b, c]);
    log('two limited holders…');
    const two = await fetchFrom([a, b]);
    log('two limited holders and one that stalls…');
    const stalled = await fetchFrom([stalling, a, b]);
    const mbps = (ms: number) => (SIZE / 1e6 / (ms / 1000)).toFixed(1);
    const setup = `${SIZE / MiB} MiB ${m.encoding}, holders capped at ${UPLOAD / 1e6} MB/s upload each, Node on 127.0.0.1`;
    return [
      {
        metric: 'multi_source_limited_ratio',
        value: one / three,
        unit: '×',
        target: '≥ 2.5',
        note: `${setup}; 3 holders ${three.toFixed(0)} ms (${mbps(three)} MB/s) vs 1 holder ${one.toFixed(0)} ms (${mbps(one)} MB/s), same run`,
      },
      { metric: 'multi_source_one_limited_ms', value: one, unit: 'ms', note: setup },
      { metric: 'multi_source_three_limited_ms', value: three, unit: 'ms', note: setup },
      {
        metric: 'stalled_holder_ratio',
        value: stalled / two,
        unit: '×',
        target: '≤ 1.2',
        note: `${setup}; 2 holders + 1 that stops after its first piece ${stalled.toFixed(0)} ms vs the 2 alone ${two.toFixed(0)} ms, same run`,
      },
      { metric: 'stalled_holder_two_limited_ms', value: two, unit: 'ms', note: setup },
      { metric: 'stalled_holder_with_stall_ms', value: stalled, unit: 'ms', note: setup },
    ];
  } finally {
    for (const node of nodes) await Promise.resolve(node.stop()).catch(() => {});
    for (const store of stores) store.close();
    await dir.remove();
  }
}
