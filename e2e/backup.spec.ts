import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Page } from '@playwright/test';
import { expect, specFiles, test } from './fixtures.ts';
import {
  addFiles,
  downloadAndHash,
  getContent,
  holdRestoreQueue,
  item,
  openApp,
  peerIdOf,
  trustConnected,
} from './support/app.ts';
import { keptByDoorway, startDoorwayProcess } from './support/doorway-process.ts';
import { writeRandomFile } from './support/files.ts';
import { addContact, agentOf } from './support/people.ts';

const files = specFiles();
const PASSPHRASE = 'a long and quiet river';

/** Opens "Restore from a backup" on a fresh profile's welcome and tries `file` with `passphrase`. */
async function restore(page: Page, file: string, passphrase: string): Promise<void> {
  const form = page.getByTestId('first-run').getByTestId('restore');
  if (!(await form.isVisible())) await page.getByTestId('first-run-restore').click();
  await form.getByTestId('restore-file').setInputFiles(file);
  await form.getByTestId('restore-passphrase').fill(passphrase);
  await form.getByTestId('restore-submit').click();
}

test('a backup brings the same agent, its contact, family and items back in an empty profile and, through Settings, in a profile in use; a wrong passphrase or a changed file changes nothing', async ({
  openProfile,
}) => {
  test.setTimeout(240_000);
  // A doorway of this test's own: what it keeps starts at 0.
  const doorway = await startDoorwayProcess();
  try {
    const file = await writeRandomFile(files.dir, 'notes.bin', 300 * 1024);
    const profileA = await openProfile();
    const a = await openApp(profileA.context, doorway.url, { copies: 1 });
    const profileB = await openProfile();
    const b = await openApp(profileB.context, doorway.url);
    await trustConnected(a);
    await trustConnected(b);
    // B is A's contact and family; the family key reaches B before B's browser closes.
    const agentB = await addContact(a, b, a.url(), true);
    const memberB = (page: Page) =>
      page.locator(`[data-testid="family-member"][data-agent="${agentB}"]`);
    await expect(memberB(a)).toHaveAttribute('data-key-status', 'shared', { timeout: 30_000 });
    await profileB.close();

    // A stores a commons file; with no other browser online the doorway keeps the copy (so it
    // outlives A's browser).
    await a.getByTestId('ingest-reach').selectOption('commons');
    await addFiles(a, [file.path]);
    await expect(item(a, file.hash)).toBeVisible({ timeout: 60_000 });
    await expect
      .poll(async () => (await keptByDoorway(doorway.url)).items, { timeout: 60_000 })
      .toBe(1);
    const agentA = await agentOf(a);
    const peerA = await peerIdOf(a);

    // A backs up: the passphrase twice, the file downloaded.
    const backup = a.getByTestId('backup');
    await backup.locator('summary').click();
    await expect(backup.getByTestId('backup-contents')).toHaveText(/1 contact and 1 item\./);
    await backup.getByTestId('backup-passphrase').fill(PASSPHRASE);
    await backup.getByTestId('backup-passphrase-again').fill(`${PASSPHRASE}!`);
    await backup.getByTestId('backup-save').click();
    await expect(backup.getByTestId('backup-error')).toHaveText(/differ/);
    await backup.getByTestId('backup-passphrase-again').fill(PASSPHRASE);
    const [download] = await Promise.all([
      a.waitForEvent('download'),
      backup.getByTestId('backup-save').click(),
    ]);
    expect(download.suggestedFilename()).toMatch(/^elohim-backup-\d{4}-\d\d-\d\d\.json$/);
    const saved = join(files.dir, 'backup.json');
    await download.saveAs(saved);
    await expect(backup.getByTestId('backup-done')).toBeVisible();
    // A's browser is gone (one PeerId is online in one browser at a time).
    await profileA.close();

    // C, an empty profile: a wrong passphrase, then a file with one byte changed, are refused
    // and C stays who it is.
    const profileC = await openProfile();
    const c = await openApp(profileC.context, doorway.url);
    await trustConnected(c);
    const agentC = await agentOf(c);
    await restore(c, saved, 'not the passphrase');
    await expect(c.getByTestId('restore-error')).toHaveText(
      /does not open this backup.*Nothing was changed/,
      {
        timeout: 30_000,
      },
    );
    const text = await readFile(saved, 'utf8');
    const json = JSON.parse(text);
    json.ciphertext = `${json.ciphertext.slice(0, 10)}${json.ciphertext[10] === 'A' ? 'B' : 'A'}${json.ciphertext.slice(11)}`;
    const tampered = join(files.dir, 'tampered.json');
    await writeFile(tampered, JSON.stringify(json));
    await restore(c, tampered, PASSPHRASE);
    await expect(c.getByTestId('restore-error')).toHaveText(/does not open this backup/, {
      timeout: 30_000,
    });
    await c.reload();
    await trustConnected(c);
    expect(await agentOf(c)).toBe(agentC);

    // The right passphrase: C reloads as A. Its items are readable before the restore queue
    // has fetched them: here the queue is held back, and the item streams from the doorway.
    const lockHolder = await holdRestoreQueue(profileC.context, doorway.url);
    await restore(c, saved, PASSPHRASE);
    await expect(c.getByTestId('my-agent-key')).toHaveAttribute('title', agentA, {
      timeout: 60_000,
    });
    await trustConnected(c);
    expect(await peerIdOf(c)).toBe(peerA);
    const waiting = c.locator(`[data-testid="restore-item"][data-hash="${file.hash}"]`);
    await expect(waiting).toContainText('waiting');
    await expect(waiting.getByTestId('restore-open')).toHaveAttribute('href', /\/content\//);
    const early = await getContent(c, file.hash);
    expect(early.status, early.text).toBe(200);
    expect(early.sha).toBe(file.hash);
    await expect(waiting).toContainText('waiting');
    await lockHolder.close();
    // A's contact is back, and its item, fetched from the doorway that keeps it.
    await expect(c.locator(`[data-testid="contact"][data-agent="${agentB}"]`)).toHaveAttribute(
      'data-family',
      'true',
      { timeout: 30_000 },
    );
    await expect(memberB(c)).toHaveAttribute('data-key-status', 'shared', { timeout: 30_000 });
    await expect(item(c, file.hash)).toBeVisible({ timeout: 60_000 });
    await expect(item(c, file.hash)).toContainText('notes.bin');
    await expect(c.getByTestId('restore-queue')).toHaveCount(0);
    expect(await downloadAndHash(c, file.hash)).toBe(file.hash);
    await profileC.close();

    // D, a profile in use with an item of its own, restores through Settings, which warns
    // first: D becomes A, gets A's item back, and keeps the bytes it stored.
    const own = await writeRandomFile(files.dir, 'own.bin', 20 * 1024);
    const d = await openApp((await openProfile()).context, doorway.url);
    await addFiles(d, [own.path]);
    await expect(item(d, own.hash)).toBeVisible({ timeout: 60_000 });
    const settings = d.getByTestId('restore-settings');
    await settings.locator('summary').click();
    await expect(settings.getByTestId('restore-warning')).toContainText('replaces who you are');
    await settings.getByTestId('restore-file').setInputFiles(saved);
    await settings.getByTestId('restore-passphrase').fill(PASSPHRASE);
    await settings.getByTestId('restore-submit').click();
    await expect(d.getByTestId('my-agent-key')).toHaveAttribute('title', agentA, {
      timeout: 60_000,
    });
    await expect(item(d, file.hash)).toBeVisible({ timeout: 60_000 });
    await expect(item(d, own.hash)).toBeVisible();
    expect(await downloadAndHash(d, own.hash)).toBe(own.hash);
  } finally {
    await doorway.stop();
  }
});
