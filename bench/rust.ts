/**
 * The `rust` suite of `npm run bench`: issue 19's 100 MiB case. A blob made the Rust way
 * (`rs-4-7`, four data shards of 25 MiB, each answered as ONE `Data` frame whose bytes are an
 * integer array, as rmp-serde writes `Vec<u8>`) moves between a Rust-node stand-in
 * (doorway/rust-test-support.ts) and a doorway, in this process, over TCP on 127.0.0.1:
 *
 * - `rust_store_mbps`: `GET /store/{hash}` on the doorway, a miss it fetches from the Rust node
 *   (manifest over HTTP, the four data shards over TCP);
 * - `rust_import_mbps`: the doorway's peer importing the blob from the Rust node's shards;
 * - `rust_serve_mbps`: a client speaking only what the Rust node speaks fetching all 7 shards
 *   from the doorway.
 *
 * Baseline, same run: the same number of bytes over one plain TCP connection on loopback,
 * hashed as they arrive (what any verified transfer costs at least). Beside each figure, the
 * most live ArrayBuffer memory it held: it must not grow with the blob (64 MiB bound).
 */
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { multiaddr } from '@multiformats/multiaddr';
import {
  makeRustBlob,
  peakBuffers,
  rustClientNode,
  rustGet,
  startRustPeer,
} from '../doorway/rust-test-support.ts';
import { startTestDoorway } from '../doorway/test-support.ts';
import { importFromShardHolders } from '../src/net/index.ts';
import { type Metric, mbps } from './metrics.ts';

const MiB = 2 ** 20;
const SIZE = 100 * MiB;

/** ms to send `size` bytes over one loopback TCP connection, hashing them as they arrive. */
async function rawTcpMs(size: number): Promise<number> {
  const chunk = randomBytes(MiB);
  const server = createServer(async (socket) => {
    for (let sent = 0; sent < size; sent += MiB) {
      if (!socket.write(chunk.subarray(0, Math.min(MiB, size - sent)))) await once(socket, 'drain');
    }
    socket.end();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  const started = performance.now();
  const socket = connect(port, '127.0.0.1');
  const hash = createHash('sha256');
  let got = 0;
  for await (const c of socket) {
    hash.update(c as Buffer);
    got += (c as Buffer).byteLength;
  }
  hash.digest();
  const ms = performance.now() - started;
  server.close();
  if (got !== size) throw new Error(`raw TCP moved ${got} of ${size} bytes`);
  return ms;
}

export async function rustSuite({ log }: { log: (line: string) => void }): Promise<Metric[]> {
  const dir = await mkdtemp(join(tmpdir(), 'bench-rust-'));
  log(`making a ${SIZE / MiB} MiB blob the Rust way…`);
  const blob = await makeRustBlob(dir, SIZE);
  const rust = await startRustPeer(blob);
  const doorway = await startTestDoorway({
    storeQuota: 4 * SIZE,
    cacheQuota: 4 * SIZE,
    httpRequestTimeoutMs: 600_000,
    rustStorage: [{ endpoint: rust.endpoint, multiaddr: rust.addr.toString() }],
  });
  const client = await rustClientNode();
  try {
    const rawMbps = mbps(SIZE, await rawTcpMs(SIZE));
    const measure = async (name: string, note: string, run: () => Promise<void>) => {
      const started = performance.now();
      const { peak } = await peakBuffers(run);
      const value = mbps(SIZE, performance.now() - started);
      log(`${name}: ${value.toFixed(1)} MB/s, peak ${(peak / MiB).toFixed(0)} MiB`);
      return [
        { metric: `${name}_mbps`, value, unit: 'MB/s', note },
        {
          metric: `${name}_ratio`,
          value: value / rawMbps,
          unit: 'x',
          note: `÷ raw loopback TCP of the same bytes, hashed (${rawMbps.toFixed(0)} MB/s)`,
        },
        {
          metric: `${name}_peak_mib`,
          value: peak / MiB,
          unit: 'MiB',
          target: '< 64',
          note: 'live ArrayBuffers above the start, GC forced each 250 ms',
        },
      ] satisfies Metric[];
    };

    const store = await measure(
      'rust_store',
      `GET /store of a ${SIZE / MiB} MiB Rust-made blob, a miss fetched from the Rust node`,
      async () => {
        const res = await fetch(new URL(`store/${blob.blobHash}`, doorway.doorway.url));
        if (res.status !== 200 || !res.body) throw new Error(`/store answered ${res.status}`);
        const hash = createHash('sha256');
        for await (const c of res.body as unknown as AsyncIterable<Uint8Array>) hash.update(c);
        if (`sha256-${hash.digest('hex')}` !== blob.blobHash)
          throw new Error('/store: wrong bytes');
      },
    );
    const p2p = doorway.doorway.p2p;
    // The /store fetch kept it in the bridge's cache; the import goes into the peer's own store.
    const imported = await measure(
      'rust_import',
      "the doorway's peer importing it from the Rust node's 4 data shards (parity computed)",
      async () => {
        await importFromShardHolders(p2p.node, p2p.peer.store, blob.manifest, [rust.addr]);
      },
    );
    const tcp = p2p.node
      .getMultiaddrs()
      .find((ma) => /\/tcp\/\d+\/p2p\//.test(ma.toString()) && !ma.toString().includes('/ws'));
    if (!tcp) throw new Error('the doorway does not listen on TCP');
    const shards = blob.manifest.shard_hashes as string[];
    const served = await measure(
      'rust_serve',
      'a Rust-speaking client taking all 7 shards from the doorway (7/4 of the blob; MB/s of the blob)',
      async () => {
        for (const shard of shards) {
          const got = await rustGet(client, multiaddr(tcp.toString()), shard);
          if (got.hash !== shard) throw new Error(`shard ${shard}: wrong bytes`);
        }
      },
    );
    return [
      ...store,
      ...imported,
      ...served,
      { metric: 'rust_raw_tcp_mbps', value: rawMbps, unit: 'MB/s', note: 'baseline, same run' },
    ];
  } finally {
    await client.stop();
    await doorway.stop();
    await rust.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
