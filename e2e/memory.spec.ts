import type { CDPSession } from '@playwright/test';
import { expect, test } from './fixtures.ts';
import { addFiles, downloadAndHash, item, openApp } from './support/app.ts';
import { tempDir, writeRandomFile } from './support/files.ts';
import { rendererMemory, resetPeakRss } from './support/processes.ts';

const MiB = 1024 * 1024;

/**
 * Samples the page's JS memory through the DevTools protocol until stopped; returns the peak.
 * ArrayBuffer backing stores live outside the V8 heap, so they are added: a file held whole
 * in typed arrays would show up here.
 */
function sampleHeap(cdp: CDPSession): { stop(): Promise<number> } {
  let peak = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      const { usedSize, backingStorageSize } = await cdp.send('Runtime.getHeapUsage');
      peak = Math.max(peak, usedSize + backingStorageSize);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return peak;
    },
  };
}

const mib = (bytes: number) => `${(bytes / MiB).toFixed(0)} MiB`;

test('a 1 GiB file is stored and read back with JS memory far below its size', async ({
  doorway,
  openProfile,
}) => {
  test.setTimeout(600_000);
  const files = await tempDir();
  try {
    const file = await writeRandomFile(files.dir, 'one-gib.bin', 1024 * MiB);
    const { context, dir } = await openProfile();
    const page = await openApp(context, doorway.url);
    const cdp = await context.newCDPSession(page);
    await cdp.send('Runtime.enable');

    const idle = rendererMemory(dir);
    const reset = resetPeakRss(idle.map((r) => r.pid));
    const ingestHeap = sampleHeap(cdp);
    await addFiles(page, [file.path]);
    await expect(item(page, file.hash)).toBeVisible({ timeout: 300_000 });
    const ingestPeak = await ingestHeap.stop();
    const afterIngest = rendererMemory(dir);
    await expect(item(page, file.hash)).toHaveAttribute('data-encoding', 'rs-4-7');

    resetPeakRss(afterIngest.map((r) => r.pid));
    const readHeap = sampleHeap(cdp);
    expect(await downloadAndHash(page, file.hash)).toBe(file.hash);
    const readPeak = await readHeap.stop();
    const afterRead = rendererMemory(dir);

    console.log(
      `JS heap + ArrayBuffer peak: ingest ${mib(ingestPeak)}, read ${mib(readPeak)} for a 1024 MiB file`,
    );
    const idleRss = (pid: number) => idle.find((r) => r.pid === pid)?.rss ?? 0;
    console.log(
      `renderer RSS idle → peak during ingest → peak during read${reset ? '' : ' (peaks since start)'}: ${afterRead
        .map((r) => {
          const ingest = afterIngest.find((a) => a.pid === r.pid)?.peakRss ?? 0;
          return `${mib(idleRss(r.pid))} → ${mib(ingest)} → ${mib(r.peakRss)}`;
        })
        .join('; ')}`,
    );
    // Slices, stripes and pieces in flight are a few tens of MiB; the file is 1024 MiB.
    expect(ingestPeak).toBeLessThan(160 * MiB);
    expect(readPeak).toBeLessThan(160 * MiB);

    // The service worker streams the read and workers hash the ingest: their memory is in the
    // renderer processes, whose peak resident size must stay far below the file too.
    if (process.platform === 'linux') expect(afterRead.length).toBeGreaterThan(0);
    for (const renderer of [...afterIngest, ...afterRead]) {
      expect(renderer.peakRss).toBeLessThan(512 * MiB);
    }
    // What the ingest adds to its renderer: pieces in flight, pooled buffers, the encoder and
    // V8's uncollected garbage (~90 MiB measured). A quarter of the file: holding it whole, or
    // dropping a fresh buffer per piece for a lazy GC (~290 MiB measured), would not fit.
    for (const renderer of afterIngest) {
      expect(renderer.peakRss - idleRss(renderer.pid)).toBeLessThan(256 * MiB);
    }
  } finally {
    await files.remove();
  }
});
