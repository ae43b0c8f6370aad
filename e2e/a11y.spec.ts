import AxeBuilder from '@axe-core/playwright';
import type { Page } from '@playwright/test';
import { expect, specFiles, test } from './fixtures.ts';
import { addFiles, item, openApp } from './support/app.ts';
import { writeRandomFile } from './support/files.ts';

const files = specFiles();

/** The serious and critical axe violations on the page now, one line each, so a failure says what. */
async function seriousViolations(page: Page): Promise<string[]> {
  const { violations } = await new AxeBuilder({ page }).analyze();
  return violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map(
      (v) =>
        `${v.impact} ${v.id}: ${v.help} — ${v.nodes
          .slice(0, 3)
          .map((n) => n.target.join(' '))
          .join(' | ')}`,
    );
}

test('no serious or critical accessibility violations in the main states', async ({
  doorway,
  openProfile,
}) => {
  test.setTimeout(180_000);
  const { context } = await openProfile();
  const page = await openApp(context, doorway.url);

  await test.step('an empty profile', async () => {
    await expect(page.getByTestId('first-run')).toBeVisible();
    expect(await seriousViolations(page)).toEqual([]);
  });

  const file = await writeRandomFile(files.dir, 'report.bin', 30_000);
  await test.step('a library with items', async () => {
    await addFiles(page, [file.path]);
    await expect(item(page, file.hash)).toBeVisible({ timeout: 60_000 });
    expect(await seriousViolations(page)).toEqual([]);
  });

  await test.step('item details open', async () => {
    await item(page, file.hash).getByRole('button', { name: 'report.bin', exact: true }).click();
    await expect(page.getByTestId('item-details')).toBeVisible();
    expect(await seriousViolations(page)).toEqual([]);
  });

  await test.step('the share sheet open', async () => {
    await page.getByTestId('open-share-sheet').click();
    await expect(page.getByTestId('share-qr')).toBeVisible();
    expect(await seriousViolations(page)).toEqual([]);
    await page.keyboard.press('Escape');
    await page.keyboard.press('Escape');
    await expect(page.getByTestId('item-details')).toHaveCount(0);
  });

  await test.step('backing up and restoring, each with an error shown', async () => {
    const backup = page.getByTestId('backup');
    await backup.locator('summary').click();
    await backup.getByTestId('backup-save').click();
    await expect(backup.getByTestId('backup-error')).toHaveText(/at least 10 characters/);
    const restore = page.getByTestId('restore-settings');
    await restore.locator('summary').click();
    await restore.getByTestId('restore-submit').click();
    await expect(restore.getByTestId('restore-error')).toHaveText(/Choose a backup file/);
    expect(await seriousViolations(page)).toEqual([]);
  });

  await test.step('social recovery: choosing contacts, asking them, and a contact helping', async () => {
    const setup = page.getByTestId('recovery-setup');
    await setup.locator('summary').click();
    await expect(setup.getByTestId('recovery-current')).toHaveText(/No trusted contacts/, {
      timeout: 60_000,
    });
    const recover = page.getByTestId('settings').getByTestId('social-recover');
    await recover.locator('summary').click();
    await expect(recover.getByTestId('recover-code')).toHaveText(/^\d{4} \d{4}$/);
    expect(await seriousViolations(page)).toEqual([]);
    const link = (await recover.getByTestId('recover-link').textContent()) ?? '';
    await page.goto(link);
    await expect(page.getByTestId('help-recover-own')).toBeVisible({ timeout: 60_000 });
    expect(await seriousViolations(page)).toEqual([]);
  });

  await test.step('your devices: a pairing link offered, and a pairing link opened', async () => {
    await page.goto(doorway.url);
    const devices = page.getByTestId('devices');
    await devices.locator('summary').click();
    await devices.getByTestId('device-add').click();
    const link = await devices.getByTestId('pairing-link').inputValue({ timeout: 60_000 });
    expect(await seriousViolations(page)).toEqual([]);
    await page.goto(link);
    await expect(page.getByTestId('pair-join')).toBeVisible();
    expect(await seriousViolations(page)).toEqual([]);
  });

  await test.step('a share link being fetched', async () => {
    await page.goto(new URL(`/get/sha256-${'cd'.repeat(32)}?name=holiday.mov`, doorway.url).href);
    await expect(page.getByTestId('fetch')).toBeVisible();
    expect(await seriousViolations(page)).toEqual([]);
  });
});

test('keyboard: Tab reaches the file button; the share sheet holds focus, Esc closes it and focus returns', async ({
  doorway,
  openProfile,
}) => {
  const { context } = await openProfile();
  const page = await openApp(context, doorway.url);

  // From the top of the page, Tab alone reaches "Choose files…" (within a bounded number).
  const choose = page.getByRole('button', { name: 'Choose files…' });
  await page.locator('body').focus();
  let reached = false;
  for (let i = 0; i < 25 && !reached; i++) {
    await page.keyboard.press('Tab');
    reached = await choose.evaluate((button) => document.activeElement === button);
  }
  expect(reached).toBe(true);

  const file = await writeRandomFile(files.dir, 'keys.bin', 10_000);
  await addFiles(page, [file.path]);
  await item(page, file.hash).getByRole('button', { name: 'keys.bin', exact: true }).click();
  const opener = page.getByTestId('open-share-sheet');
  await opener.focus();
  await page.keyboard.press('Enter');
  const sheet = page.getByTestId('share-sheet');
  await expect(sheet).toBeVisible();
  // Focus is inside the sheet and stays there however far Tab goes.
  for (let i = 0; i < 12; i++) {
    const inside = await sheet.evaluate((dialog) => dialog.contains(document.activeElement));
    expect(inside, `focus inside the sheet after ${i} Tab presses`).toBe(true);
    await page.keyboard.press('Tab');
  }
  await page.keyboard.press('Escape');
  await expect(sheet).toHaveCount(0);
  await expect(opener).toBeFocused();
});
