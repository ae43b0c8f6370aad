import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, specFiles, test } from './fixtures.ts';
import {
  addFiles,
  downloadAndHash,
  fetchByLink,
  item,
  openApp,
  peerEntry,
  peerIdOf,
  shareLinkOf,
  waitReachable,
} from './support/app.ts';
import { startRestartableDoorway } from './support/doorway-process.ts';
import { writeRandomFile } from './support/files.ts';
import { serveHarness } from './support/harness.ts';

const MiB = 1024 * 1024;
const files = specFiles();

test('B fetches what A seeds, straight from A over WebRTC', async ({ doorway, openProfile }) => {
  test.setTimeout(240_000);
  const small = await writeRandomFile(files.dir, 'five.bin', 5 * MiB);
  const large = await writeRandomFile(files.dir, 'forty.bin', 40 * MiB);

  // A keeps the doorway out of it (the shared doorway would keep a commons copy and serve it):
  // this test is about the browser-to-browser path.
  const a = await openApp((await openProfile()).context, doorway.url, { keepOnDoorway: 0 });
  await addFiles(a, [small.path, large.path]);
  for (const file of [small, large])
    await expect(item(a, file.hash)).toBeVisible({ timeout: 60_000 });
  await waitReachable(a);
  const aId = await peerIdOf(a);

  const b = await openApp((await openProfile()).context, doorway.url);
  for (const file of [small, large]) {
    await fetchByLink(b, await shareLinkOf(a, file.hash));
    // The bytes came over a direct browser-to-browser connection, not through the relay.
    await expect(peerEntry(b, aId)).toHaveAttribute('data-direct', 'true');
    await expect(b.locator(`[data-testid="fetch-peer"][data-peer-id="${aId}"]`)).toContainText(
      'direct',
    );
    expect(await downloadAndHash(b, file.hash)).toBe(file.hash);
  }
});

test('B fetches from A and C at once, and finishes from C when A closes mid-transfer', async ({
  doorway,
  openProfile,
}) => {
  test.setTimeout(300_000);
  const file = await writeRandomFile(files.dir, 'shared.bin', 150 * MiB);
  const profileA = await openProfile();
  // Neither offers the doorway a copy: the bytes must come from the two browsers.
  const a = await openApp(profileA.context, doorway.url, { keepOnDoorway: 0 });
  const c = await openApp((await openProfile()).context, doorway.url, { keepOnDoorway: 0 });
  await addFiles(a, [file.path]);
  await addFiles(c, [file.path]);
  for (const page of [a, c]) {
    await expect(item(page, file.hash)).toBeVisible({ timeout: 120_000 });
    await waitReachable(page);
  }
  const [aId, cId] = [await peerIdOf(a), await peerIdOf(c)];
  const link = await shareLinkOf(a, file.hash);

  const b = await openApp((await openProfile()).context, doorway.url);
  await b.goto(link);
  const fromA = b.locator(`[data-testid="fetch-peer"][data-peer-id="${aId}"]`);
  const fromC = b.locator(`[data-testid="fetch-peer"][data-peer-id="${cId}"]`);
  // Both holders send before A goes away.
  await expect(fromA).toContainText(/[1-9][\d.]* MiB/, { timeout: 60_000 });
  await expect(fromC).toContainText(/[1-9][\d.]* MiB/, { timeout: 60_000 });
  const progress = b.getByTestId('fetch-progress');
  expect(Number(await progress.getAttribute('value'))).toBeLessThan(file.size);
  await profileA.close();

  await expect(b.getByTestId('fetch-status')).toHaveText(/Fetched and verified/, {
    timeout: 180_000,
  });
  await expect(fromA).toHaveAttribute('data-state', 'dropped');
  expect(await downloadAndHash(b, file.hash)).toBe(file.hash);
});

test('B rejects a peer that sends corrupted bytes and completes from another', async ({
  doorway,
  openProfile,
}) => {
  test.setTimeout(240_000);
  const file = await writeRandomFile(files.dir, 'guarded.bin', 24 * MiB);

  // The liar: the real node over a store that flips a byte in every piece it serves.
  const harnessServer = await serveHarness('e2e/harness/lying-peer.ts', 'lying-peer');
  try {
    const liarPage = await (await openProfile()).context.newPage();
    await liarPage.goto(harnessServer.url);
    await liarPage.waitForFunction(() => 'lyingPeer' in window);
    await liarPage.evaluate(() => {
      const input = document.createElement('input');
      input.type = 'file';
      input.id = 'file';
      document.body.append(input);
    });
    await liarPage.locator('#file').setInputFiles(file.path);
    const liar = await liarPage.evaluate(
      (doorwayUrl) =>
        (
          window as unknown as {
            lyingPeer: { start(d: string, f: File): Promise<{ hash: string; peerId: string }> };
          }
        ).lyingPeer.start(
          doorwayUrl,
          (document.getElementById('file') as HTMLInputElement).files?.[0] as File,
        ),
      new URL(doorway.url).origin,
    );
    expect(liar.hash).toBe(file.hash);

    // No doorway copy: the liar must be asked, not outrun by the doorway.
    const honest = await openApp((await openProfile()).context, doorway.url, { keepOnDoorway: 0 });
    await addFiles(honest, [file.path]);
    await expect(item(honest, file.hash)).toBeVisible({ timeout: 60_000 });
    await waitReachable(honest);

    const b = await openApp((await openProfile()).context, doorway.url);
    await expect(peerEntry(b, liar.peerId)).toHaveAttribute('data-direct', 'true', {
      timeout: 30_000,
    });
    await fetchByLink(b, await shareLinkOf(honest, file.hash));
    const fromLiar = b.locator(`[data-testid="fetch-peer"][data-peer-id="${liar.peerId}"]`);
    await expect(fromLiar).toHaveAttribute('data-state', 'dropped');
    await expect(fromLiar).toContainText(/0 B/);
    expect(await downloadAndHash(b, file.hash)).toBe(file.hash);
  } finally {
    await harnessServer.stop();
  }
});

test('after the doorway restarts, peers reconnect and a new fetch works', async ({
  openProfile,
}) => {
  test.setTimeout(240_000);
  const dataDir = await mkdtemp(join(tmpdir(), 'elohim-doorway-'));
  const door = await startRestartableDoorway(['--data-dir', dataDir]);
  try {
    const a = await openApp((await openProfile()).context, door.url);
    const b = await openApp((await openProfile()).context, door.url);
    await waitReachable(a);
    await waitReachable(b);

    await door.stop();
    for (const page of [a, b]) {
      await expect(page.getByTestId('doorway')).toHaveAttribute('data-status', 'offline');
    }
    await door.start();
    for (const page of [a, b]) {
      await expect(page.getByTestId('doorway')).toHaveAttribute('data-status', 'connected', {
        timeout: 60_000,
      });
      await waitReachable(page);
    }

    const file = await writeRandomFile(files.dir, 'after-restart.bin', 3 * MiB);
    await addFiles(a, [file.path]);
    await expect(item(a, file.hash)).toBeVisible({ timeout: 60_000 });
    await fetchByLink(b, await shareLinkOf(a, file.hash));
    expect(await downloadAndHash(b, file.hash)).toBe(file.hash);
  } finally {
    await door.close();
    await rm(dataDir, { recursive: true, force: true });
  }
});
