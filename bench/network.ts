/**
 * The `network` suite of `npm run bench`: several browser profiles, each a real PeerNode, and
 * one real doorway that both serves the bench page and relays WebRTC signalling (at its
 * default limits, which carry signalling only: bulk bytes flow browser to browser).
 *
 * - transfer: B fetches a 256 MiB random blob (rs-4-7) from A with fetchContent, beside a bare
 *   RTCPeerConnection + RTCDataChannel between the same two contexts in the same run;
 * - multi-peer: a fresh profile fetches the same 128 MiB from 1 holder, another from 3;
 * - shard keepers: the 128 MiB (rs-4-7) kept one shard per peer by 4 peers holding parity
 *   shards 4–6 and data shard 3, fetched by a fresh profile (3 data shards rebuilt), beside
 *   the 1-holder fetch;
 * - connect: doorway-signalled WebRTC dials between two nodes, hanging up between dials.
 *
 * All browsers share this machine's cores, and on a small machine the transfer is bound by
 * CPU (Chromium's SCTP/DTLS in the renderer and network service, then our JS), so beside
 * MB/s it reports the CPU all processes of both browsers spent per MiB (bench/cpu.ts).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from '@playwright/test';
import { openProfile, type Profile } from '../e2e/support/browser.ts';
import { writeRandomFile } from '../e2e/support/files.ts';
import { serveHarness } from '../e2e/support/harness.ts';
import { type CpuSample, cpuSince, profileCpu, profileThreads, threadsSince } from './cpu.ts';
import { type FunctionTime, startJsProfile } from './js-profile.ts';
import { type Metric, mbps } from './metrics.ts';
import type { NetworkBench } from './network-page.ts';
import { pageCaller } from './page-call.ts';

const MiB = 1024 * 1024;

export interface NetworkOptions {
  /** Progress lines (stderr), or nothing. */
  log: (line: string) => void;
  /** Blob of the transfer figures (≥ 128 MiB: small transfers stall and mislead). */
  transferBytes?: number;
  /** Blob of the multi-peer figures. */
  multiBytes?: number;
  dials?: number;
  /**
   * Where the CPU goes (`--profile`): each side's threads (ours and the raw DataChannel) and
   * each main thread's JavaScript by function, around the transfer; the suite stops after it.
   */
  profile?: boolean;
}

const call = pageCaller<NetworkBench>('networkBench');

interface Peer {
  name: string;
  profile: Profile;
  page: Page;
  peerId: string;
  webrtcAddr: string;
}

/** CPU counters of some profiles, by peer name. */
type Cpu = Record<string, CpuSample>;

function sampleCpu(peers: Peer[]): Cpu {
  return Object.fromEntries(peers.map((p) => [p.name, profileCpu(p.profile.dir)]));
}

function cpuDelta(before: Cpu, after: Cpu): Cpu {
  const delta: Cpu = {};
  for (const [name, sample] of Object.entries(after)) {
    const start = before[name];
    if (start) delta[name] = cpuSince(start, sample);
  }
  return delta;
}

function cpuTotal(cpu: Cpu): number {
  return Object.values(cpu).reduce((sum, s) => sum + s.total, 0);
}

/** "A 3.1 s (renderer 2.0, network 0.8), B …": where the CPU went, by process type. */
function describeCpu(cpu: Cpu): string {
  return Object.entries(cpu)
    .map(([name, s]) => {
      const parts = Object.entries(s.byType)
        .filter(([, ms]) => ms >= 0.05 * s.total)
        .sort(([, x], [, y]) => y - x)
        .map(([type, ms]) => `${type} ${(ms / 1000).toFixed(1)}`);
      return `${name} ${(s.total / 1000).toFixed(1)} s (${parts.join(', ')})`;
    })
    .join(', ');
}

type Threads = Record<string, Record<string, number>>;

function sampleThreads(peers: Peer[]): Threads {
  return Object.fromEntries(peers.map((p) => [p.name, profileThreads(p.profile.dir)]));
}

