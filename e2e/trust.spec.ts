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
  trustConnected,
  waitReachable,
} from './support/app.ts';
import { startRestartableDoorway } from './support/doorway-process.ts';
import { writeRandomFile } from './support/files.ts';
import { occupyPort } from './support/ports.ts';

const files = specFiles();

/** Peers dial each other only when the trust layer says who holds what. */
const ON_DEMAND = { dialListed: 0 } as const;

test('B finds A through the trust layer and fetches from it, never connected before; the index survives a doorway restart; what A stores meanwhile is announced when it is back', async ({
  openProfile,
}) => {
  test.setTimeout(300_000);
  const dataDir = await mkdtemp(join(tmpdir(), 'elohim-doorway-'));
  const door = await startRestartableDoorway(['--data-dir', dataDir]);
  let squatter: Awaited<ReturnType<typeof occupyPort>> | undefined;
  try {
    const before = await writeRandomFile(files.dir, 'before.bin', 2 * 1024 * 1024);
    const during = await writeRandomFile(files.dir, 'during.bin', 1024 * 1024);
    const a = await openApp((await openProfile()).context, door.url, ON_DEMAND);
    await trustConnected(a);
    await addFiles(a, [before.path]);
    await expect(item(a, before.hash)).toBeVisible({ timeout: 60_000 });
    await waitReachable(a);
    const aId = await peerIdOf(a);

    const b = await openApp((await openProfile()).context, door.url, ON_DEMAND);
    await trustConnected(b);
    // B has never been connected to A…
    await b.waitForTimeout(3_000);
    await expect(peerEntry(b, aId)).toHaveCount(0);
    // …and gets A from the trust layer, dials it and fetches.
    await fetchByLink(b, await shareLinkOf(a, before.hash));
    expect(await downloadAndHash(b, before.hash)).toBe(before.hash);

    // The doorway goes away; A stores something; the announcement waits in A's outbox.
    const relayPort = door.relayPort();
    await door.stop();
    await expect(a.getByTestId('trust-status')).toHaveAttribute(
      'data-status',
      /offline|connecting/,
    );
    await addFiles(a, [during.path]);
    await expect(item(a, during.hash)).toBeVisible({ timeout: 60_000 });
    await expect(a.getByTestId('trust-status')).toContainText('waiting', { timeout: 30_000 });
    const duringLink = await shareLinkOf(a, during.hash);
    const beforeLink = await shareLinkOf(a, before.hash);

    // Meanwhile another program took the doorway's libp2p port: it comes back on another, at
    // the same origin, and the peers follow.
    squatter = await occupyPort(relayPort);
    await door.start();
    expect(door.relayPort()).not.toBe(relayPort);
    await trustConnected(a);
    await expect(a.getByTestId('trust-status')).not.toContainText('waiting', { timeout: 60_000 });
    await waitReachable(a);

    // C, new and never connected to anyone: the index survived the restart, and the
    // announcement made while the doorway was down is there.
    const c = await openApp((await openProfile()).context, door.url, ON_DEMAND);
    await trustConnected(c);
    await expect(peerEntry(c, aId)).toHaveCount(0);
    await fetchByLink(c, beforeLink);
    await fetchByLink(c, duringLink);
    await c.goto(door.url);
    expect(await downloadAndHash(c, during.hash)).toBe(during.hash);
  } finally {
    await door.close();
    await squatter?.release();
    await rm(dataDir, { recursive: true, force: true });
  }
});

test('people: my agent and contact link; adding a contact from their link', async ({
  doorway,
  openProfile,
}) => {
  const a = await openApp((await openProfile()).context, doorway.url);
  const b = await openApp((await openProfile()).context, doorway.url);
  await trustConnected(a);
  await trustConnected(b);
  const link = await b.getByTestId('contact-link').inputValue();
  expect(link).toMatch(/\/contact\/uhCAk/);
  // Opening B's contact link in A offers to add B.
  await a.goto(link);
  await trustConnected(a);
  await expect(a.getByTestId('add-contact-input')).toHaveValue(link);
  await a.getByTestId('add-contact-button').click();
  await expect(a.getByTestId('contact')).toHaveCount(1, { timeout: 30_000 });
  // The link is in the trust layer, so B sees it too once it looks.
  await b.reload();
  await trustConnected(b);
  await expect(b.getByTestId('contact')).toHaveCount(1, { timeout: 30_000 });
});
