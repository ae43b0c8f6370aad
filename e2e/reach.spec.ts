import { readFile } from 'node:fs/promises';
import { expect, specFiles, test } from './fixtures.ts';
import {
  addFiles,
  getContent,
  hashOfItemNamed,
  openApp,
  peerEntry,
  peerIdOf,
  waitReachable,
} from './support/app.ts';
import { refusalsOf, withAppLog } from './support/app-log.ts';
import { writeRandomFile } from './support/files.ts';
import { sharesA32ByteStretch, storedPieceBytes, storedPieces } from './support/idb.ts';

const files = specFiles();

test('a private item is stored encrypted, opens for its owner, and reaches no other peer', async ({
  doorway,
  openProfile,
}) => {
  test.setTimeout(240_000);
  const secret = await writeRandomFile(files.dir, 'secret.bin', 300_000);
  const shared = await writeRandomFile(files.dir, 'shared.bin', 200_000);

  const a = await openApp((await withAppLog(openProfile)()).context, doorway.url);
  const refusals = refusalsOf(a);
  await a.getByTestId('ingest-reach').selectOption('private');
  await addFiles(a, [secret.path]);
  const secretHash = await hashOfItemNamed(a, 'secret.bin');
  await a.getByTestId('ingest-reach').selectOption('commons');
  await addFiles(a, [shared.path]);
  const sharedHash = await hashOfItemNamed(a, 'shared.bin');

  // Addressed by its ciphertext; IndexedDB holds no stretch of the plaintext; the owner opens it.
  expect(secretHash).not.toBe(secret.hash);
  const plain = await readFile(secret.path);
  expect(sharesA32ByteStretch(plain, await storedPieces(a))).toBe(false);
  const opened = await getContent(a, secretHash);
  expect(opened.status).toBe(200);
  expect(opened.sha).toBe(secret.hash);
  const row = a.locator('[data-testid="item"]', { hasText: 'secret.bin' });
  await expect(row).toHaveAttribute('data-reach', 'private');
  await expect(row).toContainText('Only you, on your devices');

  await waitReachable(a);
  const aId = await peerIdOf(a);
  const b = await openApp((await openProfile()).context, doorway.url);
  await expect(peerEntry(b, aId)).toHaveAttribute('data-direct', 'true', { timeout: 60_000 });

  // B asks for the private item by hash: A says it has nothing, and B receives zero bytes.
  const refused = await getContent(b, secretHash);
  expect(refused.status).toBe(404);
  expect(refused.text).toMatch(/nobody holds it/);
  expect(await storedPieceBytes(b)).toBe(0);
  // A's console line reaches the test a moment after B's answer: wait for it.
  await expect
    .poll(() => refusals.some((line) => line.includes(secretHash)), { timeout: 30_000 })
    .toBe(true);

  // The gate is about reach, not about B: the commons item streams to B at once.
  const got = await getContent(b, sharedHash);
  expect(got.status).toBe(200);
  expect(got.sha).toBe(shared.hash);
});