/** The busiest threads of each side since `before`, in CPU ms per MiB moved. */
function describeThreads(before: Threads, after: Threads, mib: number, top = 8): string[] {
  return Object.entries(after).map(([name, now]) => {
    const spent = Object.entries(threadsSince(before[name] ?? {}, now)).sort((x, y) => y[1] - x[1]);
    const total = spent.reduce((sum, [, ms]) => sum + ms, 0);
    const list = spent
      .slice(0, top)
      .map(([thread, ms]) => `${thread} ${(ms / mib).toFixed(1)}`)
      .join(', ');
    return `${name}: ${(total / mib).toFixed(0)} ms/MiB — ${list}`;
  });
}

/** The functions of a main thread's profile with most self time, as shares of the whole. */
function describeJs(name: string, times: FunctionTime[], top = 12): string {
  const total = times.reduce((sum, t) => sum + t.selfMs, 0);
  const busy = total - (times.find((t) => t.where === '(idle)')?.selfMs ?? 0);
  const list = times
    .filter((t) => t.where !== '(idle)')
    .slice(0, top)
    .map((t) => `${t.where} ${((100 * t.selfMs) / Math.max(1, busy)).toFixed(1)}%`)
    .join('; ');
  return `${name} main thread busy ${Math.round(busy)} of ${Math.round(total)} ms: ${list}`;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)] ?? Number.NaN;
}

