import { expect, test } from './fixtures.ts';
import { openProfile } from './support/browser.ts';
import { serveHarness } from './support/harness.ts';

test('Reed-Solomon in Chromium: every kernel, all 35 losses of 3 shards, equal to the crate', async () => {
  const doorway = await serveHarness('e2e/harness/erasure-page.ts', 'erasure-harness');
  const profile = await openProfile();
  try {
    const page = await profile.context.newPage();
    await page.goto(doorway.url);
    await page.waitForFunction(() => 'erasureCheck' in window);
    const result = await page.evaluate(() =>
      (window as unknown as { erasureCheck: { run(): Promise<unknown> } }).erasureCheck.run(),
    );
    const { kernels, reports } = result as {
      kernels: string[];
      reports: { kernel: string; selfTest: boolean; rebuilds: number; failures: string[] }[];
    };
    // Chromium validates relaxed SIMD by default: all three kernels must be exercised here.
    expect(kernels).toEqual(['relaxed-simd', 'simd', 'scalar']);
    for (const report of reports) {
      expect(report.failures, report.kernel).toEqual([]);
      expect(report.selfTest, report.kernel).toBe(true);
      expect(report.rebuilds, report.kernel).toBe(8 * 35);
    }
  } finally {
    await profile.close();
    await doorway.stop();
  }
});
