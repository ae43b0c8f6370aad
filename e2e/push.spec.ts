import { expect, test } from './fixtures.ts';
import { item, openApp, peerEntry, peerIdOf, waitReachable } from './support/app.ts';
import { serveHarness } from './support/harness.ts';
import { countRecords } from './support/idb.ts';

interface Stranger {
  start(doorway: string): Promise<string>;
  isDirect(target: string): boolean;
  push(target: string, size: number): Promise<{ hash: string; outcome: string }>;
}

test("a stranger's Push stores nothing in a browser: refused, and a large one before it is read", async ({
  doorway,
  openProfile,
}) => {
  const a = await openApp((await openProfile()).context, doorway.url);
  await waitReachable(a);
  const aId = await peerIdOf(a);
  const before = await countRecords(a);

  const harnessServer = await serveHarness('e2e/harness/stranger-peer.ts', 'stranger-peer');
  try {
    const page = await (await openProfile()).context.newPage();
    await page.goto(harnessServer.url);
    await page.waitForFunction(() => 'stranger' in window);
    const strangerId = await page.evaluate(
      (d) => (window as unknown as { stranger: Stranger }).stranger.start(d),
      new URL(doorway.url).origin,
    );
    // Directly connected, as the probe was: nothing but A's own policy stands in the way.
    await expect(peerEntry(a, strangerId)).toHaveAttribute('data-direct', 'true', {
      timeout: 30_000,
    });
    await page.waitForFunction(
      (target) => (window as unknown as { stranger: Stranger }).stranger.isDirect(target),
      aId,
      { timeout: 30_000 },
    );
    const push = (size: number) =>
      page.evaluate(
        ([target, n]) =>
          (window as unknown as { stranger: Stranger }).stranger.push(
            target as string,
            n as number,
          ),
        [aId, size] as const,
      );

    const small = await push(2_000);
    expect(small.outcome).toMatch(/takes no Push from you/);
    // 40 KiB is under the 16 MiB payload cap, but a stranger's request is capped at 4 KiB.
    const large = await push(40 * 1024);
    expect(large.outcome).toMatch(/over this peer's cap of 4096 bytes/);

    expect(await countRecords(a)).toEqual(before);
    for (const { hash } of [small, large]) await expect(item(a, hash)).toHaveCount(0);
  } finally {
    await harnessServer.stop();
  }
});