export async function networkSuite(options: NetworkOptions): Promise<Metric[]> {
  const { log } = options;
  const transferBytes = options.transferBytes ?? 256 * MiB;
  const multiBytes = options.multiBytes ?? 128 * MiB;
  const dials = options.dials ?? 20;
  const metrics: Metric[] = [];

  const scratch = await mkdtemp(join(tmpdir(), 'elohim-bench-net-'));
  const doorway = await serveHarness('bench/network-page.ts', 'bench-network', [
    '--data-dir',
    join(scratch, 'doorway'),
  ]);
  const origin = new URL(doorway.url).origin;
  const peers: Peer[] = [];
  // CPU counters of `watching`, read when a fetch reaches each phase (pages call benchPhase).
  let watching: Peer[] = [];
  const phaseCpu = new Map<string, Cpu>();

  const open = async (name: string): Promise<Peer> => {
    const profile = await openProfile();
    try {
      const page = await profile.context.newPage();
      await page.exposeFunction('benchPhase', (phase: string) => {
        phaseCpu.set(phase, sampleCpu(watching));
      });
      page.on('console', (message) => {
        // (A harness page has no favicon: its 404 is noise.)
        if (message.type() === 'error' && !message.location().url.endsWith('/favicon.ico'))
          log(`[${name}] ${message.text()}`);
      });
      await page.goto(doorway.url);
      await page.waitForFunction(() => 'networkBench' in window, undefined, { timeout: 30_000 });
      const started = await call(page, 'start', origin);
      const peer = { name, profile, page, ...started };
      peers.push(peer);
      return peer;
    } catch (error) {
      await profile.close();
      throw error;
    }
  };

  try {
    const [load] = loadavg();
    if ((load ?? 0) > availableParallelism() / 2) {
      log(
        `network: load average ${load?.toFixed(1)} on ${availableParallelism()} cores: ` +
          'wall-clock figures will be low and noisy (the CPU ms/MiB figures hold better)',
      );
    }
    log('network: starting peers A and B…');
    const a = await open('A');
    const b = await open('B');

    // Connect latency first, while nothing else is running.
    log(`network: ${dials} WebRTC dials B → A…`);
    const dial = await call(b.page, 'dialBench', a.webrtcAddr, dials, 10_000);
    const times = [...dial.times].sort((x, y) => x - y);
    for (const failure of dial.failures) log(`network:   ${failure}`);
    metrics.push(
      {
        metric: 'webrtc_connect_p50_ms',
        value: percentile(times, 0.5),
        unit: 'ms',
        target: '<= 400',
        note: `libp2p.dial(…/p2p-circuit/webrtc), ${times.length} of ${dials} dials`,
      },
      {
        metric: 'webrtc_connect_p95_ms',
        value: percentile(times, 0.95),
        unit: 'ms',
        note: `max ${Math.round(times.at(-1) ?? Number.NaN)} ms`,
      },
      {
        metric: 'webrtc_connect_failures',
        value: dial.failures.length,
        unit: 'dials',
        note: `of ${dials}, 10 s timeout each`,
      },
    );
    await call(b.page, 'connect', [a.peerId], 60_000);

    // Transfer: ours between two runs of the baseline, all between the same two contexts.
    log(`network: seeding ${transferBytes / MiB} MiB in A…`);
    const seeded = await call(a.page, 'seedRandom', transferBytes);
    log(`network:   ${seeded.encoding}, put in ${Math.round(seeded.ms)} ms`);

    // The baseline runs before and after ours: other load on the machine shifts both alike.
    const rawRun = async (): Promise<{ mbps: number; cpu: Cpu }> => {
      log('network: raw RTCDataChannel A → B…');
      const offer = await call(a.page, 'rawOffer');
      const answer = await call(b.page, 'rawAnswer', offer);
      await call(a.page, 'rawAccept', answer);
      await Promise.all([call(a.page, 'rawOpen', 20_000), call(b.page, 'rawOpen', 20_000)]);
      const start = sampleCpu([a, b]);
      const threadsStart = sampleThreads([a, b]);
      const [raw] = await Promise.all([
        call(b.page, 'rawReceive', transferBytes, 180_000),
        call(a.page, 'rawSend', transferBytes, 256 * 1024),
      ]);
      const cpu = cpuDelta(start, sampleCpu([a, b]));
      if (options.profile) {
        for (const line of describeThreads(
          threadsStart,
          sampleThreads([a, b]),
          transferBytes / MiB,
        ))
          log(`network:   raw threads, ${line}`);
      }
      await Promise.all([call(a.page, 'rawClose'), call(b.page, 'rawClose')]);
      const rate = mbps(transferBytes, raw.ms);
      log(`network:   ${rate.toFixed(1)} MB/s; CPU ${describeCpu(cpu)}`);
      return { mbps: rate, cpu };
    };
    const rawBefore = await rawRun();

    log('network: fetchContent B ← A…');
    watching = [a, b];
    phaseCpu.clear();
    const threadsStart = options.profile ? sampleThreads([a, b]) : {};
    const js = options.profile
      ? await Promise.all([startJsProfile(a.page), startJsProfile(b.page)])
      : [];
    const ours = await call(b.page, 'fetch', seeded.hash, [a.peerId]);
    const fetchEnd = sampleCpu([a, b]);
    if (options.profile) {
      for (const line of describeThreads(threadsStart, sampleThreads([a, b]), transferBytes / MiB))
        log(`network:   fetch threads, ${line}`);
      const [aJs, bJs] = await Promise.all(js.map((p) => p.stop()));
      log(`network:   ${describeJs('A (sends)', aJs ?? [])}`);
      log(`network:   ${describeJs('B (fetches)', bJs ?? [])}`);
    }
    const piecesStart = phaseCpu.get('pieces');
    const verifyStart = phaseCpu.get('verifying');
    const piecesCpu = piecesStart && verifyStart ? cpuDelta(piecesStart, verifyStart) : {};
    const verifyCpu = verifyStart ? cpuDelta(verifyStart, fetchEnd) : {};
    const oursMbps = mbps(ours.bytes, ours.piecesMs);
    log(
      `network:   pieces ${Math.round(ours.piecesMs)} ms (${oursMbps.toFixed(1)} MB/s), ` +
        `verify+commit ${Math.round(ours.verifyMs)} ms, total ${Math.round(ours.totalMs)} ms`,
    );
    log(`network:   CPU, pieces: ${describeCpu(piecesCpu)}`);
    log(`network:   CPU, verify+commit: ${describeCpu(verifyCpu)}`);

    log('network: pieces B ← A, verified but not written (diagnostic)…');
    const pullStart = sampleCpu([a, b]);
    const pulled = await call(b.page, 'pullPieces', seeded.hash, a.peerId, 1);
    const pullCpu = cpuDelta(pullStart, sampleCpu([a, b]));
    const pulledMbps = mbps(transferBytes, pulled.ms);
    log(`network:   ${pulledMbps.toFixed(1)} MB/s; CPU ${describeCpu(pullCpu)}`);
    const rawAfter = await rawRun();
    const rawMbps = (rawBefore.mbps + rawAfter.mbps) / 2;
    const perMib = (cpu: Cpu) => cpuTotal(cpu) / (transferBytes / MiB);
    const rawCpuPerMib = (perMib(rawBefore.cpu) + perMib(rawAfter.cpu)) / 2;

    metrics.push(
      {
        metric: 'transfer_ratio',
        value: oursMbps / rawMbps,
        unit: 'x',
        target: '>= 0.8',
        note: `fetchContent pieces phase ÷ raw RTCDataChannel, ${transferBytes / MiB} MiB, same contexts`,
      },
      {
        metric: 'transfer_mbps',
        value: oursMbps,
        unit: 'MB/s',
        note: `fetchContent ${seeded.encoding} from 1 holder, 'pieces' to 'verifying'`,
      },
      {
        metric: 'fetch_total_mbps',
        value: mbps(ours.bytes, ours.totalMs),
        unit: 'MB/s',
        note: `whole fetchContent; verify+commit ${(ours.verifyMs / 1000).toFixed(1)} s`,
      },
      {
        metric: 'raw_datachannel_mbps',
        value: rawMbps,
        unit: 'MB/s',
        note: `1 RTCDataChannel, 256 KiB messages; mean of ${rawBefore.mbps.toFixed(1)} before and ${rawAfter.mbps.toFixed(1)} after ours`,
      },
      {
        metric: 'pieces_nowrite_mbps',
        value: pulledMbps,
        unit: 'MB/s',
        note: 'fetchPieces, 4-piece ranges one at a time, verified, not written',
      },
    );
    // CPU figures need /proc (Linux); elsewhere the counters read 0.
    if (rawCpuPerMib > 0) {
      metrics.push(
        {
          metric: 'transfer_cpu_ms_per_mib',
          value: perMib(piecesCpu),
          unit: 'ms/MiB',
          note: 'CPU of both browsers (all processes), fetchContent pieces phase',
        },
        {
          metric: 'pieces_nowrite_cpu_ms_per_mib',
          value: perMib(pullCpu),
          unit: 'ms/MiB',
          note: 'CPU of both browsers, pieces not written',
        },
        {
          metric: 'raw_datachannel_cpu_ms_per_mib',
          value: rawCpuPerMib,
          unit: 'ms/MiB',
          note: 'CPU of both browsers, raw RTCDataChannel',
        },
      );
    }

    if (options.profile) return metrics;

    // Multi-peer: the same bytes in three holders.
    log(`network: seeding the same ${multiBytes / MiB} MiB in A, C and D…`);
    const file = await writeRandomFile(scratch, 'multi.bin', multiBytes);
    const c = await open('C');
    const d = await open('D');
    for (const holder of [a, c, d]) {
      await call(holder.page, 'addFileInput');
      await holder.page.locator('#file').setInputFiles(file.path);
      const put = await call(holder.page, 'seedFile');
      if (put.hash !== file.hash)
        throw new Error(`${holder.name} stored ${put.hash}, not ${file.hash}`);
    }
    const holders = [a, c, d].map((p) => p.peerId);

    log('network: fetch from 1 holder (fresh profile E)…');
    const e = await open('E');
    watching = [e, a];
    phaseCpu.clear();
    const one = await call(e.page, 'fetch', file.hash, [a.peerId]);
    const oneCpu = cpuDelta(phaseCpu.get('pieces') ?? {}, phaseCpu.get('verifying') ?? {});
    log(`network:   CPU, pieces: ${describeCpu(oneCpu)}`);
    await e.profile.close();
    log('network: fetch from 3 holders (fresh profile F)…');
    const f = await open('F');
    watching = [f, a, c, d];
    phaseCpu.clear();
    const three = await call(f.page, 'fetch', file.hash, holders);
    const threeCpu = cpuDelta(phaseCpu.get('pieces') ?? {}, phaseCpu.get('verifying') ?? {});
    log(`network:   CPU, pieces: ${describeCpu(threeCpu)}`);
    const oneMbps = mbps(one.bytes, one.piecesMs);
    const threeMbps = mbps(three.bytes, three.piecesMs);
    const shares = holders
      .map((id) => `${((100 * (three.perPeer[id] ?? 0)) / three.bytes).toFixed(0)}%`)
      .join('/');
    log(`network:   1 holder ${oneMbps.toFixed(1)} MB/s, 3 holders ${threeMbps.toFixed(1)} MB/s`);
    // Shard keepers: the other profiles go, 4 new ones each keep one shard.
    for (const peer of [b, c, d, f]) await peer.profile.close();
    const keepers: Peer[] = [];
    for (const shard of [3, 4, 5, 6]) {
      const keeper = await open(`K${shard}`);
      await call(a.page, 'offerShard', file.hash, shard, keeper.peerId);
      keepers.push(keeper);
    }
    log('network: fetch from 4 shard keepers, 3 data shards rebuilt (fresh profile G)…');
    const g = await open('G');
    const spread = await call(
      g.page,
      'fetch',
      file.hash,
      keepers.map((k) => k.peerId),
    );
    const spreadMbps = mbps(spread.bytes, spread.piecesMs);
    const oneTotal = mbps(one.bytes, one.totalMs);
    const spreadTotal = mbps(spread.bytes, spread.totalMs);
    log(
      `network:   pieces ${spreadMbps.toFixed(1)} MB/s, total ${spreadTotal.toFixed(1)} MB/s ` +
        `(verify+rebuild+commit ${(spread.verifyMs / 1000).toFixed(1)} s; 1 holder ${(one.verifyMs / 1000).toFixed(1)} s)`,
    );
    metrics.push(
      {
        metric: 'shard_keepers_ratio',
        value: spreadTotal / oneTotal,
        unit: 'x',
        note: `${multiBytes / MiB} MiB, whole fetch from 4 one-shard keepers (3 shards rebuilt) ÷ from 1 holder`,
      },
      {
        metric: 'shard_keepers_mbps',
        value: spreadTotal,
        unit: 'MB/s',
        note: `whole fetch; pieces phase ${spreadMbps.toFixed(1)} MB/s, verify+rebuild ${(spread.verifyMs / 1000).toFixed(1)} s`,
      },
    );
    metrics.push(
      {
        metric: 'multi_peer_ratio',
        value: threeMbps / oneMbps,
        unit: 'x',
        target: '>= 1.5',
        note: `${multiBytes / MiB} MiB from 3 holders ÷ from 1, pieces phase`,
      },
      {
        metric: 'multi_peer_mbps_1',
        value: oneMbps,
        unit: 'MB/s',
        note: `fetchContent from 1 holder; total ${mbps(one.bytes, one.totalMs).toFixed(1)} MB/s`,
      },
      {
        metric: 'multi_peer_mbps_3',
        value: threeMbps,
        unit: 'MB/s',
        note: `from 3 holders (shares ${shares}); total ${mbps(three.bytes, three.totalMs).toFixed(1)} MB/s`,
      },
    );
  } finally {
    for (const peer of peers) await peer.profile.close();
    await doorway.stop();
    await rm(scratch, { recursive: true, force: true });
  }
  return metrics;
}
