/**
 * Transfers as a person sees them (issue 20): a link to something nobody holds ends within
 * seconds saying whom it asked; a fetch shows its current rate, the time left and where the
 * bytes come from, and a long one ending in a background tab notifies; the sender sees what it
 * is sending and to whom; leaving a page mid-fetch throws nothing.
 */
import type { Page } from '@playwright/test';
import { expect, specFiles, test } from './fixtures.ts';
import {
  addFiles,
  item,
  openApp,
  openInPage,
  peerEntry,
  peerIdOf,
  shareLinkOf,
  trustConnected,
  waitReachable,
} from './support/app.ts';
import { writeRandomFile } from './support/files.ts';

const MiB = 1024 * 1024;
const files = specFiles();

/** Uncaught exceptions and unhandled rejections of a page, from now on. */
function pageErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(`${error.name}: ${error.message}`));
  return errors;
}

test('a link to something nobody holds fails within seconds, saying whom it asked', async ({
  doorway,
  openProfile,
}) => {
  test.setTimeout(120_000);
  const a = await openApp((await openProfile()).context, doorway.url);
  await waitReachable(a);
  const aId = await peerIdOf(a);
  const b = await openApp((await openProfile()).context, doorway.url);
  const errors = pageErrors(b);
  await trustConnected(b);
  await expect(peerEntry(b, aId)).toHaveAttribute('data-direct', 'true', { timeout: 60_000 });

  const started = Date.now();
  await openInPage(b, `/get/sha256-${'ab'.repeat(32)}?name=holiday.mov`);
  const status = b.getByTestId('fetch').getByTestId('fetch-status');
  // Target ~5 s; twice that as slack for a loaded machine. It used to take a minute.
  await expect(status).toHaveText(
    'Asked 1 peer, the trust layer and the doorway; nobody holds it. ' +
      'Try again when whoever shared it has the app open.',
    { timeout: 10_000 },
  );
  expect(Date.now() - started).toBeLessThan(10_000);
  await expect(status).toHaveAttribute('role', 'alert');
  // Trying again can work (the sharer may open the app), and it looks again.
  await b.getByTestId('fetch').getByRole('button', { name: 'Try again' }).click();
  await expect(status).toHaveText(/Looking for peers that hold it…|nobody holds it/);
  expect(errors).toEqual([]);
});

interface Backgroundable {
  elohimTest: {
    setHidden(hidden: boolean): void;
    notices: { title: string; body: string | undefined }[];
  };
}

/**
 * Runs in the page before its scripts: `document.hidden` as the test sets it (headless
 * Chromium never hides a tab, neither in the background nor minimized), and the notifications
 * the page shows, recorded as they are shown.
 */
function backgroundable(): void {
  let hidden = false;
  const notices: Backgroundable['elohimTest']['notices'] = [];
  Object.defineProperty(Document.prototype, 'hidden', { get: () => hidden, configurable: true });
  Object.defineProperty(Document.prototype, 'visibilityState', {
    get: () => (hidden ? 'hidden' : 'visible'),
    configurable: true,
  });
  const show = ServiceWorkerRegistration.prototype.showNotification;
  ServiceWorkerRegistration.prototype.showNotification = function (title, options) {
    notices.push({ title, body: options?.body });
    return show.call(this, title, options);
  };
  (window as unknown as Backgroundable).elohimTest = {
    notices,
    setHidden(next) {
      hidden = next;
      document.dispatchEvent(new Event('visibilitychange'));
    },
  };
}

