/**
 * The `bridge` suite of `npm run bench`: the doorway's HTTP bridge (`/store/{hash}`), read by a
 * plain HTTP client in this process from a real doorway process, the content held by a real
 * Node peer process (e2e/harness/node-holder.ts) on the same machine.
 *
 * - `/store` of a 256 MiB blob from the doorway's cache beside the same doorway serving a
 *   plain static file of that size (`--static`): the ratio is the bridge's cost;
 * - the first byte of a 1 MiB range in the middle of a 64 MiB blob nobody asked for before
 *   (a cache miss: find the holder, its manifest, pull the pieces the range needs);
 * - the doorway's peak resident memory while it pulls a 1 GiB blob and streams it whole.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startDoorwayProcess } from '../e2e/support/doorway-process.ts';
import { tempDir, writeRandomFile } from '../e2e/support/files.ts';
import { startNodeHolder } from '../e2e/support/node-holder.ts';
import { type Metric, mbps, median } from './metrics.ts';

const MiB = 2 ** 20;

export interface BridgeOptions {
  log: (line: string) => void;
}

/** Reads `url` to the end; the bytes, the time to the first byte and to the last. */
async function timedGet(url: string, headers: Record<string, string> = {}) {
  const started = performance.now();
  const response = await fetch(url, { headers });
  if (!response.ok || !response.body) throw new Error(`GET ${url}: ${response.status}`);
  let bytes = 0;
  let firstByteMs = Number.NaN;
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    if (bytes === 0) firstByteMs = performance.now() - started;
    bytes += chunk.byteLength;
  }
  return { bytes, firstByteMs, totalMs: performance.now() - started };
}

/** The resident set of process `pid`, in bytes (Linux). */
async function rss(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? Number.NaN) * 1024;
}

export async function bridgeSuite({ log }: BridgeOptions): Promise<Metric[]> {
  const site = await tempDir();
  await writeFile(join(site.dir, 'index.html'), '<!doctype html><title>bench</title>');
  await writeRandomFile(site.dir, 'plain.bin', 256 * MiB);
  const doorway = await startDoorwayProcess([
    '--static',
    site.dir,
    '--log-level',
    'silent',
    '--store-quota',
    '0',
    '--cache-quota',
    String(2048 * MiB),
  ]);
  const metrics: Metric[] = [];
  try {
    const store = (hash: string) => new URL(`/store/${hash}`, doorway.url).toString();

    log('bridge: a 256 MiB blob into the cache, then read from it and as a static file…');
    const big = await startNodeHolder(doorway.url, { size: 256 * MiB, seed: 1 });
    try {
      const [hash] = big.hashes as [string];
      await timedGet(store(hash)); // the miss: pulled whole, committed into the cache
      for (let i = 0; i < 100; i++) {
        const health = await (await fetch(new URL('/health', doorway.url))).json();
        if ((health as { store: { cache: { items: number } } }).store.cache.items > 0) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const cached: number[] = [];
      const files: number[] = [];
      for (let run = 0; run < 5; run++) {
        const c = await timedGet(store(hash));
        cached.push(mbps(c.bytes, c.totalMs));
        const f = await timedGet(new URL('/plain.bin', doorway.url).toString());
        files.push(mbps(f.bytes, f.totalMs));
      }
      const storeMbps = median(cached);
      const staticMbps = median(files);
      metrics.push(
        {
          metric: 'store_cached_mbps',
          value: storeMbps,
          unit: 'MB/s',
          note: '256 MiB, median of 5 (interleaved with the static file)',
        },
        {
          metric: 'static_file_mbps',
          value: staticMbps,
          unit: 'MB/s',
          note: 'same doorway, same size',
        },
        {
          metric: 'store_vs_static_ratio',
          value: storeMbps / staticMbps,
          unit: 'x',
          target: '>= 0.8',
          note: '/store (cached) ÷ static file',
        },
      );
    } finally {
      await big.stop();
    }

    log('bridge: first byte of a range on a cache miss…');
    const cold = await startNodeHolder(doorway.url, { size: 64 * MiB, count: 3, seed: 10 });
    try {
      const firstBytes: number[] = [];
      for (const hash of cold.hashes) {
        const start = 32 * MiB + 4321;
        const r = await timedGet(store(hash), { Range: `bytes=${start}-${start + MiB - 1}` });
        firstBytes.push(r.firstByteMs);
      }
      metrics.push({
        metric: 'store_miss_first_byte_ms',
        value: median(firstBytes),
        unit: 'ms',
        target: '<= 300',
        note: '1 MiB range mid 64 MiB, never asked before; median of 3',
      });
    } finally {
      await cold.stop();
    }

    log('bridge: the doorway’s memory while it streams a 1 GiB blob it pulls…');
    const huge = await startNodeHolder(doorway.url, { size: 1024 * MiB, seed: 20 });
    try {
      const [hash] = huge.hashes as [string];
      const before = await rss(doorway.pid);
      let peak = before;
      const sampling = setInterval(() => {
        void rss(doorway.pid).then((now) => {
          peak = Math.max(peak, now);
        });
      }, 50);
      const r = await timedGet(store(hash));
      clearInterval(sampling);
      peak = Math.max(peak, await rss(doorway.pid));
      metrics.push(
        {
          metric: 'store_1gib_doorway_rss_mib',
          value: peak / MiB,
          unit: 'MiB',
          target: '<= 256',
          note: 'peak while pulling and streaming 1 GiB (cache miss)',
        },
        {
          metric: 'store_1gib_doorway_rss_before_mib',
          value: before / MiB,
          unit: 'MiB',
          note: 'the same doorway just before that pull: what the pull itself adds is the difference',
        },
        {
          metric: 'store_miss_mbps',
          value: mbps(r.bytes, r.totalMs),
          unit: 'MB/s',
          note: '1 GiB pulled through',
        },
      );
    } finally {
      await huge.stop();
    }
  } finally {
    await doorway.stop();
    await site.remove();
  }
  return metrics;
}
