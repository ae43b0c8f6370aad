/**
 * One conductor behind many doorways (issue 16 point 5): the conductor emulator runs as its own
 * process (`npm run conductor`), two doorways stand in front of it in proxy mode
 * (`--hc-conductor` + `--hc-admin`). A browser signs in through doorway 2 and announces an item;
 * a browser on doorway 3 sees that announcement — and doorway 2's own, for the copy it keeps —
 * in the one trust layer behind both.
 */
import type { Page } from '@playwright/test';
import { expect, specFiles, test } from './fixtures.ts';
import { addFiles, item, openApp, openMeta, peerIdOf, trustConnected } from './support/app.ts';
import {
  type ConductorProcess,
  proxyArgs,
  startConductorProcess,
} from './support/conductor-process.ts';
import {
  type DoorwayProcess,
  doorwayPeerId,
  keptByDoorway,
  startDoorwayProcess,
} from './support/doorway-process.ts';
import { writeRandomFile } from './support/files.ts';

const files = specFiles();

async function storeCommons(page: Page, path: string, hash: string): Promise<void> {
  await page.getByTestId('ingest-reach').selectOption('commons');
  await addFiles(page, [path]);
  await expect(item(page, hash)).toBeVisible({ timeout: 60_000 });
}

test('a browser on doorway 3 sees in the trust layer what a browser on doorway 2 announced: one conductor behind both', async ({
  openProfile,
}) => {
  test.setTimeout(240_000);
  let conductor: ConductorProcess | undefined;
  const doorways: DoorwayProcess[] = [];
  try {
    conductor = await startConductorProcess();
    doorways.push(await startDoorwayProcess(proxyArgs(conductor)));
    doorways.push(await startDoorwayProcess(proxyArgs(conductor)));
    const [two, three] = doorways as [DoorwayProcess, DoorwayProcess];
    const file = await writeRandomFile(files.dir, 'announced.bin', 256 * 1024);

    // A signs in through doorway 2 (its /hc/connect goes to the conductor's admin interface)
    // and announces a commons item, which doorway 2 also keeps.
    const a = await openApp((await openProfile()).context, two.url, { copies: 1 });
    await trustConnected(a);
    const aId = await peerIdOf(a);
    await storeCommons(a, file.path, file.hash);
    await openMeta(a, file.hash);
    await expect(a.getByTestId('item-details').getByTestId('trust-listing')).toHaveAttribute(
      'data-mine',
      'true',
      {
        timeout: 60_000,
      },
    );
    await expect
      .poll(async () => (await keptByDoorway(two.url)).items, { timeout: 60_000 })
      .toBe(1);
    const twoId = await doorwayPeerId(two.url);

    // B signs in through doorway 3 and stores the same bytes: the trust layer lists A, and
    // doorway 2's own peer (it joined the trust layer in proxy mode too), as holders.
    const b = await openApp((await openProfile()).context, three.url);
    await trustConnected(b);
    await storeCommons(b, file.path, file.hash);
    await expect(async () => {
      await b.reload();
      await trustConnected(b);
      await openMeta(b, file.hash);
      const listing = b.getByTestId('item-details').getByTestId('trust-listing');
      await expect(listing).toHaveAttribute('data-mine', /true|false/, { timeout: 10_000 });
      await expect(listing.locator(`code[title="${aId}"]`)).toHaveCount(1, { timeout: 1_000 });
      await expect(listing.locator(`code[title="${twoId}"]`)).toHaveCount(1, { timeout: 1_000 });
    }).toPass({ timeout: 90_000 });
  } finally {
    for (const doorway of doorways) await doorway.stop();
    await conductor?.stop();
  }
});
