import { expect, specFiles, test } from './fixtures.ts';
import {
  addFiles,
  fetchByLink,
  getContent,
  item,
  keptItem,
  openApp,
  shareLinkOf,
  waitReachable,
} from './support/app.ts';
import { writeRandomFile } from './support/files.ts';
import { countRecords, storedPieceBytes } from './support/idb.ts';

const KiB = 1024;
const files = specFiles();

/**
 * Mine vs kept for others (issue 20): what another peer asked this browser to keep is not in
 * its library but under "Kept for others", with whose it is and its size; stopping frees its
 * bytes and takes no new copies; what the person fetched stays theirs. The author's replica
 * health stays calm with few peers.
 */
test('a copy kept for another peer lives apart from the library, can be let go of; the author reads calm health, and an alarm once a copy is lost', async ({
  doorway,
  openProfile,
}) => {
  test.setTimeout(180_000);
  const kept = await writeRandomFile(files.dir, 'for-a.bin', 300 * KiB);
  const wanted = await writeRandomFile(files.dir, 'wanted.bin', 200 * KiB);
  const later = await writeRandomFile(files.dir, 'later.bin', 100 * KiB);

  // A asks for 2 copies of what it stores (peers only: not the doorway), at a phone's width.
  const a = await openApp((await openProfile()).context, doorway.url, {
    copies: 2,
    keepOnDoorway: 0,
  });
  await a.setViewportSize({ width: 390, height: 844 });
  await a.getByTestId('ingest-reach').selectOption('commons');
  await addFiles(a, [kept.path, wanted.path]);
  for (const f of [kept, wanted]) await expect(item(a, f.hash)).toBeVisible({ timeout: 60_000 });
  await waitReachable(a);
  const health = item(a, kept.hash).getByTestId('replica-health');
  // Nobody else online: calm words, no alarm.
  await expect(health).toHaveText(/Only on this device for now — copied when a peer can take it/, {
    timeout: 30_000,
  });
  await expect(health).toHaveAttribute('data-tone', 'calm');

  // B only opens the app; A offers both items, B keeps them for A.
  const b = await openApp((await openProfile()).context, doorway.url);
  for (const f of [kept, wanted]) {
    await expect(keptItem(b, f.hash)).toBeVisible({ timeout: 60_000 });
    // Not in B's library: B added and fetched nothing.
    await expect(item(b, f.hash)).toHaveCount(0);
  }
  await expect(b.getByRole('heading', { name: 'Kept for others' })).toBeVisible();
  const row = keptItem(b, kept.hash);
  await expect(row).toHaveAttribute('data-kind', 'copy');
  await expect(row.getByTestId('kept-whose')).toHaveText(/^A copy kept for \S/);
  await expect(row.getByTestId('kept-size')).toHaveText('300 KiB');
  await expect(row).toHaveAttribute('data-bytes', String(kept.size));
  await expect(b.getByTestId('kept-usage')).toHaveText(/Using 500 KiB of your 1\.0 GiB limit/);
  // The bytes are really there, verified.
  const copy = await getContent(b, kept.hash);
  expect(copy.status, copy.text).toBe(200);
  expect(copy.sha).toBe(kept.hash);

  // A, with one peer of the two it asks for: calm, grey, and says what comes next.
  await expect(health).toHaveText(/1 copy on a peer — more when others come online/, {
    timeout: 60_000,
  });
  await expect(health).toHaveAttribute('data-tone', 'calm');
  await expect(health.locator('.dot')).not.toHaveClass(/dot--wait/);
  // At 390 px the chip stays inside its row (it was clipped).
  const rowBox = await item(a, kept.hash).boundingBox();
  const chipBox = await health.boundingBox();
  if (!rowBox || !chipBox) throw new Error('the row or its chip is not laid out');
  expect(chipBox.x).toBeGreaterThanOrEqual(rowBox.x);
  expect(chipBox.x + chipBox.width).toBeLessThanOrEqual(rowBox.x + rowBox.width + 0.5);
  expect(chipBox.x + chipBox.width).toBeLessThanOrEqual(390);

  // B fetches one of them itself: now it is B's (in its library), no longer kept for A.
  await fetchByLink(b, await shareLinkOf(a, wanted.hash), 60_000);
  await expect(item(b, wanted.hash)).toBeVisible();
  await expect(item(b, wanted.hash)).toContainText(/fetched/);
  await expect(keptItem(b, wanted.hash)).toHaveCount(0);
  await expect(keptItem(b, kept.hash)).toBeVisible({ timeout: 30_000 });

  // B stops keeping for others: the kept copy's bytes go, B's own item stays.
  await b.getByTestId('kept-stop-all').click();
  await b.getByTestId('kept-stop-all-confirm').click();
  await expect(b.getByTestId('kept-status')).toHaveText(/1 item \(300 KiB\) freed/);
  await expect(keptItem(b, kept.hash)).toHaveCount(0);
  await expect(b.getByTestId('keep-for-others')).not.toBeChecked();
  expect(await storedPieceBytes(b)).toBe(wanted.size);
  expect((await countRecords(b)).manifests).toBe(1);
  await expect(item(b, wanted.hash)).toBeVisible();

  // B takes no new copies: A's next item is declined, nothing of it reaches B.
  await addFiles(a, [later.path]);
  const laterHealth = item(a, later.hash).getByTestId('replica-health');
  await expect(laterHealth).toHaveAttribute('title', /unwilling/, { timeout: 60_000 });
  await expect(laterHealth).toHaveAttribute('data-tone', 'calm');
  await expect(keptItem(b, later.hash)).toHaveCount(0);
  expect(await storedPieceBytes(b)).toBe(wanted.size);
  // The choice survives a reload.
  await b.reload();
  await expect(b.getByTestId('keep-for-others')).not.toBeChecked();

  // A learns at its next check (a peer coming online starts one) that B let its copy go, and
  // says so in amber: a loss, not a quiet network. C keeps nothing for others, so nothing
  // makes the copy again.
  const c = await openProfile();
  await c.context.addInitScript(() => localStorage.setItem('elohim.keepForOthers', '0'));
  await openApp(c.context, doorway.url);
  await expect(health).toHaveText(/A copy was lost — 0 of 2 copies on peers$/, {
    timeout: 60_000,
  });
  await expect(health).toHaveAttribute('data-tone', 'alarm');
});
