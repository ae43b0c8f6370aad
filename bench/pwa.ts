/**
 * The `pwa` suite of `npm run bench`: the built app itself (dist/), served by a real doorway,
 * in real browser profiles.
 *
 * - bundle: gzip size of the JS the first paint loads, beside all the app's JS;
 * - offline load: reload to interactive with the network cut and the doorway stopped, beside
 *   the same reload online, in the same profile;
 * - seek: the first byte of a range near the end of a 1 GiB file that only a connected peer
 *   holds (the service worker asks the tab, which fetches just those pieces), beside the same
 *   range read from a local copy; and the bytes that seek moved.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import type { Page } from '@playwright/test';
import { addFiles, item, openApp, peerEntry, peerIdOf, waitReachable } from '../e2e/support/app.ts';
import { openProfile, type Profile } from '../e2e/support/browser.ts';
import { startDoorwayProcess } from '../e2e/support/doorway-process.ts';
import { tempDir, writeRandomFile } from '../e2e/support/files.ts';
import { storedPieceBytes } from '../e2e/support/idb.ts';
import { type Metric, median } from './metrics.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DIST = join(ROOT, 'dist');
const MiB = 1024 * 1024;

export interface PwaOptions {
  log: (line: string) => void;
  /** Size of the file the seek figures use. */
  seekFileBytes?: number;
  reloads?: number;
}

const gzipKb = async (path: string) => gzipSync(await readFile(path), { level: 9 }).length / 1024;

/** JS that index.html loads before the first paint: its module script and modulepreloads. */
async function bundleMetrics(): Promise<Metric[]> {
  const html = await readFile(join(DIST, 'index.html'), 'utf8');
  const initial = [
    ...html.matchAll(/<(?:script[^>]*src|link[^>]*modulepreload[^>]*href)="([^"]+\.js)"/g),
  ]
    .map((m) => m[1] as string)
    .filter((src) => src.startsWith('/'));
  let initialKb = 0;
  for (const src of initial) initialKb += await gzipKb(join(DIST, src));
  let allKb = 0;
  for (const name of await readdir(join(DIST, 'assets'))) {
    if (name.endsWith('.js')) allKb += await gzipKb(join(DIST, 'assets', name));
  }
  return [
    {
      metric: 'bundle_gzip_kb',
      value: initialKb,
      unit: 'KiB',
      note: `gzip -9 of ${initial.length} script(s) index.html loads; libp2p, the hash worker and WASM load later`,
    },
    {
      metric: 'bundle_all_js_gzip_kb',
      value: allKb,
      unit: 'KiB',
      note: 'every JS asset of the app',
    },
    {
      metric: 'bundle_initial_ratio',
      value: initialKb / allKb,
      unit: 'ratio',
      note: 'initial ÷ all: the share of the app the first paint waits for',
    },
  ];
}

/** Reload until the app can take files (its store is open), in ms. */
async function reloadToInteractive(page: Page): Promise<number> {
  const start = Date.now();
  await page.reload();
  await page.getByRole('button', { name: 'Choose files…' }).waitFor({ state: 'visible' });
  await page.waitForFunction(
    () => !(document.querySelector('[data-testid="file-input"]') as HTMLInputElement)?.disabled,
  );
  return Date.now() - start;
}

/** First byte of `bytes=start-` through `/content/`, then the read is cancelled. */
async function firstByteMs(page: Page, hash: string, start: number): Promise<number> {
  return page.evaluate(
    async ({ hash, start }) => {
      const t0 = performance.now();
      const response = await fetch(`/content/${hash}`, { headers: { Range: `bytes=${start}-` } });
      if (response.status !== 206)
        throw new Error(`status ${response.status}: ${await response.text()}`);
      const reader = (response.body as ReadableStream<Uint8Array>).getReader();
      const { value } = await reader.read();
      const ms = performance.now() - t0;
      if (!value?.length) throw new Error('empty body');
      await reader.cancel();
      return ms;
    },
    { hash, start },
  );
}

