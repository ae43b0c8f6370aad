import { randomBytes } from 'node:crypto';
import type { Page } from '@playwright/test';
import { expect, specFiles, test } from './fixtures.ts';
import {
  addFiles,
  hashOfItemNamed,
  item,
  openMeta,
  peerEntry,
  peerIdOf,
  shareLinkOf,
} from './support/app.ts';
import { writeRandomFile } from './support/files.ts';
import { familyOfTwo, threePeople } from './support/people.ts';
import { expectRecipientOpens } from './support/sealed.ts';
import { secretsStored, storedDocuments } from './support/sync-store.ts';

const files = specFiles();

/** The description document a share link names. */
async function metaDocOf(owner: Page, hash: string): Promise<string> {
  const meta = new URL(await shareLinkOf(owner, hash)).searchParams.get('meta');
  if (!meta) throw new Error(`the share link of ${hash} names no description`);
  return meta;
}

async function editTitle(page: Page, hash: string, title: string) {
  await openMeta(page, hash);
  await page.getByTestId('meta-title').fill(title);
  await page.getByTestId('meta-save').click();
}

async function addTag(page: Page, hash: string, tag: string) {
  await openMeta(page, hash);
  await page.getByTestId('meta-tag-input').fill(tag);
  await page.getByTestId('meta-tag-add').click();
  await expect(page.locator(`[data-testid="meta-tag"][data-tag="${tag}"]`)).toBeVisible();
}

test('a stranger connected to the owner learns nothing of invited and family items; their recipient still gets the descriptions', async ({
  doorway,
  openProfile,
}) => {
  test.setTimeout(360_000);
  // Names no other run, or anything else, could have put in a browser's storage.
  const run = randomBytes(6).toString('hex');
  const invited = await writeRandomFile(files.dir, `invited-${run}.bin`, 60_000);
  const family = await writeRandomFile(files.dir, `family-${run}.bin`, 60_000);
  const open = await writeRandomFile(files.dir, `commons-${run}.bin`, 60_000);

  const people = await threePeople(doorway, openProfile);
  const { a, b, c, home } = people;
  const { bAgent } = await familyOfTwo(people);
  // C has no link with anyone, and is connected to A directly: sync runs over that.
  await expect(peerEntry(c, await peerIdOf(a))).toHaveAttribute('data-direct', 'true', {
    timeout: 60_000,
  });

  // A stores an item for B only, one for its family (B), then one for anyone.
  await a.getByTestId('ingest-reach').selectOption('invited');
  await a.locator(`[data-testid="invite-contact"][value="${bAgent}"]`).check();
  await addFiles(a, [invited.path]);
  const invitedHash = await hashOfItemNamed(a, invited.name);
  await a.getByTestId('ingest-reach').selectOption('local');
  await expect(a.getByTestId('family-audience')).toContainText(/Sealed for your family/);
  await addFiles(a, [family.path]);
  const familyHash = await hashOfItemNamed(a, family.name);
  await a.getByTestId('ingest-reach').selectOption('commons');
  await addFiles(a, [open.path]);
  const openHash = await hashOfItemNamed(a, open.name);
  const ownLibrary = await a.evaluate(() => localStorage.getItem('elohim-library-own-doc'));
  expect(ownLibrary).toBeTruthy();
  const secrets = [
    invited.name,
    family.name,
    invitedHash,
    familyHash,
    await metaDocOf(a, invitedHash),
    await metaDocOf(a, familyHash),
    ownLibrary as string,
  ];

  // B fetches both and reads their descriptions, as before.
  for (const [hash, file] of [
    [invitedHash, invited],
    [familyHash, family],
  ] as const) {
    await expectRecipientOpens(a, b, hash, file);
    await b.goto(home);
    await expect(item(b, hash)).toBeVisible();
    await openMeta(b, hash);
    await expect(b.getByTestId('meta-title')).toHaveValue(file.name, { timeout: 60_000 });
    await b.keyboard.press('Escape');
  }
  // Edits still go both ways between A and B.
  const edited = `Plans from B ${run}`;
  secrets.push(edited);
  await editTitle(b, invitedHash, edited);
  await openMeta(a, invitedHash);
  await expect(a.getByTestId('meta-title')).toHaveValue(edited, { timeout: 60_000 });
  await a.keyboard.press('Escape');

  // C syncs with A: it got the commons description, and an edit A made after all of the
  // above, so nothing is merely late. Of the other two items it holds nothing at all.
  const after = `after-${run}`;
  await addTag(a, openHash, after);
  await expect
    .poll(async () => (await storedDocuments(c)).text, { timeout: 60_000 })
    .toContain(after);
  expect((await storedDocuments(c)).text).toContain(open.name);
  expect(await secretsStored(c, secrets)).toEqual([]);
});
