/**
 * The doorway as a keeper, seen from the app (issue 15 point 4): a commons item a browser
 * stores is kept on the doorway, its library says so, and a browser that never met the author
 * fetches it from the doorway over WebSockets once the author is gone. With "Keep public
 * items on the doorway" off, nothing new goes to it.
 */
import { createHash } from 'node:crypto';
import type { Page } from '@playwright/test';
import { expect, specFiles, test } from './fixtures.ts';
import {
  addFiles,
  downloadAndHash,
  fetchByLink,
  item,
  openApp,
  shareLinkOf,
  waitReachable,
} from './support/app.ts';
import {
  doorwayPeerId,
  keptByDoorway,
  startRestartableDoorway,
} from './support/doorway-process.ts';
import { writeRandomFile } from './support/files.ts';

const MiB = 1024 * 1024;

const files = specFiles();

async function storeCommons(page: Page, path: string, hash: string): Promise<void> {
  await page.getByTestId('ingest-reach').selectOption('commons');
  await addFiles(page, [path]);
  await expect(item(page, hash)).toBeVisible({ timeout: 60_000 });
}

test('a commons item is kept on the doorway: its library says so, and a browser that never met its author gets it from the doorway; turned off, nothing new is kept', async ({
  openProfile,
}) => {
  test.setTimeout(240_000);
  // A doorway of this test's own (a fresh data directory, kept across its restart): its store
  // figures start at 0.
  const doorway = await startRestartableDoorway();
  try {
    const doorwayId = await doorwayPeerId(doorway.url);
    expect(await keptByDoorway(doorway.url)).toMatchObject({ items: 0, bytes: 0 });
    const file = await writeRandomFile(files.dir, 'public.bin', 3 * MiB);

    // A stores a commons file. No other browser is online: no peer takes a copy, the doorway does.
    const profileA = await openProfile();
    const a = await openApp(profileA.context, doorway.url, { copies: 1, chunkedAbove: MiB });
    await expect(a.getByTestId('keep-on-doorway')).toBeChecked();
    await storeCommons(a, file.path, file.hash);
    await waitReachable(a);
    const link = await shareLinkOf(a, file.hash);
    const health = item(a, file.hash).getByTestId('replica-health');
    await expect(health).toHaveText(/: Kept on the doorway · 0 of 1 copy on peers$/, {
      timeout: 60_000,
    });
    await expect(health).toHaveAttribute('data-doorway', 'kept');
    await expect(health).not.toContainText('waiting for peers');
    await expect(health).not.toContainText(doorwayId.slice(-6));
    const keptA = await keptByDoorway(doorway.url);
    expect(keptA.items).toBe(1);
    expect(keptA.bytes).toBeGreaterThanOrEqual(file.size);
    // Another tab of A's browser follows the leading tab's replicator: it says so too.
    const follower = await profileA.context.newPage();
    await follower.goto(a.url());
    await expect(item(follower, file.hash).getByTestId('replica-health')).toHaveText(
      /: Kept on the doorway · 0 of 1 copy on peers$/,
      { timeout: 30_000 },
    );
    await expect(item(follower, file.hash).getByTestId('replica-health')).toHaveAttribute(
      'data-doorway',
      'kept',
    );
    await follower.close();
    // The details say where the copy lives, in words.
    await item(a, file.hash).getByRole('button', { name: 'public.bin', exact: true }).click();
    await expect(a.getByTestId('copy-location-doorway')).toContainText('The doorway');
    await expect(a.getByTestId('details-replica-health')).toHaveText(/^Kept on the doorway/);

    // A's browser goes away for good.
    await profileA.close();

    // A plain web client (as curl would) gets the same bytes from the doorway's copy.
    const store = new URL(`/store/${file.hash}`, doorway.url);
    const response = await fetch(store);
    expect(response.status).toBe(200);
    expect(response.headers.get('ETag')).toBe(`"${file.hash}"`);
    expect(response.headers.get('Content-Disposition')).toContain('public.bin');
    const body = Buffer.from(await response.arrayBuffer());
    expect(`sha256-${createHash('sha256').update(body).digest('hex')}`).toBe(file.hash);

    // The doorway restarts (same data directory): what it kept is still there.
    await doorway.stop();
    await doorway.start();
    expect(await keptByDoorway(doorway.url)).toEqual(keptA);

    // B never met A: the link is served by the doorway, over the WebSocket B already has.
    const profileB = await openProfile();
    const b = await openApp(profileB.context, doorway.url);
    await fetchByLink(b, link, 120_000);
    await expect(
      b.locator(`[data-testid="fetch-peer"][data-peer-id="${doorwayId}"]`),
    ).toBeVisible();
    expect(await downloadAndHash(b, file.hash)).toBe(file.hash);
    // B only fetched: it authored nothing, so it offered the doorway nothing.
    await profileB.close();

    // C turns keeping on the doorway off, then stores a commons file: the doorway keeps nothing new.
    const other = await writeRandomFile(files.dir, 'not-kept.bin', 2 * MiB);
    const c = await openApp((await openProfile()).context, doorway.url, {
      copies: 1,
      chunkedAbove: MiB,
    });
    await c.getByTestId('keep-on-doorway').uncheck();
    await expect(c.getByTestId('keep-on-doorway')).not.toBeChecked();
    await storeCommons(c, other.path, other.hash);
    const short = item(c, other.hash).getByTestId('replica-health');
    // The replicator's round has run (its reason is shown) and asked the doorway nothing.
    await expect(short).toHaveText(
      /: Only on this device for now — copied when a peer can take it$/,
      {
        timeout: 60_000,
      },
    );
    await expect(short).toHaveAttribute('title', /\. /);
    await expect(short).not.toHaveAttribute('data-doorway', 'kept');
    // The doorway keeps what it kept before, and nothing of C's item.
    expect(await keptByDoorway(doorway.url)).toEqual(keptA);
  } finally {
    await doorway.close();
  }
});
