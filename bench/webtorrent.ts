/**
 * The `webtorrent` suite of `npm run bench`: our fetch beside WebTorrent's, the peer users
 * would pick instead, between the same two browser profiles (A holds, B fetches), with the same
 * 256 MiB random file, in the same run.
 *
 * - ours: A stores the file (IndexedDB); B, connected to A directly over WebRTC through the
 *   doorway's signalling, runs fetchContent to the end: pieces verified, the blob checked and
 *   committed (IndexedDB). Timed by the page, as the network suite times it.
 * - WebTorrent (its browser build, `webtorrent.min.js`, served by the bench's doorway): A seeds
 *   the same file (`client.seed`), B adds the magnet and downloads until 'done' (every piece's
 *   SHA-1 checked). Both use WebTorrent's browser default store, which in Chromium is the
 *   origin-private file system. The only peer source is a `bittorrent-tracker` WebSocket
 *   tracker on 127.0.0.1; DHT, LSD, uTP, web seeds and ICE servers are off, so the pieces flow
 *   browser to browser over WebRTC, as ours do. Timed from `add` to 'done', so its tracker
 *   announce, WebRTC connection and metadata exchange count (ours starts connected: noted).
 *
 * The runs alternate ours, WebTorrent, WebTorrent, ours (each side's figure is the mean of its
 * two), so neither side systematically gets the warmer or the quieter machine. On a small
 * machine both are bound by CPU, so beside MB/s it reports the CPU of both browsers per MiB.
 */
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from '@playwright/test';
import { Server } from 'bittorrent-tracker';
import { openProfile, type Profile } from '../e2e/support/browser.ts';
import { type DoorwayProcess, startDoorwayProcess } from '../e2e/support/doorway-process.ts';
import { writeRandomFile } from '../e2e/support/files.ts';
import { buildHarness } from '../e2e/support/harness.ts';
import { type CpuSample, cpuSince, profileCpu } from './cpu.ts';
import { type Metric, mbps } from './metrics.ts';
import type { NetworkBench } from './network-page.ts';
import { pageCaller } from './page-call.ts';
import type { WebTorrentBench } from './webtorrent-page.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const WEBTORRENT_JS = join(ROOT, 'node_modules', 'webtorrent', 'dist', 'webtorrent.min.js');
const MiB = 1024 * 1024;
/** One whole fetch, either side; generous for a loaded 2-core machine. */
const FETCH_TIMEOUT_MS = 300_000;

const ours = pageCaller<NetworkBench>('networkBench');
const wt = pageCaller<WebTorrentBench>('webtorrentBench');

export interface WebTorrentOptions {
  /** Progress lines (stderr), or nothing. */
  log: (line: string) => void;
  /** The file both sides move (≥ 128 MiB: small transfers stall and mislead). */
  bytes?: number;
}

interface Peer {
  name: string;
  profile: Profile;
  page: Page;
  peerId: string;
}

interface Run {
  mbps: number;
  /** CPU ms of both browsers (all their processes) during the run. */
  cpuMs: number;
  /** Seconds of the run spent outside the piece transfer (ours: verify+commit; WebTorrent: until the metadata). */
  asideS: number;
}

/** CPU counters of both profiles. */
function sampleCpu(peers: Peer[]): CpuSample[] {
  return peers.map((p) => profileCpu(p.profile.dir));
}

/** CPU ms both spent since `before`, and "A 3.1 s (renderer 2.0, network 0.8), B …". */
function cpuSinceAll(peers: Peer[], before: CpuSample[]): { ms: number; text: string } {
  const deltas = sampleCpu(peers).map((after, i) => cpuSince(before[i] ?? after, after));
  const text = peers.map((p, i) => {
    const d = deltas[i] ?? { byType: {}, total: 0 };
    const parts = Object.entries(d.byType)
      .filter(([, ms]) => ms >= 0.05 * d.total)
      .sort(([, x], [, y]) => y - x)
      .map(([type, ms]) => `${type} ${(ms / 1000).toFixed(1)}`);
    return `${p.name} ${(d.total / 1000).toFixed(1)} s (${parts.join(', ')})`;
  });
  return { ms: deltas.reduce((sum, d) => sum + d.total, 0), text: text.join(', ') };
}

