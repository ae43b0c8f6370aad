/**
 * Failover (README, "Failover"): a page served by doorway D1, with D2 in its doorway list, keeps
 * working when D1 dies — within 10 s the network panel shows D2 in use and why, the relay
 * reservation moves there (other browsers can signal again), the trust layer logs in on D2 with
 * the same key, and an item that only a peer attached to D2 holds is fetched, all without a
 * reload. Two doorways in emulator mode: each has its own trust database.
 */
import { expect, test } from './fixtures.ts';
import { fetchInPage, openApp, trustConnected, waitReachable } from './support/app.ts';
import { doorwayPeerId, startDoorwayProcess } from './support/doorway-process.ts';
import { startNodeHolder } from './support/node-holder.ts';

test('when its doorway dies, the page moves to the next one within 10 s and keeps fetching', async ({
  openProfile,
}) => {
  test.setTimeout(240_000);
  const d1 = await startDoorwayProcess();
  const d2 = await startDoorwayProcess();
  const holder = await startNodeHolder(d2.url, { size: 300 * 1024, seed: 7 });
  try {
    const [o1, o2] = [new URL(d1.url).origin, new URL(d2.url).origin];
    const page = await openApp((await openProfile()).context, d1.url);
    await page.evaluate(
      (list) => localStorage.setItem('elohim.doorways', JSON.stringify(list)),
      [o1, o2],
    );
    await page.reload();
    const inUse = page.getByTestId('doorway-in-use');
    await expect(inUse).toHaveAttribute('data-origin', o1, { timeout: 30_000 });
    await expect(page.locator(`[data-testid="doorway"][data-status="connected"]`)).toHaveCount(2, {
      timeout: 30_000,
    });
    await trustConnected(page);
    await expect(page.getByTestId('trust-status')).toHaveAttribute('data-doorway', o1);
    await waitReachable(page);

    await d1.stop();
    const switched = Date.now();
    await expect(inUse).toHaveAttribute('data-origin', o2, { timeout: 10_000 });
    expect(Date.now() - switched).toBeLessThan(10_000);
    // The time in parentheses follows the reason: match the words, not the clock.
    await expect(page.getByTestId('doorway-switch')).toContainText(
      `Switched to ${o2} because ${o1} stopped answering`,
    );
    // The trust layer followed (D2's, logged in with the same key), and the relay reservation.
    const trustStatus = page.getByTestId('trust-status');
    await expect(trustStatus).toHaveAttribute('data-doorway', o2, { timeout: 10_000 });
    await trustConnected(page);
    const d2Id = await doorwayPeerId(d2.url);
    await expect(page.getByTestId('reachable')).toHaveAttribute(
      'data-addrs',
      new RegExp(`/p2p/${d2Id}/p2p-circuit/webrtc/`),
      { timeout: 30_000 },
    );

    // A fetch, without a reload (the page's origin is gone): an item only D2's peer holds.
    await fetchInPage(page, `/get/${holder.hashes[0]}?name=held-on-d2.bin`, 60_000);
  } finally {
    await holder.stop();
    await d2.stop();
    await d1.stop();
  }
});
