import type { Page } from '@playwright/test';
import { expect, specFiles, test } from './fixtures.ts';
import {
  addFiles,
  fetchByLink,
  item,
  openApp,
  openMeta,
  peerEntry,
  peerIdOf,
  shareLinkOf,
  waitReachable,
} from './support/app.ts';
import { writeRandomFile } from './support/files.ts';

const files = specFiles();

async function setTitle(page: Page, title: string) {
  await page.getByTestId('meta-title').fill(title);
  await page.getByTestId('meta-save').click();
}

async function addTag(page: Page, tag: string) {
  await page.getByTestId('meta-tag-input').fill(tag);
  await page.getByTestId('meta-tag-add').click();
  await expect(page.locator(`[data-testid="meta-tag"][data-tag="${tag}"]`)).toBeVisible();
}

async function tagsOf(page: Page): Promise<string[]> {
  const tags = await page
    .getByTestId('meta-tag')
    .evaluateAll((nodes) => nodes.map((n) => n.getAttribute('data-tag') ?? ''));
  return tags.sort();
}

/** Toggles "Work offline" in the network panel (closing the details dialog over it). */
async function goOffline(page: Page, offline: boolean) {
  if (await page.getByTestId('item-details').isVisible()) await page.keyboard.press('Escape');
  await page.getByTestId('network-offline-toggle').click();
  await expect(page.getByTestId('network-offline-toggle')).toHaveAttribute(
    'aria-pressed',
    String(offline),
  );
}

test('both edit offline, reconnect, and see the same merged description (criterion 3)', async ({
  doorway,
  openProfile,
}) => {
  test.setTimeout(240_000);
  const file = await writeRandomFile(files.dir, 'shared-notes.bin', 100_000);
  const a = await openApp((await openProfile()).context, doorway.url);
  await addFiles(a, [file.path]);
  await expect(item(a, file.hash)).toBeVisible({ timeout: 60_000 });
  await waitReachable(a);
  const aId = await peerIdOf(a);
  const link = await shareLinkOf(a, file.hash);
  expect(new URL(link).searchParams.get('meta')).toBeTruthy();

  const b = await openApp((await openProfile()).context, doorway.url);
  await fetchByLink(b, link);
  await b.goto(new URL('/', link).toString());
  await expect(item(b, file.hash)).toBeVisible();
  await expect(peerEntry(b, aId)).toHaveAttribute('data-direct', 'true', { timeout: 60_000 });
  await openMeta(a, file.hash);
  await openMeta(b, file.hash);
  await expect(b.getByTestId('meta-title')).toHaveValue('shared-notes.bin', { timeout: 30_000 });

  await goOffline(a, true);
  await goOffline(b, true);
  await openMeta(a, file.hash);
  await openMeta(b, file.hash);
  await setTitle(a, 'Notes, as A sees them');
  await addTag(a, 'x');
  await setTitle(b, 'Notes, as B sees them');
  await addTag(b, 'y');
  // Offline: neither sees the other's edit.
  await b.waitForTimeout(1_500);
  expect(await tagsOf(a)).toEqual(['x']);
  expect(await tagsOf(b)).toEqual(['y']);

  await goOffline(a, false);
  await goOffline(b, false);
  await openMeta(a, file.hash);
  await openMeta(b, file.hash);
  await expect.poll(() => tagsOf(a), { timeout: 60_000 }).toEqual(['x', 'y']);
  await expect.poll(() => tagsOf(b), { timeout: 60_000 }).toEqual(['x', 'y']);
  const titleA = await a.getByTestId('meta-title').inputValue();
  await expect(b.getByTestId('meta-title')).toHaveValue(titleA);
  expect(['Notes, as A sees them', 'Notes, as B sees them']).toContain(titleA);
  // No user action was needed, and each side recorded the other's edits as they arrived (the
  // raw events are listed under Activity's "Technical details", closed: attached, not shown).
  await expect(
    a.locator('[data-testid="activity-event"][data-kind="Local"]').first(),
  ).toBeAttached();
});

