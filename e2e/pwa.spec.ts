import { appendFile, cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, test } from './fixtures.ts';
import { addFiles, downloadAndHash, item, openApp } from './support/app.ts';
import { serviceWorkerWitness } from './support/browser.ts';
import { startDoorwayProcess, startRestartableDoorway } from './support/doorway-process.ts';
import { tempDir, writeRandomFile } from './support/files.ts';
import { occupyPort } from './support/ports.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

test('after the first visit the app and its content work with the network cut and the doorway gone', async ({
  openProfile,
}) => {
  const files = await tempDir();
  const door = await startDoorwayProcess();
  try {
    const file = await writeRandomFile(files.dir, 'offline.bin', 3 * 1024 * 1024 + 5);
    const { context } = await openProfile();
    const page = await openApp(context, door.url);
    await addFiles(page, [file.path]);
    await expect(item(page, file.hash)).toBeVisible();

    await door.stop();
    await context.setOffline(true);
    await page.reload();
    await expect(page.getByRole('button', { name: 'Choose files…' })).toBeEnabled();
    await expect(item(page, file.hash)).toContainText('offline.bin');
    await expect(page.getByTestId('doorway')).toHaveAttribute('data-status', 'offline');
    expect(await downloadAndHash(page, file.hash)).toBe(file.hash);
  } finally {
    await door.stop();
    await files.remove();
  }
});

test('Chromium finds the app installable', async ({ doorway, openProfile }) => {
  const { context } = await openProfile();
  const page = await openApp(context, doorway.url);
  const cdp = await context.newCDPSession(page);
  const { installabilityErrors } = await cdp.send('Page.getInstallabilityErrors');
  expect(installabilityErrors).toEqual([]);
  const manifest = await (
    await page.request.get(new URL('/manifest.webmanifest', doorway.url).toString())
  ).json();
  expect(manifest).toMatchObject({ name: 'Elohim', display: 'standalone', start_url: '/' });
  expect(manifest.icons.some((icon: { purpose?: string }) => icon.purpose === 'maskable')).toBe(
    true,
  );
});

test('a new version waits until the person chooses to reload, and nothing is lost', async ({
  openProfile,
}) => {
  const site = await mkdtemp(join(tmpdir(), 'elohim-site-'));
  const files = await tempDir();
  await cp(join(ROOT, 'dist'), site, { recursive: true });
  const door = await startRestartableDoorway(['--static', site]);
  let squatter: Awaited<ReturnType<typeof occupyPort>> | undefined;
  try {
    const file = await writeRandomFile(files.dir, 'kept.bin', 100_000);
    const { context } = await openProfile();
    const page = await openApp(context, door.url);
    await addFiles(page, [file.path]);
    await expect(item(page, file.hash)).toBeVisible();
    const before = await page.evaluate(() => navigator.serviceWorker.controller?.scriptURL);

    // Deploy a new version of the worker, and let the page notice it. Meanwhile another
    // program takes the doorway's libp2p port: it comes back on another, at the same origin.
    const relayPort = door.relayPort();
    await door.stop();
    await appendFile(join(site, 'sw.js'), '\n// next version\n');
    squatter = await occupyPort(relayPort);
    await door.start();
    expect(door.relayPort()).not.toBe(relayPort);
    await page.evaluate(async () => (await navigator.serviceWorker.getRegistration())?.update());
    const banner = page.getByTestId('update-ready');
    await expect(banner).toBeVisible();
    const witness = serviceWorkerWitness(page);
    const reloaded = page.waitForEvent('load', { timeout: 90_000 });
    await banner.getByRole('button', { name: 'Reload to update' }).click();
    // Once in three whole CI runs the reload never ended; what the workers were doing then
    // is not known yet: the failure says it.
    await reloaded.catch(async (error: unknown) => {
      throw new Error(`The page did not reload: ${error}\n${await witness.describe()}`);
    });
    await expect(page.getByTestId('update-ready')).toHaveCount(0);
    // The waiting version took over: nothing is waiting any more.
    expect(await page.evaluate(() => navigator.serviceWorker.controller?.scriptURL)).toBe(before);
    expect(
      await page.evaluate(async () => !!(await navigator.serviceWorker.getRegistration())?.waiting),
    ).toBe(false);
    await expect(item(page, file.hash)).toBeVisible();
    expect(await downloadAndHash(page, file.hash)).toBe(file.hash);
  } finally {
    await door.close();
    await squatter?.release();
    await files.remove();
    await rm(site, { recursive: true, force: true });
  }
});
