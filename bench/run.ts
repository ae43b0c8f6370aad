/**
 * `npm run bench [-- --json] [-- --only=erasure,network]`: runs the benchmarks in headless
 * Chromium on a real origin served by the doorway, each beside a baseline measured in the same
 * run, and prints a table (or, with --json, one JSON object per line). The page suites run in
 * one page; `network` drives several browser profiles from here (bench/network.ts), and `pwa`
 * drives the built app itself (bench/pwa.ts); `sync` runs in Node, a fresh process per
 * measurement (bench/sync.ts);
 * `trust` times the trust-layer client against the doorway's conductor emulator (bench/trust.ts).
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openProfile } from '../e2e/support/browser.ts';
import { startDoorwayProcess } from '../e2e/support/doorway-process.ts';
import { buildHarness } from '../e2e/support/harness.ts';
import type { BenchSuite, Metric } from './metrics.ts';
import { networkSuite } from './network.ts';
import { pwaSuite } from './pwa.ts';
import { syncSuite } from './sync.ts';
import { trustSuite } from './trust.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
// `npm run bench --json` hands the flag to npm, which passes it on as npm_config_json.
const json = process.argv.includes('--json') || process.env.npm_config_json === 'true';
const only = process.argv.find((arg) => arg.startsWith('--only='))?.slice('--only='.length);

const SUITES: BenchSuite[] = ['erasure', 'sha256', 'ingest'];
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
  const outDir = join(ROOT, '.tmp', 'bench-harness');
  await buildHarness('bench/page.ts', outDir);
  const doorway = await startDoorwayProcess(['--static', outDir, '--log-level', 'silent']);
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
  if (selected('network')) {
    if (!json) console.error('running network…');
    const log = json ? () => {} : (line: string) => console.error(line);
    for (const metric of await networkSuite({ log })) emit(metric);
  }
  if (selected('pwa')) {
    if (!json) console.error('running pwa…');
    const log = json ? () => {} : (line: string) => console.error(line);
    for (const metric of await pwaSuite({ log })) emit(metric);
  }
  if (selected('sync')) {
    if (!json) console.error('running sync…');
    const log = json ? () => {} : (line: string) => console.error(line);
    for (const metric of await syncSuite({ log })) emit(metric);
  }
  if (selected('trust')) {
    if (!json) console.error('running trust…');
    const log = json ? () => {} : (line: string) => console.error(line);
    for (const metric of await trustSuite({ log })) emit(metric);
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