/** A tracker for WebRTC peers only (WebSocket), on 127.0.0.1 at a port the system picks. */
async function startTracker(): Promise<{ url: string; close(): Promise<void> }> {
  const server = new Server({ udp: false, http: false, ws: true, stats: false });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  // Warnings are bad announces from a peer; the download's own deadline reports a failure.
  server.on('warning', () => {});
  return {
    url: `ws://127.0.0.1:${server.ws.address().port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** The bench page (ours and WebTorrent's browser build beside it) on a doorway of its own. */
async function servePage(): Promise<DoorwayProcess> {
  const outDir = join(ROOT, '.tmp', 'bench-webtorrent');
  await buildHarness('bench/webtorrent-page.ts', outDir);
  await copyFile(WEBTORRENT_JS, join(outDir, 'webtorrent.min.js'));
  return startDoorwayProcess(['--static', outDir, '--log-level', 'silent']);
}

export async function webtorrentSuite(options: WebTorrentOptions): Promise<Metric[]> {
  const { log } = options;
  const bytes = options.bytes ?? 256 * MiB;
  const scratch = await mkdtemp(join(tmpdir(), 'elohim-bench-wt-'));
  const peers: Peer[] = [];
  let doorway: DoorwayProcess | undefined;
  let tracker: Awaited<ReturnType<typeof startTracker>> | undefined;
  try {
    const [load] = loadavg();
    log(
      `webtorrent: load average ${load?.toFixed(1)} on ${availableParallelism()} cores` +
        ((load ?? 0) > availableParallelism() / 2 ? ': wall-clock figures will be low' : ''),
    );
    doorway = await servePage();
    tracker = await startTracker();
    const origin = new URL(doorway.url).origin;
    const trackerUrl = tracker.url;

    const open = async (name: string): Promise<Peer> => {
      const profile = await openProfile();
      try {
        const page = await profile.context.newPage();
        page.on('console', (message) => {
          // (A harness page has no favicon: its 404 is noise.)
          if (message.type() === 'error' && !message.location().url.endsWith('/favicon.ico'))
            log(`[${name}] ${message.text()}`);
        });
        await page.goto(origin);
        await page.waitForFunction(() => 'webtorrentBench' in window, undefined, {
          timeout: 30_000,
        });
        const { peerId } = await ours(page, 'start', origin);
        const peer = { name, profile, page, peerId };
        peers.push(peer);
        return peer;
      } catch (error) {
        await profile.close();
        throw error;
      }
    };
    log('webtorrent: starting A and B (our node and a WebTorrent client in each)…');
    const a = await open('A');
    const b = await open('B');
    const [{ store: wtStore }] = await Promise.all([
      wt(a.page, 'wtStart', trackerUrl),
      wt(b.page, 'wtStart', trackerUrl),
    ]);

    const file = await writeRandomFile(scratch, 'same.bin', bytes);
    await ours(a.page, 'addFileInput');
    await a.page.locator('#file').setInputFiles(file.path);
    log(`webtorrent: A stores the ${bytes / MiB} MiB file (ours)…`);
    const started = performance.now();
    const stored = await ours(a.page, 'seedFile');
    if (stored.hash !== file.hash) throw new Error(`A stored ${stored.hash}, not ${file.hash}`);
    const oursPutMs = performance.now() - started;
    log(`webtorrent: A seeds it (WebTorrent, ${wtStore})…`);
    const seed = await wt(a.page, 'wtSeed', FETCH_TIMEOUT_MS);
    log(
      `webtorrent:   put ${Math.round(oursPutMs)} ms (ours, ${stored.encoding}); ` +
        `seed ${Math.round(seed.ms)} ms (WebTorrent, ${seed.pieceLength / 1024} KiB pieces)`,
    );
    await ours(b.page, 'connect', [a.peerId], 60_000);

    const runOurs = async (): Promise<Run> => {
      log('webtorrent: ours, fetchContent B ← A…');
      const before = sampleCpu([a, b]);
      const t = await ours(b.page, 'fetch', file.hash, [a.peerId]);
      const cpu = cpuSinceAll([a, b], before);
      if (t.bytes !== bytes) throw new Error(`ours fetched ${t.bytes} bytes, not ${bytes}`);
      if (!(await wt(b.page, 'removeOurs', file.hash)))
        throw new Error('B did not hold what it fetched');
      const rate = mbps(t.bytes, t.totalMs);
      const detail =
        `${rate.toFixed(1)} MB/s: pieces ${(t.piecesMs / 1000).toFixed(1)} s, ` +
        `verify+commit ${(t.verifyMs / 1000).toFixed(1)} s; CPU ${cpu.text}`;
      log(`webtorrent:   ${detail}`);
      return { mbps: rate, cpuMs: cpu.ms, asideS: t.verifyMs / 1000 };
    };
    const runWebTorrent = async (): Promise<Run> => {
      log('webtorrent: WebTorrent, B ← A…');
      const before = sampleCpu([a, b]);
      const t = await wt(b.page, 'wtFetch', seed.magnet, FETCH_TIMEOUT_MS);
      const cpu = cpuSinceAll([a, b], before);
      if (t.bytes !== bytes) throw new Error(`WebTorrent fetched ${t.bytes} bytes, not ${bytes}`);
      await wt(b.page, 'wtRemove', seed.infoHash);
      const rate = mbps(t.bytes, t.totalMs);
      const detail =
        `${rate.toFixed(1)} MB/s: first wire ${Math.round(t.wireMs)} ms, ` +
        `metadata ${Math.round(t.metadataMs)} ms; CPU ${cpu.text}`;
      log(`webtorrent:   ${detail}`);
      return { mbps: rate, cpuMs: cpu.ms, asideS: t.metadataMs / 1000 };
    };
    // ABBA: ours, WebTorrent, WebTorrent, ours.
    const ours1 = await runOurs();
    const wt1 = await runWebTorrent();
    const wt2 = await runWebTorrent();
    const ours2 = await runOurs();

    const mean = (x: number, y: number) => (x + y) / 2;
    const oursMbps = mean(ours1.mbps, ours2.mbps);
    const wtMbps = mean(wt1.mbps, wt2.mbps);
    const perMib = (r: Run) => r.cpuMs / (bytes / MiB);
    const oursCpu = mean(perMib(ours1), perMib(ours2));
    const wtCpu = mean(perMib(wt1), perMib(wt2));
    const [loadNow] = loadavg();
    const runs = (x: Run, y: Run) => `${x.mbps.toFixed(1)} and ${y.mbps.toFixed(1)}`;
    const aside = (x: Run, y: Run) => mean(x.asideS, y.asideS).toFixed(1);
    const metrics: Metric[] = [
      {
        metric: 'webtorrent_ratio',
        value: oursMbps / wtMbps,
        unit: 'x',
        target: '>= 1.3',
        note: `whole fetch of ${bytes / MiB} MiB, ours ÷ WebTorrent 3.0.21, same 2 contexts; load ${load?.toFixed(1)} → ${loadNow?.toFixed(1)}`,
      },
      {
        metric: 'wt_ours_fetch_mbps',
        value: oursMbps,
        unit: 'MB/s',
        note: `fetchContent (${stored.encoding}, IndexedDB) to a committed, verified item, connected; verify+commit ${aside(ours1, ours2)} s; mean of ${runs(ours1, ours2)}`,
      },
      {
        metric: 'webtorrent_fetch_mbps',
        value: wtMbps,
        unit: 'MB/s',
        note: `add(magnet) to 'done' (SHA-1 per ${seed.pieceLength / 1024} KiB piece, ${wtStore.split(' (')[0]}, tracker+connect+metadata ${aside(wt1, wt2)} s included); mean of ${runs(wt1, wt2)}`,
      },
    ];
    // CPU figures need /proc (Linux); elsewhere the counters read 0.
    if (wtCpu > 0) {
      metrics.push(
        {
          metric: 'wt_ours_cpu_ms_per_mib',
          value: oursCpu,
          unit: 'ms/MiB',
          note: 'CPU of both browsers (all processes), whole fetchContent',
        },
        {
          metric: 'webtorrent_cpu_ms_per_mib',
          value: wtCpu,
          unit: 'ms/MiB',
          note: 'CPU of both browsers (all processes), whole WebTorrent download',
        },
      );
    }
    return metrics;
  } finally {
    for (const peer of peers) await peer.profile.close();
    await tracker?.close();
    await doorway?.stop();
    await rm(scratch, { recursive: true, force: true });
  }
}