export async function pwaSuite(options: PwaOptions): Promise<Metric[]> {
  const { log } = options;
  const seekBytes = options.seekFileBytes ?? 1024 * MiB;
  const reloads = options.reloads ?? 5;
  const metrics: Metric[] = await bundleMetrics();

  const files = await tempDir();
  const doorway = await startDoorwayProcess(['--log-level', 'silent']);
  const profiles: Profile[] = [];
  const open = async () => {
    const profile = await openProfile();
    profiles.push(profile);
    return openApp(profile.context, doorway.url);
  };
  let doorwayStopped = false;
  try {
    // Seek first, while the doorway runs.
    log(`pwa: seeding ${seekBytes / MiB} MiB in A…`);
    const file = await writeRandomFile(files.dir, 'seek.bin', seekBytes);
    const a = await open();
    await addFiles(a, [file.path]);
    await item(a, file.hash).waitFor({ timeout: 600_000 });
    await waitReachable(a);
    const aId = await peerIdOf(a);
    const b = await open();
    // The peer list sits in the closed "Network details": attached, not visible.
    await peerEntry(b, aId)
      .and(b.locator('[data-direct="true"]'))
      .waitFor({ state: 'attached', timeout: 60_000 });

    const near = file.size - 4 * MiB;
    const farther = file.size - 64 * MiB;
    log('pwa: seeking near the end in B (only A holds the file)…');
    const cold = await firstByteMs(b, file.hash, near);
    const warm = await firstByteMs(b, file.hash, farther);
    // Let read-ahead batches already asked for land, so they count.
    await new Promise((r) => setTimeout(r, 2_000));
    const moved = await storedPieceBytes(b);
    const local = median([
      await firstByteMs(a, file.hash, near),
      await firstByteMs(a, file.hash, farther),
      await firstByteMs(a, file.hash, near - 8 * MiB),
    ]);
    metrics.push(
      {
        metric: 'seek_first_byte_ms',
        value: cold,
        unit: 'ms',
        target: '<= 300',
        note: 'Range near the end of a peer-held file, first request (finds holder, manifest, 1 piece; src/net/README.md "Seeking")',
      },
      {
        metric: 'seek_first_byte_warm_ms',
        value: warm,
        unit: 'ms',
        target: '<= 100',
        note: 'a second Range of the same file (stream already open: 1 piece, no finder nor manifest)',
      },
      {
        metric: 'local_seek_first_byte_ms',
        value: local,
        unit: 'ms',
        note: 'the same Range from a local copy',
      },
      { metric: 'seek_first_byte_ratio', value: cold / local, unit: 'ratio', note: 'peer ÷ local' },
      {
        metric: 'seek_bytes_ratio',
        value: moved / file.size,
        unit: 'ratio',
        note: `${(moved / MiB).toFixed(1)} MiB of pieces moved for two seeks into ${file.size / MiB} MiB`,
      },
    );

    log('pwa: reloading online, then offline…');
    const online: number[] = [];
    for (let i = 0; i < reloads; i++) online.push(await reloadToInteractive(a));
    await a.context().setOffline(true);
    await doorway.stop();
    doorwayStopped = true;
    const offline: number[] = [];
    for (let i = 0; i < reloads; i++) offline.push(await reloadToInteractive(a));
    metrics.push(
      {
        metric: 'offline_load_ms',
        value: median(offline),
        unit: 'ms',
        note: `reload to interactive, network cut and doorway stopped, median of ${reloads}`,
      },
      {
        metric: 'online_load_ms',
        value: median(online),
        unit: 'ms',
        note: 'the same reload online',
      },
      {
        metric: 'offline_load_ratio',
        value: median(offline) / median(online),
        unit: 'ratio',
        note: 'offline ÷ online',
      },
    );
    return metrics;
  } finally {
    await Promise.all(profiles.map((p) => p.close()));
    if (!doorwayStopped) await doorway.stop();
    await files.remove();
  }
}
