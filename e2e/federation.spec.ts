/**
 * Two doorway processes linked with `--peers` (issue 16): an item browser A keeps on D1 is
 * served by D2's `/store/<hash>` (D2 finds D1 as its holder, through the DHT when they are not
 * linked directly), and browser B, attached to D2 only, fetches it by its share link. And an
 * item only A's browser holds, on a D1 that keeps nothing, reaches D2 through D1's holdings
 * record in the DHT and its pull-through from A.
 */
import { createHash } from 'node:crypto';
import { expect, specFiles, test } from './fixtures.ts';
import { addFiles, fetchByLink, item, openApp, shareLinkOf } from './support/app.ts';
import { keptByDoorway, startDoorwayProcess } from './support/doorway-process.ts';
import { writeRandomFile } from './support/files.ts';

const MiB = 1024 * 1024;
const files = specFiles();

test('an item kept by one doorway is served and fetched through another', async ({
  openProfile,
}) => {
  test.setTimeout(180_000);
  const d1 = await startDoorwayProcess();
  const d2 = await startDoorwayProcess(['--peers', d1.url]);
  try {
    const file = await writeRandomFile(files.dir, 'federated.bin', 2 * MiB);
    const a = await openApp((await openProfile()).context, d1.url, { copies: 1 });
    // No other browser is online: no peer takes a copy, D1 keeps one.
    await a.getByTestId('ingest-reach').selectOption('commons');
    await addFiles(a, [file.path]);
    await expect(item(a, file.hash)).toBeVisible({ timeout: 60_000 });
    await expect.poll(async () => (await keptByDoorway(d1.url)).items, { timeout: 60_000 }).toBe(1);
    const link = new URL(await shareLinkOf(a, file.hash), d2.url).toString();

    // A plain web client asks D2, which keeps nothing: D1's copy comes through D2.
    const response = await fetch(new URL(`/store/${file.hash}`, d2.url));
    expect(response.status).toBe(200);
    const body = Buffer.from(await response.arrayBuffer());
    expect(`sha256-${createHash('sha256').update(body).digest('hex')}`).toBe(file.hash);
    expect((await keptByDoorway(d2.url)).items).toBe(0);

    // B knows only D2; A's browser is gone.
    await a.context().close();
    const b = await openApp((await openProfile()).context, d2.url);
    await fetchByLink(b, link);
    await expect(item(b, file.hash)).toBeVisible();
  } finally {
    await d2.stop();
    await d1.stop();
  }
});

test('an item only a browser holds, on a doorway that keeps nothing, is served by another doorway', async ({
  openProfile,
}) => {
  test.setTimeout(180_000);
  // D1 keeps no copies: the item lives in A's browser only. A tells D1 what it holds, D1
  // provides it in the DHT as itself, and D2 finds D1 there and pulls through it from A.
  const d1 = await startDoorwayProcess(['--store-quota', '0']);
  const d2 = await startDoorwayProcess(['--peers', d1.url]);
  try {
    const file = await writeRandomFile(files.dir, 'in-a-browser.bin', 2 * MiB);
    const a = await openApp((await openProfile()).context, d1.url);
    await a.getByTestId('ingest-reach').selectOption('commons');
    await addFiles(a, [file.path]);
    await expect(item(a, file.hash)).toBeVisible({ timeout: 60_000 });

    // Until A's list reached D1 and D1's record the DHT, D2 answers 404: ask again until 200.
    let body = Buffer.alloc(0);
    await expect
      .poll(
        async () => {
          const response = await fetch(new URL(`/store/${file.hash}`, d2.url));
          body = Buffer.from(await response.arrayBuffer());
          return response.status;
        },
        { timeout: 90_000, intervals: [2_000] },
      )
      .toBe(200);
    expect(`sha256-${createHash('sha256').update(body).digest('hex')}`).toBe(file.hash);
    expect((await keptByDoorway(d1.url)).items).toBe(0);
    expect((await keptByDoorway(d2.url)).items).toBe(0);
  } finally {
    await d2.stop();
    await d1.stop();
  }
});
