/**
 * `npm run bench [-- --json] [-- --only=erasure,network]`: runs the benchmarks in headless
 * Chromium on a real origin served by the doorway, each beside a baseline measured in the same
 * run, and prints a table (or, with --json, one JSON object per line). The page suites run in
 * one page; `network` drives several browser profiles from here (bench/network.ts), and `pwa`
 * drives the built app itself (bench/pwa.ts); `sync` runs in Node, a fresh process per
 * measurement (bench/sync.ts);
 * `trust` times the trust-layer client against the doorway's conductor emulator (bench/trust.ts);
 * `bridge` reads the doorway's `/store/{hash}` over HTTP (bench/bridge.ts); `dht` routes content
 * across 20 doorway-like nodes with Kademlia in this process (bench/dht.ts).
 * `import` times an import's commit into a filesystem store (bench/import.ts); `import-idb` (a
 * page suite) an import into IndexedDB; `rust` moves issue 19's 100 MiB Rust-made blob between a
 * Rust-node stand-in and a doorway over TCP (bench/rust.ts).
 */
import { openProfile } from '../e2e/support/browser.ts';
import { serveHarness } from '../e2e/support/harness.ts';
import { bridgeSuite } from './bridge.ts';
import { dhtSuite } from './dht.ts';
import { importSuite } from './import.ts';
import type { BenchSuite, Metric } from './metrics.ts';
import { multiSourceSuite } from './multi-source.ts';
import { networkSuite } from './network.ts';
import { pwaSuite } from './pwa.ts';
import { rustSuite } from './rust.ts';
import { syncSuite } from './sync.ts';
import { trustSuite } from './trust.ts';
import { webtorrentSuite } from './webtorrent.ts';

// `npm run bench --json` hands the flag to npm, which passes it on as npm_config_json.
const json = process.argv.includes('--json') || process.env.npm_config_json === 'true';
const only = process.argv.find((arg) => arg.startsWith('--only='))?.slice('--only='.length);
// Where the CPU goes in the transfer (the network suite, which then stops after it).
const profile = process.argv.includes('--profile');

const SUITES: BenchSuite[] = ['erasure', 'sha256', 'ingest', 'import-idb'];
const selected = (suite: string) => !only || only.split(',').includes(suite);

function printTable(metrics: Metric[]): void {
  const rows = metrics.map((m) => [
    m.metric,
    m.value.toFixed(m.value >= 100 ? 0 : 2),
    m.unit,
    m.target ?? '',
    m.note ?? '',
  ]);
  const header = ['metric', 'value', 'unit', 'target', 'measured as'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ');
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of rows) console.log(line(row));
}

async function pageSuites(emit: (metric: Metric) => void): Promise<void> {
  const suites = SUITES.filter(selected);
  if (suites.length === 0) return;
  const doorway = await serveHarness('bench/page.ts', 'bench-harness');
  const profile = await openProfile();
  try {
    const page = await profile.context.newPage();
    page.on('console', (message) => {
      if (!json && message.type() === 'error') console.error(`[page] ${message.text()}`);
    });
    await page.goto(doorway.url);
    await page.waitForFunction(() => 'elohimBench' in window);
    for (const suite of suites) {
      if (!json) console.error(`running ${suite}…`);
      const metrics = await page.evaluate(
        (name) => (window as unknown as BenchWindow).elohimBench.run(name),
        suite,
      );
      for (const metric of metrics) emit(metric);
    }
  } finally {
    await profile.close();
    await doorway.stop();
  }
}

async function main(): Promise<void> {
  const all: Metric[] = [];
  const emit = (metric: Metric) => {
    all.push(metric);
    if (json) console.log(JSON.stringify(metric));
  };
  await pageSuites(emit);
  // The suites that drive browsers and doorways themselves, in this order.
  const nodeSuites = {
    network: networkSuite,
    pwa: pwaSuite,
    sync: syncSuite,
    trust: trustSuite,
    bridge: bridgeSuite,
    import: importSuite,
    rust: rustSuite,
    dht: dhtSuite,
    'multi-source': multiSourceSuite,
    webtorrent: webtorrentSuite,
  };
  const log = json ? () => {} : (line: string) => console.error(line);
  for (const [name, suite] of Object.entries(nodeSuites)) {
    if (!selected(name)) continue;
    if (!json) console.error(`running ${name}…`);
    for (const metric of await suite({ log, profile })) emit(metric);
  }
  if (!json) printTable(all);
}

interface BenchWindow {
  elohimBench: { run(suite: BenchSuite): Promise<Metric[]> };
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
