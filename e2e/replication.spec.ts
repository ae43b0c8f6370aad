import type { Locator, Page } from '@playwright/test';
import { expect, specFiles, test } from './fixtures.ts';
import {
  addFiles,
  downloadAndHash,
  fetchByLink,
  getContent,
  hashOfItemNamed,
  item,
  keptItem,
  openApp,
  peerEntry,
  peerIdOf,
  shareLinkOf,
  waitReachable,
} from './support/app.ts';
import { writeRandomFile } from './support/files.ts';
import { CONTENT_DB } from './support/idb.ts';

const MiB = 1024 * 1024;

const files = specFiles();

function health(page: Page, hash: string): Locator {
  return item(page, hash).getByTestId('replica-health');
}

/** What the page's store holds: hashes of its manifests, and its piece and pending records. */
async function storeContents(page: Page) {
  return page.evaluate(async (dbName) => {
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const request = indexedDB.open(dbName);
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
    const get = <T>(request: IDBRequest<T>) =>
      new Promise<T>((resolve, reject) => {
        request.onsuccess = () => resolve(request.result);
        request.onerror = () => reject(request.error);
      });
    const manifests = (await get(
      db.transaction('manifests').objectStore('manifests').getAll(),
    )) as {
      blob_hash: string;
      piece_hashes: string[][];
    }[];
    const pieces = await get(db.transaction('pieces').objectStore('pieces').count());
    const pending = await get(db.transaction('pending').objectStore('pending').count());
    db.close();
    return {
      hashes: manifests.map((m) => m.blob_hash),
      piecesOfManifests: manifests.reduce((n, m) => n + m.piece_hashes.flat().length, 0),
      pieces,
      pending,
    };
  }, CONTENT_DB);
}

test('a commons item outlives its author: A stores, B keeps a copy, A goes, C gets it from B; a private item never leaves A', async ({
  doorway,
  openProfile,
}) => {
  test.setTimeout(120_000);
  const file = await writeRandomFile(files.dir, 'kept.bin', 6 * MiB);
  const secret = await writeRandomFile(files.dir, 'secret.bin', 300_000);

  // A asks for 2 copies of what it stores; a chunked file goes whole (rs-4-7 files go one
  // shard per peer instead: e2e/shards.spec.ts).
  const profileA = await openProfile();
  // Peers alone keep it here (the doorway keeping it: e2e/doorway-keeper.spec.ts).
  const a = await openApp(profileA.context, doorway.url, {
    copies: 2,
    chunkedAbove: MiB,
    rsAbove: 8 * MiB,
    keepOnDoorway: 0,
  });
  await a.getByTestId('ingest-reach').selectOption('private');
  await addFiles(a, [secret.path]);
  const secretHash = await hashOfItemNamed(a, 'secret.bin');
  await a.getByTestId('ingest-reach').selectOption('commons');
  await addFiles(a, [file.path]);
  await expect(item(a, file.hash)).toBeVisible({ timeout: 60_000 });
  await expect(item(a, file.hash)).toHaveAttribute('data-encoding', 'chunked');
  // Nobody else is online yet: said calmly, in grey.
  await expect(health(a, file.hash)).toHaveText(/Only on this device for now — /);
  await expect(health(a, file.hash)).toHaveAttribute('data-tone', 'calm');
  await expect(health(a, secretHash)).toHaveText(/private: stays on your devices/);
  await waitReachable(a);
  const aId = await peerIdOf(a);
  const link = await shareLinkOf(a, file.hash);

  // B only opens the app: once it connects, A offers the item and B pulls a verified copy,
  // which it keeps for A: under "Kept for others", not in B's own library.
  const b = await openApp((await openProfile()).context, doorway.url);
  const bId = await peerIdOf(b);
  await expect(keptItem(b, file.hash)).toBeVisible({ timeout: 60_000 });
  await expect(item(b, file.hash)).toHaveCount(0);
  await expect(health(a, file.hash)).toHaveText(/1 copy on a peer — more when others come online/);
  await expect(health(a, file.hash)).toHaveAttribute('data-state', 'waiting');
  // B keeps it, but spreading it is its author's decision.
  await expect(keptItem(b, file.hash).getByTestId('replica-health')).toHaveCount(0);
  const copy = await getContent(b, file.hash);
  expect(copy.status, copy.text).toBe(200);
  expect(copy.sha).toBe(file.hash);

  // The private item was never offered: B holds exactly the commons item, nothing pending.
  const held = await storeContents(b);
  expect(held.hashes).toEqual([file.hash]);
  expect(held.hashes).not.toContain(secretHash);
  expect(held.pieces).toBe(held.piecesOfManifests);
  expect(held.pending).toBe(0);
  await expect(health(a, secretHash)).toHaveAttribute('data-state', 'local');

  // A's details name B as the peer holding the copy.
  await item(a, file.hash).getByRole('button', { name: 'kept.bin', exact: true }).click();
  await expect(a.getByTestId('copy-locations').locator(`[data-peer-id="${bId}"]`)).toBeVisible();
  await expect(a.getByTestId('details-replica-health')).toHaveText(/^1 copy on a peer/);

  // A's browser goes away for good.
  await profileA.close();

  // C has never met A: the link still works, served by B.
  const c = await openApp((await openProfile()).context, doorway.url);
  // Once C is connected to B: before that, the doorway alone (relaying B's copy) answers first.
  await expect(peerEntry(c, bId)).toHaveAttribute('data-direct', 'true', { timeout: 60_000 });
  await fetchByLink(c, link, 60_000);
  await expect(c.locator(`[data-testid="fetch-peer"][data-peer-id="${bId}"]`)).toBeVisible();
  await expect(c.locator(`[data-testid="fetch-peer"][data-peer-id="${aId}"]`)).toHaveCount(0);
  await expect(peerEntry(c, aId)).toHaveCount(0);
  await expect(peerEntry(c, bId)).toHaveAttribute('data-direct', 'true');
  expect(await downloadAndHash(c, file.hash)).toBe(file.hash);
});