test('a late joiner backfills the history; an injected gap comes back as an Outlier and is filled; two tabs see each other at once', async ({
  doorway,
  openProfile,
}) => {
  test.setTimeout(180_000);
  const file = await writeRandomFile(files.dir, 'history.bin', 50_000);
  const profile = await openProfile();
  const a = await openApp(profile.context, doorway.url);
  await addFiles(a, [file.path]);
  await expect(item(a, file.hash)).toBeVisible({ timeout: 60_000 });
  await openMeta(a, file.hash);
  for (const tag of ['one', 'two', 'three']) await addTag(a, tag);

  // A second tab of the same browser: edits cross between tabs at once.
  const a2 = await profile.context.newPage();
  await a2.goto(doorway.url);
  await openMeta(a2, file.hash);
  await expect.poll(() => tagsOf(a2), { timeout: 10_000 }).toEqual(['one', 'three', 'two']);
  await addTag(a2, 'from-tab-2');
  await expect
    .poll(() => tagsOf(a), { timeout: 5_000 })
    .toEqual(['from-tab-2', 'one', 'three', 'two']);
  await waitReachable(a);

  // B joins after all that: it catches up on A's numbered events as Backfill.
  const b = await openApp((await openProfile()).context, doorway.url);
  await expect(
    b.locator('[data-testid="activity-event"][data-kind="Backfill"]').first(),
  ).toBeAttached({
    timeout: 60_000,
  });
  const kinds = await b
    .getByTestId('activity-event')
    .evaluateAll((nodes) => nodes.map((n) => n.getAttribute('data-kind')));
  expect(kinds.filter((k) => k === 'Backfill').length).toBeGreaterThanOrEqual(4);

  // Inject a gap: B forgets the last two events it stored from A (as if their Announces had
  // been lost). A's next edit then arrives after a gap: an Outlier, and the gap is filled.
  const aId = await a.evaluate(async () => {
    const text = document.querySelector('[data-testid="peers-panel"] code')?.getAttribute('title');
    return text ?? '';
  });
  const rewound = await rewindSyncCursor(b, aId, 2);
  expect(rewound.before).toBeGreaterThanOrEqual(3);
  await addTag(a, 'after-the-gap');
  await expect(b.locator('[data-testid="activity-event"][data-kind="Outlier"]')).toHaveCount(1, {
    timeout: 30_000,
  });
  await expect.poll(() => syncCursor(b, aId), { timeout: 30_000 }).toBe(rewound.before + 1);
});

/** B's contiguous cursor for events from `origin` (elohim-sync `cursors`). */
function syncCursor(page: Page, origin: string): Promise<number> {
  return page.evaluate(async (origin) => {
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const request = indexedDB.open('elohim-sync');
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
    const record = await new Promise<{ contiguous: number } | undefined>((resolve, reject) => {
      const request = db.transaction('cursors').objectStore('cursors').get(origin);
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
    db.close();
    return record?.contiguous ?? 0;
  }, origin);
}

/** Deletes the last `count` events stored from `origin` and moves its cursor back. */
function rewindSyncCursor(page: Page, origin: string, count: number) {
  return page.evaluate(
    async ({ origin, count }) => {
      const db = await new Promise<IDBDatabase>((resolve, reject) => {
        const request = indexedDB.open('elohim-sync');
        request.onsuccess = () => resolve(request.result);
        request.onerror = () => reject(request.error);
      });
      const tx = db.transaction(['remote', 'cursors'], 'readwrite');
      const cursors = tx.objectStore('cursors');
      const before = await new Promise<number>((resolve, reject) => {
        const request = cursors.get(origin);
        request.onsuccess = () => resolve(request.result?.contiguous ?? 0);
        request.onerror = () => reject(request.error);
      });
      for (let p = before - count + 1; p <= before; p++) {
        tx.objectStore('remote').delete([origin, p]);
      }
      cursors.put({ origin, contiguous: before - count });
      await new Promise<void>((resolve, reject) => {
        tx.oncomplete = () => resolve();
        tx.onerror = () => reject(tx.error);
      });
      db.close();
      return { before };
    },
    { origin, count },
  );
}
