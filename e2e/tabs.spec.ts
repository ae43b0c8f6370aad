import { expect, test } from './fixtures.ts';
import { addFiles, fetchByLink, item, openApp, shareLinkOf, waitReachable } from './support/app.ts';
import { tempDir, writeRandomFile } from './support/files.ts';

test('three tabs share one node; when the leading tab closes another takes over within 2 s', async ({
  doorway,
  openProfile,
}) => {
  test.setTimeout(240_000);
  const files = await tempDir();
  try {
    const first = await writeRandomFile(files.dir, 'first.bin', 2 * 1024 * 1024);
    const second = await writeRandomFile(files.dir, 'second.bin', 3 * 1024 * 1024);
    const seeder = await openApp((await openProfile()).context, doorway.url);
    await addFiles(seeder, [first.path, second.path]);
    for (const file of [first, second]) await expect(item(seeder, file.hash)).toBeVisible();
    await waitReachable(seeder);

    const { context } = await openProfile();
    const leader = await openApp(context, doorway.url);
    await expect(leader.getByTestId('network-role')).toHaveAttribute('data-role', 'leader');
    const tabs = [await context.newPage(), await context.newPage()];
    for (const tab of tabs) {
      await tab.goto(doorway.url);
      await expect(tab.getByTestId('network-role')).toHaveAttribute('data-role', 'follower');
      // Followers mirror the leader's network state.
      await expect(tab.getByTestId('reachable')).toHaveText(/reachable by other browsers/);
    }
    const [tab2, tab3] = tabs as [typeof leader, typeof leader];

    // A follower's fetch runs in the leader's node; every tab's library sees the result.
    await fetchByLink(tab2, await shareLinkOf(seeder, first.hash));
    await expect(item(tab3, first.hash)).toBeVisible();
    await expect(item(leader, first.hash)).toBeVisible();

    await leader.close();
    const closedAt = Date.now();
    await expect
      .poll(
        async () => {
          const roles = await Promise.all(
            tabs.map((tab) => tab.getByTestId('network-role').getAttribute('data-role')),
          );
          return roles.filter((role) => role === 'leader').length;
        },
        { timeout: 10_000, intervals: [100] },
      )
      .toBe(1);
    const takeoverMs = Date.now() - closedAt;
    console.log(`a follower took over ${takeoverMs} ms after the leading tab closed`);
    expect(takeoverMs).toBeLessThan(2_000);

    // The UI in every remaining tab stays live: a new fetch from either tab works.
    await fetchByLink(tab3, await shareLinkOf(seeder, second.hash));
    await expect(item(tab2, second.hash)).toBeVisible();
  } finally {
    await files.remove();
  }
});
