import { expect, test } from './fixtures.ts';
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
import { tempDir, writeRandomFile } from './support/files.ts';

const MiB = 1024 * 1024;

let files: Awaited<ReturnType<typeof tempDir>>;
test.beforeAll(async () => {
  files = await tempDir();
});
test.afterAll(async () => {
  await files.remove();
});

test('B fetches what A seeds, straight from A over WebRTC', async ({ doorway, openProfile }) => {
  test.setTimeout(240_000);
  const small = await writeRandomFile(files.dir, 'five.bin', 5 * MiB);
  const large = await writeRandomFile(files.dir, 'forty.bin', 40 * MiB);

  const a = await openApp((await openProfile()).context, doorway.url);
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
    await expect(b.getByTestId('fetch-peer').first()).toContainText('direct');
    expect(await downloadAndHash(b, file.hash)).toBe(file.hash);
  }
});
