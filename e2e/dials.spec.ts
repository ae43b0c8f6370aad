/**
 * Browser-to-browser dials through a doorway's relay, between real nodes in real pages: many
 * peers reaching one at once, and a connection closed on one side let go on the other.
 */
import type { Page } from '@playwright/test';
import { expect, test } from './fixtures.ts';
import { serveHarness } from './support/harness.ts';

interface DialPeers {
  listen(doorway: string): Promise<{ peerId: string; addrs: string[] }>;
  crowd(doorway: string, count: number): Promise<void>;
  dialAll(
    addrs: string[],
    timeoutMs: number,
  ): Promise<{ ok: boolean; direct: boolean; error: string }[]>;
  closeAll(peerId: string): Promise<void>;
  connectionsTo(peerId: string): number;
  peerIds(): string[];
}

const CROWD = 8;
/** The `openProfile` fixture, as far as these tests use it. */
type OpenProfile = () => Promise<{ context: { newPage(): Promise<Page> } }>;

test.describe('relay-signalled dials', () => {
  let harness: Awaited<ReturnType<typeof serveHarness>>;
  test.beforeAll(async () => {
    harness = await serveHarness('e2e/harness/dial-peers.ts', 'dial-peers');
  });
  test.afterAll(async () => {
    await harness?.stop();
  });

  async function harnessPage(openProfile: OpenProfile) {
    const page = await (await openProfile()).context.newPage();
    await page.goto(harness.url);
    await page.waitForFunction(() => 'dialPeers' in window);
    return page;
  }
  /** The harness's functions, called in `page`. */
  function peers(page: Page) {
    type W = { dialPeers: DialPeers };
    return {
      listen: (doorway: string) =>
        page.evaluate((o) => (window as unknown as W).dialPeers.listen(o), doorway),
      crowd: (doorway: string, count: number) =>
        page.evaluate(([o, n]) => (window as unknown as W).dialPeers.crowd(o, n), [
          doorway,
          count,
        ] as const),
      dialAll: (addrs: string[]) =>
        page.evaluate((a) => (window as unknown as W).dialPeers.dialAll(a, 30_000), addrs),
      closeAll: (peerId: string) =>
        page.evaluate((p) => (window as unknown as W).dialPeers.closeAll(p), peerId),
      connectionsTo: (peerId: string) =>
        page.evaluate((p) => (window as unknown as W).dialPeers.connectionsTo(p), peerId),
      peerIds: () => page.evaluate(() => (window as unknown as W).dialPeers.peerIds()),
    };
  }

  /** A listening peer in one page and `count` peers in another, all on `doorway`. */
  async function listenerAndDialers(openProfile: OpenProfile, doorway: string, count: number) {
    const origin = new URL(doorway).origin;
    const a = peers(await harnessPage(openProfile));
    const listener = await a.listen(origin);
    const dialers = peers(await harnessPage(openProfile));
    await dialers.crowd(origin, count);
    return { a, listener, dialers };
  }

  test('eight peers dialling one browser at the same moment all reach it, directly', async ({
    doorway,
    openProfile,
  }) => {
    test.setTimeout(120_000);
    const { a, listener, dialers } = await listenerAndDialers(openProfile, doorway.url, CROWD);
    // All of them come through the one doorway, so A sees them arrive from one address.
    const results = await dialers.dialAll(listener.addrs);
    expect(results.filter((r) => !r.ok).map((r) => r.error)).toEqual([]);
    expect(results.every((r) => r.direct)).toBe(true);
    for (const id of await dialers.peerIds()) expect(await a.connectionsTo(id)).toBeGreaterThan(0);
  });

  test('a connection one browser closes is let go by the other at once', async ({
    doorway,
    openProfile,
  }) => {
    test.setTimeout(120_000);
    const { a, listener, dialers: b } = await listenerAndDialers(openProfile, doorway.url, 1);
    expect(await b.dialAll(listener.addrs)).toEqual([{ ok: true, direct: true, error: '' }]);
    const [bId = ''] = await b.peerIds();
    expect(await a.connectionsTo(bId)).toBeGreaterThan(0);

    await b.closeAll(listener.peerId);
    // The closing side's DTLS and SCTP end at once; without watching them, A held the dead
    // connection until ICE consent ran out (tens of seconds), counting it against its
    // connection limit and showing B as still there.
    await expect.poll(() => a.connectionsTo(bId), { timeout: 8_000 }).toBe(0);
  });
});
