import type { Page } from '@playwright/test';
import { expect, specFiles, test } from './fixtures.ts';
import {
  addFiles,
  getContent,
  hashOfItemNamed,
  holdRestoreQueue,
  openApp,
  openInPage,
  openMeta,
  peerEntry,
  peerIdOf,
  trustConnected,
} from './support/app.ts';
import { refusalsOf, withAppLog } from './support/app-log.ts';
import { writeRandomFile } from './support/files.ts';
import { storedPieceBytes } from './support/idb.ts';
import { agentOf } from './support/people.ts';

const files = specFiles();

/** Settings → "Your devices", opened (it reads the trust layer once open). */
async function devicesOf(page: Page) {
  const devices = page.getByTestId('devices');
  if (!(await devices.evaluate((d) => (d as HTMLDetailsElement).open))) {
    await devices.locator('summary').click();
  }
  return devices;
}

/**
 * `offerer` adds `joiner` as one of its person's devices through the UI (Add a device, the
 * link, the same code on both, confirmed on both); the joiner then reloads as the person.
 */
async function pair(offerer: Page, joiner: Page, name: string) {
  const devices = await devicesOf(offerer);
  await devices.getByTestId('device-add').click();
  const link = await devices.getByTestId('pairing-link').inputValue();
  expect(link).toMatch(/\/pair#/);
  await joiner.goto(link);
  const join = joiner.getByTestId('pair-join');
  await join.getByTestId('pair-name').fill(name);
  await join.getByTestId('pair-start').click();
  await expect(join.getByTestId('pair-code')).toHaveText(/^\d{3} \d{3}$/, { timeout: 60_000 });
  await expect(devices.getByTestId('pairing-code')).toHaveText(
    (await join.getByTestId('pair-code').textContent()) ?? 'none',
    { timeout: 30_000 },
  );
  await join.getByTestId('pair-confirm').click();
  await devices.getByTestId('pairing-confirm').click();
  await expect(devices.getByTestId('pairing-done')).toContainText(name, { timeout: 30_000 });
  await expect(joiner.getByTestId('my-agent-key')).toHaveAttribute(
    'title',
    await agentOf(offerer),
    { timeout: 60_000 },
  );
}

async function storePrivate(page: Page, path: string, name: string): Promise<string> {
  await page.getByTestId('ingest-reach').selectOption('private');
  await addFiles(page, [path]);
  return hashOfItemNamed(page, name);
}

test('pairing: a second browser becomes the same person and opens a private item while it arrives; a stranger gets nothing; a device added elsewhere is announced; once removed, a new private item does not reach it', async ({
  doorway,
  openProfile,
}) => {
  test.setTimeout(300_000);
  const first = await writeRandomFile(files.dir, 'first.bin', 200_000);
  const second = await writeRandomFile(files.dir, 'second.bin', 120_000);
  const later = await writeRandomFile(files.dir, 'later.bin', 90_000);
  const shared = await writeRandomFile(files.dir, 'shared.bin', 60_000);

  // A's first device stores a private item.
  // One copy of what it stores goes to a peer that may hold it: for private items, only the
  // person's own devices (none until it pairs one).
  const one = await openApp((await withAppLog(openProfile)()).context, doorway.url, { copies: 1 });
  const refusals = refusalsOf(one);
  await trustConnected(one);
  const agentA = await agentOf(one);
  const firstHash = await storePrivate(one, first.path, 'first.bin');

  // A second browser, its own person so far.
  const twoProfile = await openProfile();
  const two = await openApp(twoProfile.context, doorway.url);
  await trustConnected(two);
  const before = await agentOf(two);
  expect(before).not.toBe(agentA);

  // Device 1 offers a one-time link; device 2 opens it; both show the same code. Device 2's
  // restore queue is held back, so what it opens next is not stored here yet.
  const queueHeld = await holdRestoreQueue(twoProfile.context, doorway.url);
  await pair(one, two, 'Laptop');

  // Device 2 reloads as A, and opens A's private item while it is still arriving: sealed
  // pieces stream from device 1 and are opened as they come. Then its queue fetches it.
  await trustConnected(two);
  const waiting = two.locator(`[data-testid="restore-item"][data-hash="${firstHash}"]`);
  await expect(waiting).toContainText('waiting');
  await expect(waiting.getByTestId('restore-open')).toHaveAttribute('href', /\/content\//);
  const opened = await getContent(two, firstHash);
  expect(opened.status, opened.text).toBe(200);
  expect(opened.sha).toBe(first.hash);
  await expect(waiting).toContainText('waiting');
  await queueHeld.close();
  await expect(two.locator(`[data-testid="item"][data-hash="${firstHash}"]`)).toBeVisible({
    timeout: 60_000,
  });
  // Device 1 lists it, and says nothing of a new device: it added it itself.
  const devices = await devicesOf(one);
  await expect(one.getByTestId('new-device')).toHaveCount(0);
  const laptop = devices.locator('[data-testid="device"]', { hasText: 'Laptop' });
  await expect(laptop).toHaveAttribute('data-removed', '0');

  // While paired, a private item device 1 stores next comes to device 2 by itself (a copy to
  // the person's own device), into its library.
  const laterHash = await storePrivate(one, later.path, 'later.bin');
  await expect(two.locator(`[data-testid="item"][data-hash="${laterHash}"]`)).toBeVisible({
    timeout: 60_000,
  });
  expect((await getContent(two, laterHash)).sha).toBe(later.hash);

  // A commons item device 1 stores reaches device 2 too, and each announces its copy: the
  // trust layer keeps both devices in A's record, and device 1's details name device 2.
  await one.getByTestId('ingest-reach').selectOption('commons');
  await addFiles(one, [shared.path]);
  const sharedHash = await hashOfItemNamed(one, 'shared.bin');
  await expect(two.locator(`[data-testid="item"][data-hash="${sharedHash}"]`)).toBeVisible({
    timeout: 60_000,
  });
  const details = one.getByTestId('item-details');
  await expect(async () => {
    // The listing is read when the details open: open them again until device 2 is in it.
    if (await details.isVisible()) await one.keyboard.press('Escape');
    await openMeta(one, sharedHash);
    const listing = details.getByTestId('trust-listing');
    await expect(listing).toHaveAttribute('data-mine', 'true', { timeout: 10_000 });
    await expect(listing).toContainText('Also on your device Laptop', { timeout: 1_000 });
  }).toPass({ timeout: 60_000 });
  await one.keyboard.press('Escape');
  await expect(details).toBeHidden();

  // A stranger asks for the same hash: refused, zero bytes.
  const stranger = await openApp((await openProfile()).context, doorway.url);
  await trustConnected(stranger);
  const refused = await getContent(stranger, firstHash);
  expect(refused.status).toBe(404);
  expect(await storedPieceBytes(stranger)).toBe(0);

  // That browser is then added as one of A's devices, from device 2: device 1, which did not
  // add it, hears of it from the trust layer and says so, until A says it was them.
  await pair(two, stranger, 'Phone');
  const notice = one.getByTestId('new-device');
  await expect(notice).toContainText('Phone', { timeout: 60_000 });
  await expect(notice).toContainText('Settings → Your devices');
  await notice.getByTestId('new-device-ok').click();
  await expect(notice).toHaveCount(0);

  // Device 2 is removed (a lost laptop): a private item stored after that does not reach it.
  await laptop.getByRole('button', { name: 'Remove' }).click();
  await laptop.getByTestId('device-remove').click();
  await expect(laptop).toHaveAttribute('data-removed', '1', { timeout: 30_000 });
  await one.getByTestId('ingest-reach').selectOption('private');
  const secondHash = await storePrivate(one, second.path, 'second.bin');
  // Device 2, still connected to device 1, asks for it (within the page: its node stays up):
  // device 1's gate now refuses it.
  const twoPeer = await peerIdOf(two);
  await expect(peerEntry(two, await peerIdOf(one))).toHaveAttribute('data-direct', 'true', {
    timeout: 60_000,
  });
  await openInPage(two, `/get/${secondHash}`);
  await expect(two.getByTestId('fetch-status')).toHaveAttribute('role', 'alert', {
    timeout: 120_000,
  });
  await expect
    .poll(
      () =>
        refusals.some(
          (line) =>
            line.includes(secondHash) &&
            line.includes(twoPeer) &&
            line.includes("is not one of the owner's own devices"),
        ),
      { timeout: 30_000 },
    )
    .toBe(true);
  expect((await getContent(two, secondHash)).status).toBe(404);
  await expect(two.locator(`[data-testid="item"][data-hash="${secondHash}"]`)).toHaveCount(0);
  // The first device still opens both.
  expect((await getContent(one, secondHash)).sha).toBe(second.hash);
});
