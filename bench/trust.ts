/**
 * The `trust` suite of `npm run bench`: the trust layer as the page reaches it — the real
 * `HolochainTrustClient` in headless Chromium, over the real @holochain/client AppWebsocket, to
 * a real doorway process (its conductor EMULATOR, doorway/holochain/README.md) that also
 * serves the bench page.
 *
 * - zome call latency: sequential `findHolders` (sign, websocket, the emulator's nonce check,
 *   capability check and find_publishers, decode) beside `app_info` on a second AppWebsocket
 *   of the same agent to the same doorway — the same round trip without signing or zome
 *   dispatch — interleaved call by call;
 * - find_publishers with 10,000 content servers registered for one hash, beside the same
 *   lookup for a hash with one server. The 10,000 are seeded from this process through the
 *   doorway's real HTTP + app interface: one fresh agent each (dev token, /hc/connect, its own
 *   AppWebsocket, a signed register_content_server), several at a time.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppWebsocket, WsClient } from '@holochain/client';
import type { Page } from '@playwright/test';
import Database from 'better-sqlite3';
import { DB_FILE } from '../doorway/holochain/store.ts';
import { authorizeCells, devToken, hcConnect, newKey } from '../doorway/holochain/test-support.ts';
import { openProfile, type Profile } from '../e2e/support/browser.ts';
import { serveHarness } from '../e2e/support/harness.ts';
import type { Metric } from './metrics.ts';
import { pageCaller } from './page-call.ts';
import type { TrustBench } from './trust-page.ts';

export interface TrustOptions {
  /** Progress lines (stderr), or nothing. */
  log: (line: string) => void;
  /** Sequential calls of the latency figures. */
  calls?: number;
  /** Content servers registered for the big lookup. */
  servers?: number;
  /** Timed lookups of each find_publishers figure (the median is reported). */
  lookups?: number;
  /** Agents registering at once while seeding. */
  concurrency?: number;
}

const call = pageCaller<TrustBench>('trustBench');

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((x, y) => x - y);
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)] ?? Number.NaN;
}

const randomHash = () => `sha256-${randomBytes(32).toString('hex')}`;

/**
 * One new agent holding `hash`, the way a browser gets there: a dev token for its key,
 * /hc/connect (installs its app, grants its own key), its own app websocket, then a signed
 * register_content_server on its infrastructure cell.
 */
async function registerServer(doorway: string, hash: string, index: number): Promise<void> {
  const key = newKey();
  const capSecret = new Uint8Array(randomBytes(64));
  const conn = await hcConnect(doorway, await devToken(doorway, key), key.agent, capSecret);
  const url = new URL(`/hc/app/${conn.appPort}`, doorway);
  url.protocol = 'ws:';
  url.searchParams.set('token', conn.token);
  const ws = await AppWebsocket.connect({ url, token: conn.appToken });
  try {
    const cell = conn.cellIds.infrastructure;
    if (!cell) throw new Error('/hc/connect named no infrastructure cell');
    authorizeCells([cell], key, capSecret);
    await ws.callZome({
      cell_id: cell,
      zome_name: 'infrastructure',
      fn_name: 'register_content_server',
      payload: {
        content_hash: hash,
        capability: 'blob_serving',
        endpoints: [
          { url: `/ip4/127.0.0.1/tcp/${10_000 + (index % 50_000)}/ws`, protocol: 'libp2p' },
        ],
        // Spread, so the lookup's ORDER BY has real work among ties and non-ties.
        priority: index % 256,
      },
    });
  } finally {
    if (ws.client instanceof WsClient) await ws.client.close();
  }
}

/** Registers `count` servers for `hash`, `concurrency` agents at a time; ms it took. */
async function seedServers(
  doorway: string,
  hash: string,
  count: number,
  concurrency: number,
  log: (line: string) => void,
): Promise<number> {
  let next = 0;
  let done = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      for (let i = next++; i < count; i = next++) {
        await registerServer(doorway, hash, i);
        done++;
        if (done % 1000 === 0) {
          const s = (performance.now() - started) / 1000;
          log(`trust:   ${done} of ${count} registered (${s.toFixed(0)} s)`);
        }
      }
    }),
  );
  return performance.now() - started;
}

/** Rows for `hash` in the emulator's store, read beside the running doorway (SQLite WAL). */
function countServers(dataDir: string, hash: string): number {
  const db = new Database(join(dataDir, DB_FILE), { readonly: true, fileMustExist: true });
  try {
    const row = db
      .prepare('SELECT COUNT(*) AS n FROM content_servers WHERE content_hash = ? AND online = 1')
      .get(hash) as { n: number };
    return row.n;
  } finally {
    db.close();
  }
}

