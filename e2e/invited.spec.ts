import type { Page } from '@playwright/test';
import { expect, specFiles, test } from './fixtures.ts';
import { addFiles, hashOfItemNamed, openApp, peerIdOf, trustConnected } from './support/app.ts';
import { refusalsOf, withAppLog } from './support/app-log.ts';
import { writeRandomFile } from './support/files.ts';
import { expectRecipientOpens, expectRefused, expectSealedAtOwner } from './support/sealed.ts';

const files = specFiles();

test('an invited item reaches the named agent and no one else; stored ciphertext is not the plaintext', async ({
  doorway,
  openProfile,
}) => {
  test.setTimeout(300_000);
  const note = await writeRandomFile(files.dir, 'invited.bin', 300_000);

  // Holders log each refusal.
  const logged = withAppLog(openProfile);
  const a = await openApp((await logged()).context, doorway.url);
  const b = await openApp((await logged()).context, doorway.url);
  const c = await openApp((await openProfile()).context, doorway.url);
  for (const page of [a, b, c]) await trustConnected(page);
  const refusals = new Map<Page, string[]>([
    [a, refusalsOf(a)],
    [b, refusalsOf(b)],
  ]);

  // Invited with nobody named: a clear error, nothing stored.
  await a.getByTestId('ingest-reach').selectOption('invited');
  await addFiles(a, [note.path]);
  await expect(a.getByTestId('ingest-error')).toContainText(/at least one person/);
  await expect(a.locator('[data-testid="item"]', { hasText: 'invited.bin' })).toHaveCount(0);

  // A adds B from B's contact link.
  const bAgent = await b.getByTestId('my-agent-key').getAttribute('title');
  if (!bAgent) throw new Error("no agent key shown in B's page");
  await a.goto(await b.getByTestId('contact-link').inputValue());
  await trustConnected(a);
  await a.getByTestId('add-contact-button').click();
  await expect(a.getByTestId('contact')).toHaveCount(1, { timeout: 30_000 });
  await a.goto(doorway.url);
  await expect(a.getByRole('button', { name: 'Choose files…' })).toBeEnabled();
  await a.waitForFunction(() => !!navigator.serviceWorker.controller);
  await trustConnected(a);

  // The invited choice (remembered) lists B; A names B and stores the file.
  await expect(a.getByTestId('ingest-reach')).toHaveValue('invited');
  const pick = a.locator(`[data-testid="invite-contact"][value="${bAgent}"]`);
  await expect(pick).toBeVisible({ timeout: 30_000 });
  await pick.check();
  await addFiles(a, [note.path]);
  const hash = await hashOfItemNamed(a, 'invited.bin');
  await expect(a.locator('[data-testid="item"]', { hasText: 'invited.bin' })).toHaveAttribute(
    'data-reach',
    'invited',
  );

  await expectSealedAtOwner(a, hash, note);
  // B fetches it by A's share link and opens it with the key it shares with A.
  await expectRecipientOpens(a, b, hash, note);

  // C asks for it by hash: every holder says it has nothing, and C receives zero bytes.
  await expectRefused(c, [a, b], hash);
  const cId = await peerIdOf(c);
  for (const [holder, lines] of refusals) {
    await expect
      .poll(() => lines.some((line) => line.includes(hash) && line.includes(cId)), {
        message: `${holder === a ? 'A' : 'B'} refused C`,
        timeout: 30_000,
      })
      .toBe(true);
  }
});
