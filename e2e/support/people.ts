import { type BrowserContext, expect, type Page } from '@playwright/test';
import { appUrl, openApp, type StoreSettings, trustConnected } from './app.ts';

/** The agent key the People panel shows. */
export async function agentOf(page: Page): Promise<string> {
  const agent = await page.getByTestId('my-agent-key').getAttribute('title');
  if (!agent) throw new Error('no agent key shown in the People panel');
  return agent;
}

/** The family panel has heard from the trust layer at least once. */
export async function familyReady(page: Page): Promise<void> {
  await expect(page.getByTestId('family-cluster')).toHaveAttribute('data-status', 'ready', {
    timeout: 60_000,
  });
}

/** `page` opens `other`'s contact link and adds them, as family or not, then goes home. */
export async function addContact(page: Page, other: Page, home: string, family: boolean) {
  const agent = await agentOf(other);
  await page.goto(await other.getByTestId('contact-link').inputValue());
  await trustConnected(page);
  // The list above the form fills in once read: clicking before that could land on a moving button.
  await expect(page.getByTestId('contacts-heading')).toHaveAttribute('data-status', 'loaded', {
    timeout: 30_000,
  });
  if (family) await page.getByTestId('add-contact-family').check();
  await page.getByTestId('add-contact-button').click();
  await expect(page.locator(`[data-testid="contact"][data-agent="${agent}"]`)).toHaveAttribute(
    'data-family',
    String(family),
    { timeout: 30_000 },
  );
  await page.goto(home);
  await expect(page.getByRole('button', { name: 'Choose files…' })).toBeEnabled();
  await page.waitForFunction(() => !!navigator.serviceWorker.controller);
  await trustConnected(page);
  return agent;
}

/** Three people on one doorway, each connected to the trust layer. */
export async function threePeople(
  doorway: { url: string },
  openProfile: () => Promise<{ context: BrowserContext }>,
  settings?: StoreSettings,
) {
  const a = await openApp((await openProfile()).context, doorway.url, settings);
  const b = await openApp((await openProfile()).context, doorway.url);
  const c = await openApp((await openProfile()).context, doorway.url);
  for (const page of [a, b, c]) await trustConnected(page);
  return { a, b, c, home: appUrl(doorway.url, { copies: 0, ...settings }) };
}

export type ThreePeople = Awaited<ReturnType<typeof threePeople>>;

/**
 * A names B family (so B is also a contact A can invite) and waits until B holds A's family
 * key.
 */
export async function familyOfTwo({ a, b, home }: ThreePeople): Promise<{ bAgent: string }> {
  const aAgent = await agentOf(a);
  const bAgent = await addContact(a, b, home, true);
  await familyReady(a);
  await expect(a.locator(`[data-testid="family-member"][data-agent="${bAgent}"]`)).toHaveAttribute(
    'data-key-status',
    'shared',
    { timeout: 60_000 },
  );
  await expect(b.locator(`[data-testid="family-of"][data-owner="${aAgent}"]`)).toHaveAttribute(
    'data-key-status',
    'received',
    { timeout: 60_000 },
  );
  return { bAgent };
}
