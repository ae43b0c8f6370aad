import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Page } from '@playwright/test';
import { expect, specFiles, test } from './fixtures.ts';
import { addFiles, item, openApp, trustConnected } from './support/app.ts';
import { startDoorwayProcess } from './support/doorway-process.ts';
import { writeRandomFile } from './support/files.ts';
import { JARGON, visibleText } from './support/words.ts';

const files = specFiles();

test('a fresh profile speaks plainly: a welcome that goes, no protocol words, a quiet Activity', async ({
  doorway,
  openProfile,
}) => {
  const { context } = await openProfile();
  const page = await openApp(context, doorway.url);
  const hint = page.getByTestId('first-run');
  await expect(hint).toBeVisible();
  await expect(hint).toContainText('drop a file');
  await expect(hint).toContainText('Open it here');

  // The node and the trust layer are up, and the sync log has recorded the new libraries…
  await trustConnected(page);
  await expect(page.getByTestId('reachable')).toHaveText(/reachable by other browsers/, {
    timeout: 30_000,
  });
  await expect(page.getByTestId('activity-event').first()).toBeAttached({ timeout: 30_000 });
  // …which is nothing a person did: Activity stays empty, and no protocol word is shown.
  await expect(page.getByTestId('activity-entry')).toHaveCount(0);
  await expect(page.getByTestId('activity')).toContainText('shows up here');
  expect(await visibleText(page)).not.toMatch(JARGON);
  // The detail is one click away.
  await page.getByTestId('network-details').locator('summary').click();
  expect(await visibleText(page, '[data-testid="peers-panel"]')).toMatch(/12D3Koo/);
  await page.getByTestId('network-details').locator('summary').click();

  // Adding a file: the hint goes, Activity says what happened, in words, once.
  const photo = await writeRandomFile(files.dir, 'photo.jpg', 40_000);
  await addFiles(page, [photo.path]);
  await expect(item(page, photo.hash)).toBeVisible({ timeout: 60_000 });
  await expect(hint).toHaveCount(0);
  const entries = page.getByTestId('activity-entry');
  await expect(entries.first()).toHaveText(/^You added photo\.jpg/, { timeout: 30_000 });
  // The description filled in for the new item is part of adding it, not an edit of its own.
  await expect(page.getByTestId('activity-event').nth(1)).toBeAttached({ timeout: 30_000 });
  await expect(entries).toHaveCount(1);
  expect(await visibleText(page, 'aside')).not.toMatch(JARGON);
  expect(await visibleText(page, 'header')).not.toMatch(JARGON);
  await page.reload();
  await expect(item(page, photo.hash)).toBeVisible();
  await expect(page.getByTestId('first-run')).toHaveCount(0);
});

test('the welcome can be dismissed for good', async ({ doorway, openProfile }) => {
  const page = await openApp((await openProfile()).context, doorway.url);
  await page.getByTestId('first-run').getByRole('button', { name: 'Got it' }).click();
  await expect(page.getByTestId('first-run')).toHaveCount(0);
  await page.reload();
  await expect(page.getByRole('button', { name: 'Choose files…' })).toBeEnabled();
  await expect(page.getByTestId('first-run')).toHaveCount(0);
});

test('People speaks to the tab it is in: starting, or another tab runs the network', async ({
  doorway,
  openProfile,
}) => {
  const { context } = await openProfile();
  const page = await context.newPage();
  await page.goto(doorway.url);
  // From the first paint on, the only tab never sends the person to a second one.
  const people = page.getByTestId('trust-panel');
  await expect(people).toBeVisible();
  await expect(people).not.toContainText(/another tab|open People there/);
  await trustConnected(page);
  const second = await context.newPage();
  await second.goto(doorway.url);
  await expect(second.getByTestId('network-role')).toHaveAttribute('data-role', 'follower', {
    timeout: 30_000,
  });
  await expect(second.getByTestId('trust-panel')).toContainText('Another tab of this browser');
});