export async function trustSuite(options: TrustOptions): Promise<Metric[]> {
  const { log } = options;
  const calls = options.calls ?? 200;
  const servers = options.servers ?? 10_000;
  const lookups = options.lookups ?? 20;
  const concurrency = options.concurrency ?? 16;
  const metrics: Metric[] = [];

  const scratch = await mkdtemp(join(tmpdir(), 'elohim-bench-trust-'));
  const dataDir = join(scratch, 'doorway');
  const doorway = await serveHarness('bench/trust-page.ts', 'bench-trust', ['--data-dir', dataDir]);
  const origin = new URL(doorway.url).origin;
  let profile: Profile | undefined;
  let page: Page | undefined;
  try {
    profile = await openProfile();
    page = await profile.context.newPage();
    page.on('console', (message) => {
      if (message.type() === 'error' && !message.location().url.endsWith('/favicon.ico'))
        log(`[page] ${message.text()}`);
    });
    await page.goto(doorway.url);
    await page.waitForFunction(() => 'trustBench' in window, undefined, { timeout: 30_000 });
    const me = await call(page, 'start');
    log(`trust: browser agent ${me.agent} connected to ${origin}`);

    // Latency first, while the emulator's store is small and nothing else runs.
    log(`trust: ${calls} sequential findHolders, app_info and raw callZome, interleaved…`);
    const runs = await call(page, 'latency', calls);
    const zome50 = percentile(runs.zome, 0.5);
    const info50 = percentile(runs.appInfo, 0.5);
    const raw50 = percentile(runs.raw, 0.5);
    log(
      `trust:   p50 findHolders ${zome50.toFixed(2)} ms, app_info ${info50.toFixed(2)} ms, ` +
        `raw callZome ${raw50.toFixed(2)} ms`,
    );
    metrics.push(
      {
        metric: 'zome_call_p50_ms',
        value: zome50,
        unit: 'ms',
        target: '<= 50',
        note: `HolochainTrustClient.findHolders(random hash) in Chromium → doorway emulator → back, ${calls} sequential`,
      },
      {
        metric: 'zome_call_p95_ms',
        value: percentile(runs.zome, 0.95),
        unit: 'ms',
        note: `max ${Math.max(...runs.zome).toFixed(1)} ms`,
      },
      {
        metric: 'app_info_p50_ms',
        value: info50,
        unit: 'ms',
        note: `baseline: app_info on a 2nd AppWebsocket, same page + doorway (no signing, no zome); p95 ${percentile(runs.appInfo, 0.95).toFixed(2)} ms`,
      },
      {
        metric: 'zome_call_vs_app_info_ratio',
        value: zome50 / info50,
        unit: 'x',
        note: 'p50 ÷ p50, interleaved call by call: what signing + zome dispatch + decode cost',
      },
      {
        metric: 'zome_call_raw_p50_ms',
        value: raw50,
        unit: 'ms',
        note: 'diagnostic: AppWebsocket.callZome(find_publishers) on the baseline socket, no trust-client wrapper',
      },
    );

    // The big lookup: 10,000 servers for one hash, 1 for another.
    const big = randomHash();
    const small = randomHash();
    const eleven = randomHash();
    log(
      `trust: registering ${servers} content servers for one hash (${concurrency} agents at a time)…`,
    );
    const seedMs = await seedServers(origin, big, servers, concurrency, log);
    await seedServers(origin, small, 1, 1, () => {});
    await seedServers(origin, eleven, 11, 4, () => {});
    const stored = countServers(dataDir, big);
    if (stored !== servers)
      throw new Error(`${stored} servers stored for the hash, not ${servers}`);
    const rate = servers / (seedMs / 1000);
    log(
      `trust:   ${stored} stored in ${(seedMs / 1000).toFixed(1)} s (${rate.toFixed(0)} agents/s)`,
    );

    // Interleaved halves, so drift shifts both alike.
    const half = Math.ceil(lookups / 2);
    const bigTimes: number[] = [];
    const smallTimes: number[] = [];
    const elevenTimes: number[] = [];
    const found: number[] = [];
    for (let round = 0; round < 2; round++) {
      const b = await call(page, 'lookup', big, half);
      const s = await call(page, 'lookup', small, half);
      const e = await call(page, 'lookup', eleven, half);
      bigTimes.push(...b.times);
      smallTimes.push(...s.times);
      elevenTimes.push(...e.times);
      found.splice(0, 3, b.found, s.found, e.found);
    }
    if (found.join() !== '10,1,10')
      throw new Error(`lookups found ${found.join(', ')} holders, not 10, 1 and 10`);
    const big50 = percentile(bigTimes, 0.5);
    const small50 = percentile(smallTimes, 0.5);
    const eleven50 = percentile(elevenTimes, 0.5);
    log(
      `trust:   median find 10k ${big50.toFixed(2)} ms, 1 ${small50.toFixed(2)} ms, ` +
        `11 ${eleven50.toFixed(2)} ms`,
    );
    metrics.push(
      {
        metric: 'find_publishers_10k_ms',
        value: big50,
        unit: 'ms',
        target: '<= 50',
        note: `findHolders from Chromium, ${servers} online servers for the hash, returns 10 (default limit), median of ${bigTimes.length}`,
      },
      {
        metric: 'find_publishers_1_ms',
        value: small50,
        unit: 'ms',
        note: `baseline: the same lookup, 1 server for the hash, median of ${smallTimes.length}`,
      },
      {
        metric: 'find_publishers_10k_vs_1_ratio',
        value: big50 / small50,
        unit: 'x',
        note: '10 holders decoded vs 1: part of the ratio is the client turning records into holders',
      },
      {
        metric: 'find_publishers_10k_vs_11_ratio',
        value: big50 / eleven50,
        unit: 'x',
        note: `diagnostic: vs a hash with 11 servers (same 11 rows fetched, 10 holders decoded; ${eleven50.toFixed(2)} ms): the cost of the other ${servers - 11}`,
      },
      {
        metric: 'trust_seed_agents_per_s',
        value: rate,
        unit: 'agents/s',
        note: `seeding the ${servers}: per agent dev token, /hc/connect, own AppWebsocket, signed register_content_server; ${concurrency} at once from Node, ${(seedMs / 1000).toFixed(0)} s`,
      },
    );
  } finally {
    if (page) await call(page, 'stop').catch(() => {});
    await profile?.close();
    await doorway.stop();
    await rm(scratch, { recursive: true, force: true });
  }
  return metrics;
}
