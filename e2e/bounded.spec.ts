/**
 * Bounded discovery (README, "Bounded discovery"): a page keeps at most `maxPeers` direct peers
 * of those the doorway lists, and a holder outside them is still fetched from: the trust layer
 * names it, the page dials it on demand (making room) and fetches straight from it.
 */
import { expect, specFiles, test } from './fixtures.ts';
import {
  addFiles,
  fetchInPage,
  item,
  openApp,
  openMeta,
  peerEntry,
  peerIdOf,
  shareLinkOf,
  trustConnected,
  waitReachable,
} from './support/app.ts';
import { writeRandomFile } from './support/files.ts';

const files = specFiles();

test('a page at its bound of peers dials a holder it is not connected to when it fetches', async ({
  doorway,
  openProfile,
}) => {
  test.setTimeout(240_000);
  const file = await writeRandomFile(files.dir, 'held.bin', 24 * 1024 * 1024);
  // C first: B, allowed one peer, takes C and then has no room for anyone the doorway lists.
  const c = await openApp((await openProfile()).context, doorway.url);
  await waitReachable(c);
  const cId = await peerIdOf(c);
  const b = await openApp((await openProfile()).context, doorway.url, { maxPeers: 1 });
  await trustConnected(b);
  await expect(peerEntry(b, cId)).toHaveAttribute('data-direct', 'true', { timeout: 60_000 });

  // A holds the item (alone: it gives the doorway no copy) and dials nobody itself; the doorway
  // lists it to B, which is full.
  const a = await openApp((await openProfile()).context, doorway.url, {
    dialListed: 0,
    keepOnDoorway: 0,
  });
  await trustConnected(a);
  await addFiles(a, [file.path]);
  await expect(item(a, file.hash)).toBeVisible({ timeout: 60_000 });
  await waitReachable(a);
  const aId = await peerIdOf(a);
  await expect(peerEntry(b, aId)).toHaveCount(0);
  // The trust layer lists A before B asks: otherwise B, finding no holder, rightly falls back
  // to the doorway's bridge (which pulls from A) once the peers had their chance, and nothing
  // here would be dialled. (Seen in whole runs before the dial fixes of docs/design.md §9:
  // both of B's dials to A hung for their 10 s, and the bridge brought it.)
  await openMeta(a, file.hash);
  await expect(a.getByTestId('item-details').getByTestId('trust-listing')).toHaveAttribute(
    'data-mine',
    'true',
    { timeout: 60_000 },
  );

  // Opened within the page: a reload would start B's node afresh, with room for A.
  await fetchInPage(b, await shareLinkOf(a, file.hash));
  // From A itself, over a direct connection dialled for this fetch.
  await expect(b.locator(`[data-testid="fetch-peer"][data-peer-id="${aId}"]`)).toContainText(
    'direct',
  );
});