test('the share sheet: link, Copy that copies it, a QR code of sane size, Esc closes it', async ({
  doorway,
  openProfile,
}) => {
  const { context } = await openProfile();
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], {
    origin: new URL(doorway.url).origin,
  });
  const page = await openApp(context, doorway.url);
  const file = await writeRandomFile(files.dir, 'sheet.bin', 20_000);
  await addFiles(page, [file.path]);
  await item(page, file.hash).getByRole('button', { name: 'sheet.bin', exact: true }).click();
  const details = page.getByTestId('item-details');
  const link = await details.getByTestId('details-share-link').inputValue();
  const opener = details.getByTestId('open-share-sheet');
  await opener.click();

  const sheet = page.getByTestId('share-sheet');
  await expect(sheet.getByRole('heading', { name: 'Share sheet.bin' })).toBeVisible();
  await expect(sheet.getByTestId('share-sheet-link')).toHaveValue(link);
  await expect(sheet.getByTestId('share-reach')).toContainText('Anyone who opens the link');
  const qr = sheet.getByRole('img', { name: 'QR code of the link to sheet.bin' });
  await expect(qr).toBeVisible();
  const size = await qr.evaluate(async (img: HTMLImageElement) => {
    await img.decode();
    return { width: img.naturalWidth, height: img.naturalHeight, src: img.src.slice(0, 22) };
  });
  expect(size.src).toBe('data:image/png;base64,');
  expect(size.width).toBe(size.height);
  expect(size.width).toBeGreaterThanOrEqual(120);
  expect(size.width).toBeLessThanOrEqual(1024);

  await sheet.getByRole('button', { name: 'Copy the link to sheet.bin' }).click();
  await expect(sheet.getByTestId('copy-status')).toHaveText('Copied');
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(link);

  await page.keyboard.press('Escape');
  await expect(sheet).toHaveCount(0);
  // Esc closed the sheet only: the details are still open, focus back on "Share…".
  await expect(details).toBeVisible();
  await expect(opener).toBeFocused();
});

test('an empty file is refused with a plain message; finished rows clear together', async ({
  doorway,
  openProfile,
}) => {
  const page = await openApp((await openProfile()).context, doorway.url);
  const empty = [join(files.dir, 'empty-1.txt'), join(files.dir, 'empty-2.txt')];
  for (const path of empty) await writeFile(path, '');
  await addFiles(page, empty);
  const rows = page.getByTestId('ingest');
  await expect(rows).toHaveCount(2);
  await expect(rows.first().getByTestId('ingest-state')).toContainText('Not stored');
  await expect(rows.first()).toContainText('Empty file (0 bytes)');
  await expect(page.getByTestId('item')).toHaveCount(0);
  await expect(page.getByTestId('summary')).toContainText('0 items');
  await page.getByTestId('ingest-clear').click();
  await expect(rows).toHaveCount(0);
});

test('offline from the start, People says so calmly: nothing "waiting", Family not stuck asking', async ({
  openProfile,
}) => {
  const door = await startDoorwayProcess();
  try {
    const { context } = await openProfile();
    const page = await openApp(context, door.url);
    await trustConnected(page);
    // What the app sends by itself on connecting (the agent's registration) is delivered
    // before the doorway goes: this is about a person who changed nothing, not about a write
    // the doorway's death cut off (that one rightly waits).
    await expect(page.getByTestId('contacts-heading')).toHaveAttribute('data-status', 'loaded', {
      timeout: 30_000,
    });
    await expect.poll(() => trustOutboxSize(page), { timeout: 30_000 }).toBe(0);
    await door.stop();
    await context.setOffline(true);
    // The app comes back from its service worker, its trust layer unreachable from the start.
    await page.reload();
    await expect(page.getByRole('button', { name: 'Choose files…' })).toBeEnabled();
    const status = page.getByTestId('trust-status');
    await expect(status).toHaveAttribute('data-status', /offline|connecting/, { timeout: 30_000 });
    await expect(status).toHaveAttribute('data-status', 'offline', { timeout: 30_000 });
    await expect(page.getByTestId('family-unknown')).toContainText('once you are connected');
    // The person changed nothing: nothing is said to be waiting.
    await expect(status).not.toContainText('waiting');
    await expect(page.getByTestId('trust-panel')).not.toContainText('Asking');
  } finally {
    await door.stop();
  }
});

/** Changes the page's trust client still has to send (its IndexedDB outbox). */
function trustOutboxSize(page: Page): Promise<number> {
  return page.evaluate(
    () =>
      new Promise<number>((resolve, reject) => {
        const open = indexedDB.open('elohim-trust');
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const db = open.result;
          if (!db.objectStoreNames.contains('outbox')) {
            db.close();
            resolve(0);
            return;
          }
          const count = db.transaction('outbox').objectStore('outbox').count();
          count.onsuccess = () => {
            db.close();
            resolve(count.result);
          };
          count.onerror = () => reject(count.error);
        };
      }),
  );
}
