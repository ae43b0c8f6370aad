/**
 * Many doorways, one network (issue 16, end to end): one conductor-emulator process; doorway
 * D1 next to it, D2 and D3 in front of it in proxy mode, each linked to D1 only (`--peers`), so
 * D2 and D3 know each other through the DHT and the trust layer. An item only D2 keeps (its
 * author, browser C, has left) is fetched by browser B, attached to D3, and served by D3's
 * `/store/<hash>` to a plain web client. An item only browser A (attached to D2) holds is found
 * by B through the DHT and comes through the doorways. Then A, with D3 next in its list, sees
 * D2 die: its app moves to D3 within 10 s and keeps working — a new fetch, and the trust
 * layer through D3.
 */
import { createHash } from 'node:crypto';
import { expect, specFiles, test } from './fixtures.ts';
import {
  addFiles,
  fetchByLink,
  fetchInPage,
  item,
  openApp,
  shareLinkOf,
  trustConnected,
} from './support/app.ts';
import {
  type ConductorProcess,
  proxyArgs,
  startConductorProcess,
} from './support/conductor-process.ts';
import {
  type DoorwayProcess,
  doorwayPeerId,
  keptByDoorway,
  startDoorwayProcess,
} from './support/doorway-process.ts';
import { writeRandomFile } from './support/files.ts';

const files = specFiles();

/** The doorways `url` lists in `/api/v1/federation/doorways`: PeerId → how it learned of it. */
async function knownDoorways(url: string): Promise<Map<string, string[]>> {
  const body = (await (await fetch(new URL('/api/v1/federation/doorways', url))).json()) as {
    doorways: { peer_id: string; sources: string[] }[];
  };
  return new Map(body.doorways.map((d) => [d.peer_id, d.sources]));
}

test('three doorways behind one conductor: content found across them, and failover', async ({
  openProfile,
}) => {
  test.setTimeout(300_000);
  let conductor: ConductorProcess | undefined;
  const doorways: DoorwayProcess[] = [];
  try {
    conductor = await startConductorProcess();
    const d1 = await startDoorwayProcess(proxyArgs(conductor));
    doorways.push(d1);
    const d2 = await startDoorwayProcess([...proxyArgs(conductor), '--peers', d1.url]);
    doorways.push(d2);
    const d3 = await startDoorwayProcess([...proxyArgs(conductor), '--peers', d1.url]);
    doorways.push(d3);
    const [o2, o3] = [new URL(d2.url).origin, new URL(d3.url).origin];
    // D3 was told of D1 only; it learns of D2 from the DHT or the trust layer.
    const d2Id = await doorwayPeerId(d2.url);
    await expect
      .poll(async () => (await knownDoorways(d3.url)).get(d2Id) ?? [], { timeout: 60_000 })
      .not.toEqual([]);
    expect((await knownDoorways(d3.url)).get(d2Id)).not.toContain('config');

    // C, attached to D2 only, stores a commons item: D2 keeps a copy; then C leaves.
    const c = await openApp((await openProfile()).context, d2.url, { copies: 1 });
    await trustConnected(c);
    const first = await writeRandomFile(files.dir, 'on-d2.bin', 1024 * 1024);
    await c.getByTestId('ingest-reach').selectOption('commons');
    await addFiles(c, [first.path]);
    await expect(item(c, first.hash)).toBeVisible({ timeout: 60_000 });
    await expect.poll(async () => (await keptByDoorway(d2.url)).items, { timeout: 60_000 }).toBe(1);
    const link = await shareLinkOf(c, first.hash);
    await c.context().close();

    // B knows D3 only, which keeps nothing: the item comes from D2, across the doorways.
    const b = await openApp((await openProfile()).context, d3.url, { copies: 1 });
    await fetchByLink(b, new URL(link, d3.url).toString());
    await expect(item(b, first.hash)).toBeVisible();
    // And a plain web client gets it from D3 too.
    const response = await fetch(new URL(`/store/${first.hash}`, d3.url));
    expect(response.status).toBe(200);
    const body = Buffer.from(await response.arrayBuffer());
    expect(`sha256-${createHash('sha256').update(body).digest('hex')}`).toBe(first.hash);
    expect((await keptByDoorway(d3.url)).items).toBe(0);

    // A is attached to D2, with D3 next in its list of doorways; it offers nothing to keep.
    const a = await openApp((await openProfile()).context, d2.url, { keepOnDoorway: 0 });
    await a.evaluate(
      (list) => localStorage.setItem('elohim.doorways', JSON.stringify(list)),
      [o2, o3],
    );
    await a.reload();
    await expect(a.getByTestId('doorway-in-use')).toHaveAttribute('data-origin', o2, {
      timeout: 30_000,
    });
    await trustConnected(a);

    // An item only A holds: B, on D3, finds it through the DHT (D2 provides what its browsers
    // hold) and gets it through the doorways, which keep none of it.
    const mine = await writeRandomFile(files.dir, 'only-on-a.bin', 768 * 1024);
    await a.getByTestId('ingest-reach').selectOption('commons');
    await addFiles(a, [mine.path]);
    await expect(item(a, mine.hash)).toBeVisible({ timeout: 60_000 });
    await fetchInPage(b, await shareLinkOf(a, mine.hash), 120_000);
    await expect(item(b, mine.hash)).toBeVisible();
    expect((await keptByDoorway(d2.url)).items).toBe(1);
    expect((await keptByDoorway(d3.url)).items).toBe(0);

    // D2 dies: A's app moves to D3 within 10 s, its trust layer with it.
    await d2.stop();
    const stopped = Date.now();
    await expect(a.getByTestId('doorway-in-use')).toHaveAttribute('data-origin', o3, {
      timeout: 10_000,
    });
    expect(Date.now() - stopped).toBeLessThan(10_000);
    await expect(a.getByTestId('trust-status')).toHaveAttribute('data-doorway', o3, {
      timeout: 30_000,
    });
    await trustConnected(a);

    // A new item of B's, fetched by A without a reload (its page's origin is gone).
    const second = await writeRandomFile(files.dir, 'on-d3.bin', 512 * 1024);
    await b.getByTestId('ingest-reach').selectOption('commons');
    await addFiles(b, [second.path]);
    await expect(item(b, second.hash)).toBeVisible({ timeout: 60_000 });
    await fetchInPage(a, await shareLinkOf(b, second.hash), 120_000);
    await expect(item(a, second.hash)).toBeVisible();
  } finally {
    for (const doorway of doorways.reverse()) await doorway.stop();
    await conductor?.stop();
  }
});