test('the receiver sees rate, time left and the peer, and a notification when it ends in the background; the sender sees the upload; leaving mid-fetch throws nothing', async ({
  doorway,
  openProfile,
}) => {
  test.setTimeout(600_000);
  const file = await writeRandomFile(files.dir, 'big.bin', 120 * MiB);
  // A holds it alone (no copy on the doorway), so the bytes come from A.
  const a = await openApp((await openProfile()).context, doorway.url, { keepOnDoorway: 0 });
  const aErrors = pageErrors(a);
  await addFiles(a, [file.path]);
  await expect(item(a, file.hash)).toBeVisible({ timeout: 120_000 });
  await waitReachable(a);
  const aId = await peerIdOf(a);
  const link = await shareLinkOf(a, file.hash);

  // B allowed notifications; the fetch finishes while B's tab is in the background.
  const bContext = (await openProfile()).context;
  await bContext.grantPermissions(['notifications'], { origin: new URL(doorway.url).origin });
  await bContext.addInitScript(backgroundable);
  const b = await openApp(bContext, doorway.url);
  const bErrors = pageErrors(b);
  await expect(peerEntry(b, aId)).toHaveAttribute('data-direct', 'true', { timeout: 60_000 });
  const bId = await peerIdOf(b);
  const status = b.getByTestId('fetch-status');
  const seen = new Set<string>();
  const watching = (async () => {
    // Every status line shown until the end, to check none says "0 B of 0 B".
    for (let i = 0; i < 2_000; i++) {
      const text = await status.textContent({ timeout: 1_000 }).catch(() => null);
      if (text) seen.add(text);
      if (text?.startsWith('Fetched and verified')) return;
      await b.waitForTimeout(50);
    }
  })();
  await openInPage(b, link);
  const title = await b.title();

  // Receiver: the current rate and the time left, from A over a direct connection.
  await expect(status).toHaveText(/MiB of 120 MiB · [\d.]+ (KiB|MiB)\/s · .*left/, {
    timeout: 60_000,
  });
  const fromA = b.locator(`[data-testid="fetch-peer"][data-peer-id="${aId}"]`);
  await expect(fromA).toContainText('direct');
  await expect(b.getByTestId('fetch-sources')).toHaveText('from 1 peer, direct');
  // Sender: what it is sending, to whom, how fast.
  const upload = a.locator(`[data-testid="upload"][data-peer-id="${bId}"]`);
  await expect(upload).toContainText('big.bin', { timeout: 30_000 });
  await expect(upload).toContainText('to a peer (direct)');
  await expect(upload.getByTestId('upload-status')).toHaveText(/\/s|sent/);

  // The person goes to another tab; the long fetch ends there with a system notification.
  await b.evaluate(() => (window as unknown as Backgroundable).elohimTest.setHidden(true));
  await expect(status).toHaveText(/Fetched and verified/, { timeout: 180_000 });
  await expect
    .poll(() => b.evaluate(() => (window as unknown as Backgroundable).elohimTest.notices))
    .toEqual([{ title: 'big.bin is here', body: 'Fetched and verified.' }]);
  expect(await b.title()).toBe(title);
  await b.evaluate(() => (window as unknown as Backgroundable).elohimTest.setHidden(false));
  await watching;
  expect([...seen].filter((t) => /\b0 B of 0 B\b/.test(t))).toEqual([]);
  // Done on the sender too; the entry goes a little later (bounded, no leak).
  await expect(upload).toHaveAttribute('data-state', 'done', { timeout: 30_000 });
  await expect(upload).toHaveCount(0, { timeout: 60_000 });

  // C starts the same fetch and leaves the page mid-transfer, then cancels another: no page
  // error either way.
  const c = await openApp((await openProfile()).context, doorway.url);
  const cErrors = pageErrors(c);
  await expect(peerEntry(c, aId)).toHaveAttribute('data-direct', 'true', { timeout: 60_000 });
  await openInPage(c, link);
  await expect(c.getByTestId('fetch-status')).toHaveText(/MiB of 120 MiB/, { timeout: 60_000 });
  await openInPage(c, '/');
  await expect(c.getByTestId('fetch')).toHaveCount(0);
  // The fetch that was left goes on, and ends on both sides.
  const toC = a.locator(`[data-testid="upload"][data-peer-id="${await peerIdOf(c)}"]`);
  await expect(toC).toBeVisible({ timeout: 60_000 });
  // (Not "done" on A first: under load a pause of a few seconds marks an upload done early.)
  await expect(item(c, file.hash)).toBeVisible({ timeout: 240_000 });
  // Leaving for another site mid-fetch: the page goes away without an error while it is up.
  const d = await openApp((await openProfile()).context, doorway.url);
  const dErrors = pageErrors(d);
  await expect(peerEntry(d, aId)).toHaveAttribute('data-direct', 'true', { timeout: 60_000 });
  await openInPage(d, link);
  await expect(d.getByTestId('fetch-status')).toHaveText(/MiB of 120 MiB/, { timeout: 60_000 });
  await d.getByTestId('fetch').getByRole('button', { name: 'Cancel' }).click();
  await expect(d.getByTestId('fetch-status')).toHaveText('Cancelled.');
  await openInPage(d, '/');
  await d.goto('about:blank');

  expect(aErrors).toEqual([]);
  expect(bErrors).toEqual([]);
  expect(cErrors).toEqual([]);
  expect(dErrors).toEqual([]);
});

test('a small item arrives in a moment', async ({ doorway, openProfile }) => {
  test.setTimeout(180_000);
  const clip = await writeRandomFile(files.dir, 'clip.bin', 19 * 1024);
  const a = await openApp((await openProfile()).context, doorway.url, { keepOnDoorway: 0 });
  await addFiles(a, [clip.path]);
  await expect(item(a, clip.hash)).toBeVisible({ timeout: 60_000 });
  await waitReachable(a);
  const aId = await peerIdOf(a);
  const link = await shareLinkOf(a, clip.hash);
  const b = await openApp((await openProfile()).context, doorway.url);
  await expect(peerEntry(b, aId)).toHaveAttribute('data-direct', 'true', { timeout: 60_000 });

  const status = b.getByTestId('fetch-status');
  const timeline: string[] = [];
  const started = Date.now();
  const watching = (async () => {
    let last = '';
    for (let i = 0; i < 600; i++) {
      const text = (await status.textContent({ timeout: 1_000 }).catch(() => null)) ?? '';
      if (text !== last) timeline.push(`${Date.now() - started} ms: ${text}`);
      last = text;
      if (text.startsWith('Fetched and verified')) return;
      await b.waitForTimeout(20);
    }
  })();
  await openInPage(b, link);
  await expect(status).toHaveText(/Fetched and verified/, { timeout: 60_000 });
  const took = Date.now() - started;
  await watching;
  console.log(timeline.join('\n'));
  // It took 7.3 s in the issue (2.3 s here now): a few round trips and a write, with slack.
  expect(took).toBeLessThan(5_000);
});
