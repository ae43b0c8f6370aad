import type { BrowserContext, Page } from '@playwright/test';
import { expect, specFiles, test } from './fixtures.ts';
import {
  addFiles,
  appUrl,
  fetchByLink,
  getContent,
  hashOfItemNamed,
  openApp,
  trustConnected,
} from './support/app.ts';
import { writeRandomFile } from './support/files.ts';
import { addContact, agentOf, familyReady } from './support/people.ts';
import { expectRecipientOpens } from './support/sealed.ts';

const files = specFiles();

/** A trusted contact opens the recovery link, checks the code, and releases their share. */
async function release(context: BrowserContext, link: string, code: string): Promise<Page> {
  const page = await context.newPage();
  await page.goto(link);
  const help = page.getByTestId('help-recover');
  await expect(help.getByTestId('help-recover-code')).toHaveText(code, { timeout: 60_000 });
  // The one person whose share this contact holds is chosen already.
  await expect(help.getByTestId('help-recover-owner')).toBeChecked();
  await expect(help.getByTestId('help-recover-release')).toBeDisabled();
  await help.getByTestId('help-recover-confirm').check();
  await help.getByTestId('help-recover-release').click();
  await expect(help.getByTestId('help-recover-done')).toBeVisible({ timeout: 30_000 });
  return page;
}

test('social recovery, 3 of 5: two contacts’ shares bring nothing back; with the third the identity is back and a family item opens', async ({
  doorway,
  openProfile,
}) => {
  test.setTimeout(300_000);
  const note = await writeRandomFile(files.dir, 'family.bin', 150_000);
  const home = appUrl(doorway.url, { copies: 0 });

  // A and five people A knows; the first is also A's family, and keeps A's family item.
  const profileA = await openProfile();
  const a = await openApp(profileA.context, doorway.url);
  const contexts: BrowserContext[] = [];
  const agents: string[] = [];
  for (let i = 0; i < 5; i++) {
    const { context } = await openProfile();
    const page = await openApp(context, doorway.url);
    await trustConnected(page);
    await trustConnected(a);
    agents.push(await addContact(a, page, home, i === 0));
    contexts.push(context);
    // Only the family member's page stays open; the others come back to help.
    if (i > 0) await page.close();
  }
  const kin = (contexts[0] as BrowserContext).pages()[0] as Page;
  await familyReady(kin);
  await expect(
    kin.locator(`[data-testid="family-of"][data-owner="${await agentOf(a)}"]`),
  ).toHaveAttribute('data-key-status', 'received', { timeout: 60_000 });
  await a.getByTestId('ingest-reach').selectOption('local');
  await expect(a.getByTestId('family-audience')).toContainText(/Sealed for your family/);
  await addFiles(a, [note.path]);
  const hash = await hashOfItemNamed(a, 'family.bin');
  await expectRecipientOpens(a, kin, hash, note);

  // A chooses the five, any three of whom can bring A back.
  const setup = a.getByTestId('recovery-setup');
  await setup.locator('summary').click();
  await expect(setup.getByTestId('recovery-current')).toHaveText(/No trusted contacts chosen/, {
    timeout: 30_000,
  });
  for (const agent of agents) {
    await setup.locator(`[data-testid="recovery-guardian"][data-agent="${agent}"]`).check();
  }
  await setup.getByTestId('recovery-threshold').fill('3');
  await setup.getByTestId('recovery-save').click();
  await expect(setup.getByTestId('recovery-saved')).toBeVisible({ timeout: 30_000 });
  await expect(setup.getByTestId('recovery-current')).toHaveAttribute('data-threshold', '3');
  const agentA = await agentOf(a);
  // Every device of A is gone.
  await profileA.close();

  // A new browser asks for recovery from its welcome: a link and a code to read to the contacts.
  const n = await openApp((await openProfile()).context, doorway.url);
  await trustConnected(n);
  const agentN = await agentOf(n);
  const recover = n.getByTestId('first-run').getByTestId('social-recover');
  await recover.locator('summary').click();
  const link = (await recover.getByTestId('recover-link').textContent()) ?? '';
  expect(link).toContain(`/recover/${agentN}`);
  await expect(recover.getByTestId('recover-code')).toHaveText(/^\d{4} \d{4}$/);
  const code = (await recover.getByTestId('recover-code').textContent()) ?? '';

  // Two contacts release: counted, and nothing is recovered.
  for (const context of contexts.slice(1, 3)) await (await release(context, link, code)).close();
  await expect(recover.getByTestId('recover-progress')).toHaveAttribute('data-have', '2', {
    timeout: 30_000,
  });
  await expect(recover.getByTestId('recover-progress')).toHaveAttribute('data-need', '3');
  expect(await agentOf(n)).toBe(agentN);

  // The third: the new browser reloads as A, and opens A's family item from the family member.
  await release(contexts[3] as BrowserContext, link, code);
  await expect(n.getByTestId('my-agent-key')).toHaveAttribute('title', agentA, {
    timeout: 60_000,
  });
  await trustConnected(n);
  await fetchByLink(n, `${doorway.url.replace(/\/$/, '')}/get/${hash}`);
  const opened = await getContent(n, hash);
  expect(opened.status, opened.text).toBe(200);
  expect(opened.sha).toBe(note.hash);
});
