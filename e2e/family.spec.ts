import { expect, specFiles, test } from './fixtures.ts';
import {
  addFiles,
  getContent,
  hashOfItemNamed,
  item,
  keptItem,
  waitReachable,
} from './support/app.ts';
import { refusalsOf, withAppLog } from './support/app-log.ts';
import { writeRandomFile } from './support/files.ts';
import { storedPieceBytes } from './support/idb.ts';
import {
  addContact,
  familyOfTwo,
  familyReady,
  type ThreePeople,
  threePeople,
} from './support/people.ts';
import { expectRecipientOpens, expectRefused, expectSealedAtOwner } from './support/sealed.ts';

const files = specFiles();

/**
 * A adds C as a contact only and B as family, so A's family key is granted to B alone.
 * Returns once B holds A's key and C is in no family.
 */
async function familyOfTwoAndAContact(people: ThreePeople) {
  const { a, c, home } = people;
  const cAgent = await addContact(a, c, home, false);
  await familyOfTwo(people);
  await expect(a.locator(`[data-testid="family-member"][data-agent="${cAgent}"]`)).toHaveCount(0);
  // C is in no family.
  await familyReady(c);
  await expect(c.getByTestId('family-of')).toHaveCount(0);
}

test('a family item reaches the cluster and no one else; stored ciphertext is not the plaintext', async ({
  doorway,
  openProfile,
}) => {
  test.setTimeout(300_000);
  const note = await writeRandomFile(files.dir, 'family.bin', 300_000);

  const people = await threePeople(doorway, withAppLog(openProfile));
  const { a, b, c } = people;
  const refusedByA = refusalsOf(a);
  const refusedByB = refusalsOf(b);

  // "Only my family" with no family yet: a clear error, nothing stored.
  await familyReady(a);
  await a.getByTestId('ingest-reach').selectOption('local');
  await expect(a.getByTestId('family-audience')).toContainText(/No family yet/);
  await addFiles(a, [note.path]);
  await expect(a.getByTestId('ingest-error')).toContainText(/at least one family member/);
  await expect(a.locator('[data-testid="item"]', { hasText: 'family.bin' })).toHaveCount(0);
  expect(await storedPieceBytes(a)).toBe(0);

  await familyOfTwoAndAContact(people);

  // The family choice (remembered) says who receives it; A stores the file.
  await expect(a.getByTestId('ingest-reach')).toHaveValue('local');
  await expect(a.getByTestId('family-audience')).toContainText(/Sealed for your family/);
  await addFiles(a, [note.path]);
  const hash = await hashOfItemNamed(a, 'family.bin');
  await expect(a.locator('[data-testid="item"]', { hasText: 'family.bin' })).toHaveAttribute(
    'data-reach',
    'local',
  );

  await expectSealedAtOwner(a, hash, note);
  // B fetches it by A's share link and opens it with A's family key.
  await expectRecipientOpens(a, b, hash, note);

  // C, A's contact but not family, asks for it: the owner and B (a holder, not the owner)
  // both refuse, and C receives zero bytes.
  await waitReachable(b);
  await expectRefused(c, [a, b], hash);
  // A page's console reaches the test a moment after the answer C got: wait for both lines.
  await expect
    .poll(() => refusedByA.some((line) => line.includes(hash)), { timeout: 30_000 })
    .toBe(true);
  await expect
    .poll(() => refusedByB.some((line) => line.includes(hash)), { timeout: 30_000 })
    .toBe(true);
  expect(refusedByB.find((line) => line.includes(hash))).toMatch(/not in the owner's family/);
});

test('a family item is copied to family peers only', async ({ doorway, openProfile }) => {
  test.setTimeout(240_000);
  const note = await writeRandomFile(files.dir, 'copied.bin', 200_000);
  const people = await threePeople(doorway, openProfile, { copies: 2 });
  const { a, b, c } = people;
  await familyOfTwoAndAContact(people);
  await a.getByTestId('ingest-reach').selectOption('local');
  await expect(a.getByTestId('family-audience')).toContainText(/Sealed for your family/);
  await addFiles(a, [note.path]);
  const hash = await hashOfItemNamed(a, 'copied.bin');

  // B, family and a direct peer, is offered the sealed item and keeps a verified copy; C, a
  // direct peer too but not family, is never offered it.
  // B keeps it for A: under "Kept for others", not in B's own library.
  await expect(keptItem(b, hash)).toBeVisible({ timeout: 60_000 });
  await expect(item(b, hash)).toHaveCount(0);
  await expect(item(a, hash).getByTestId('replica-health')).toHaveText(
    /1 copy on a peer — more when others come online/,
    { timeout: 60_000 },
  );
  const opened = await getContent(b, hash);
  expect(opened.status, opened.text).toBe(200);
  expect(opened.sha).toBe(note.hash);
  await expect(item(c, hash)).toHaveCount(0);
  await expect(keptItem(c, hash)).toHaveCount(0);
  expect(await storedPieceBytes(c)).toBe(0);
});