test('a peer that runs out of space while copies arrive declines with a clear reason and keeps nothing half-stored', async ({
  doorway,
  openProfile,
}) => {
  test.setTimeout(180_000);
  // Two authors, one copy each, both offered to B at once; B has room for one. The authors
  // dial nobody (so they never copy to each other); B dials both.
  const authors: { page: Page; hash: string }[] = [];
  for (const name of ['first.bin', 'second.bin']) {
    const file = await writeRandomFile(files.dir, name, 14 * MiB);
    const page = await openApp((await openProfile()).context, doorway.url, {
      copies: 1,
      dialListed: 0,
    });
    await addFiles(page, [file.path]);
    await expect(item(page, file.hash)).toBeVisible({ timeout: 60_000 });
    await waitReachable(page);
    authors.push({ page, hash: file.hash });
  }
  // Chromium's own quota, lowered for B's origin before its first visit (as in store.spec).
  const profileB = await openProfile();
  const blank = profileB.context.pages()[0] ?? (await profileB.context.newPage());
  const cdp = await profileB.context.newCDPSession(blank);
  await cdp.send('Storage.overrideQuotaForOrigin', {
    origin: new URL(doorway.url).origin,
    quotaSize: 24 * MiB,
  });
  const b = await openApp(profileB.context, doorway.url);

  // One copy lands (kept for its author, apart from B's library); the other is declined for
  // lack of space, and its author says why.
  await expect(b.getByTestId('kept')).toHaveCount(1, { timeout: 90_000 });
  await expect(b.getByTestId('item')).toHaveCount(0);
  const kept = await b.getByTestId('kept').getAttribute('data-hash');
  const refused = authors.find((a) => a.hash !== kept);
  const stored = authors.find((a) => a.hash === kept);
  if (!refused || !stored) throw new Error(`B keeps ${kept}, which no author stored`);
  await expect(health(stored.page, stored.hash)).toHaveText(/1 of 1 copy on peers$/);
  await expect(health(refused.page, refused.hash)).toHaveAttribute('title', /quota: /, {
    timeout: 60_000,
  });
  await expect(health(refused.page, refused.hash)).toHaveText(/0 of 1 copy on peers/);
  // Nothing half-stored: every piece in B belongs to the item it keeps, no put is pending.
  await expect.poll(async () => (await storeContents(b)).pending, { timeout: 30_000 }).toBe(0);
  const held = await storeContents(b);
  expect(held.hashes).toEqual([stored.hash]);
  expect(held.pieces).toBe(held.piecesOfManifests);
});
