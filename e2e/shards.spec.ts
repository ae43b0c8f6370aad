import type { Page } from '@playwright/test';
import { expect, specFiles, test } from './fixtures.ts';
import {
  addFiles,
  downloadAndHash,
  fetchByLink,
  item,
  keptItem,
  openApp,
  peerIdOf,
  SMALL,
  type StoreSettings,
  shareLinkOf,
  waitReachable,
} from './support/app.ts';
import type { Profile } from './support/browser.ts';
import { writeRandomFile } from './support/files.ts';

const files = specFiles();

/** rs-4-7 from 256 KiB, pieces of 32 KiB; peers that keep what others spread. */
const KEEPER: StoreSettings = { ...SMALL, copies: 2 };

interface Keeper {
  profile: Profile;
  page: Page;
  peerId: string;
}

/** The shards a peer keeps of `hash`, once it keeps some. */
async function shardsKept(page: Page, hash: string): Promise<number[]> {
  await expect(keptItem(page, hash)).toBeVisible({ timeout: 60_000 });
  const list = (await keptItem(page, hash).getAttribute('data-shards')) ?? '';
  return list.split(',').map(Number);
}

async function keeper(openProfile: () => Promise<Profile>, url: string): Promise<Keeper> {
  const profile = await openProfile();
  const page = await openApp(profile.context, url, KEEPER);
  await waitReachable(page);
  return { profile, page, peerId: await peerIdOf(page) };
}

test('an rs-4-7 file spread one shard per peer over 7 peers still fetches with 3 of them closed, and repair brings it back to 7', async ({
  doorway,
  openProfile,
}) => {
  test.setTimeout(420_000);
  const file = await writeRandomFile(files.dir, 'spread.bin', 700 * 1024);

  // A stores it; 7 peers come online and each takes one shard.
  const profileA = await openProfile();
  // Peers alone keep it: a doorway holding the whole file would leave no shard to rebuild.
  const a = await openApp(profileA.context, doorway.url, { ...KEEPER, keepOnDoorway: 0 });
  await addFiles(a, [file.path]);
  await expect(item(a, file.hash)).toHaveAttribute('data-encoding', 'rs-4-7', {
    timeout: 60_000,
  });
  await waitReachable(a);
  const link = await shareLinkOf(a, file.hash);
  const keepers: Keeper[] = [];
  for (let i = 0; i < 7; i++) keepers.push(await keeper(openProfile, doorway.url));

  const health = item(a, file.hash).getByTestId('replica-health');
  await expect(health).toHaveText(/7 of 7 shards on distinct peers$/, { timeout: 120_000 });
  await expect(health).toHaveAttribute('data-state', 'replicated');
  const byShard = new Map<number, Keeper>();
  for (const k of keepers) {
    const shards = await shardsKept(k.page, file.hash);
    expect(shards).toHaveLength(1);
    byShard.set(shards[0] as number, k);
    // A shard is not the file: it is listed apart from the library.
    await expect(item(k.page, file.hash)).toHaveCount(0);
  }
  expect([...byShard.keys()].sort()).toEqual([0, 1, 2, 3, 4, 5, 6]);
  // While its author is online, every keeper sees all 7 shards online.
  for (const k of keepers) {
    await expect(keptItem(k.page, file.hash).getByTestId('replica-health')).toHaveAttribute(
      'data-state',
      'replicated',
      { timeout: 60_000 },
    );
  }

  // The author goes, and with it the keepers of data shards 0, 1 and 2: only data shard 3
  // is left, so a reader must rebuild from parity.
  await profileA.close();
  const gone = [0, 1, 2].map((s) => byShard.get(s) as Keeper);
  for (const k of gone) await k.profile.close();
  const survivors = [3, 4, 5, 6].map((s) => byShard.get(s) as Keeper);
  for (const k of survivors) {
    await expect(keptItem(k.page, file.hash).getByTestId('replica-health')).toHaveText(
      /4 of 7 shards online/,
      { timeout: 60_000 },
    );
  }

  // F has never met A: it fetches the file from the 4 keepers left, verified.
  const profileF = await openProfile();
  const f = await openApp(profileF.context, doorway.url);
  await fetchByLink(f, link, 120_000);
  expect(await downloadAndHash(f, file.hash)).toBe(file.hash);
  await profileF.close();

  // Three new peers come online: the keepers rebuild shards 0, 1 and 2 and hand one to each.
  const newcomers: Keeper[] = [];
  for (let i = 0; i < 3; i++) newcomers.push(await keeper(openProfile, doorway.url));
  for (const n of newcomers)
    await expect(keptItem(n.page, file.hash)).toBeVisible({ timeout: 120_000 });
  // Each keeps one of the lost shards (a shard placed twice moves on to a missing one).
  await expect
    .poll(
      async () => {
        const held = await Promise.all(
          newcomers.map((n) => keptItem(n.page, file.hash).getAttribute('data-shards')),
        );
        return held.sort().join(' ');
      },
      { timeout: 120_000 },
    )
    .toBe('0 1 2');
  for (const k of [...survivors, ...newcomers]) {
    const chip = keptItem(k.page, file.hash).getByTestId('replica-health');
    await expect(chip).toHaveText(/7 of 7 shards online$/, { timeout: 120_000 });
    await expect(chip).toHaveAttribute('data-state', 'replicated');
  }
  // Whoever rebuilt them keeps just its own shard again.
  for (const k of survivors) expect(await shardsKept(k.page, file.hash)).toHaveLength(1);

  // The rebuilt shards are real: with 3 of the original keepers gone too, the last original
  // keeper and the 3 newcomers still serve the file to someone new.
  for (const k of survivors.slice(0, 3)) await k.profile.close();
  const g = await openApp((await openProfile()).context, doorway.url);
  await fetchByLink(g, link, 120_000);
  expect(await downloadAndHash(g, file.hash)).toBe(file.hash);
});
