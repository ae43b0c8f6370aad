import type { BrowserContext, Page } from '@playwright/test';

/**
 * Turns the app's logger (`logger()` from src/wire: @libp2p/logger, weald in the browser) on
 * for every page of `context`, before the app's scripts run: weald reads `localStorage.debug`
 * once, when it loads.
 */
export async function enableAppLog(context: BrowserContext): Promise<void> {
  await context.addInitScript(() => {
    try {
      localStorage.setItem('debug', 'elohim:*');
    } catch {
      // A page without storage (about:blank) runs no app.
    }
  });
}

/** `openProfile` whose profiles log with the app's logger on. */
export function withAppLog<P extends { context: BrowserContext }>(
  openProfile: () => Promise<P>,
): () => Promise<P> {
  return async () => {
    const profile = await openProfile();
    await enableAppLog(profile.context);
    return profile;
  };
}

/**
 * A refusal line: weald prints `%c<namespace> %c<message>%c +<ms>` followed by the three CSS
 * colours as more arguments, and Playwright's `text()` joins the arguments with spaces without
 * applying `%c`; so the line ends where `%c +` starts (or at the end, for a plain line).
 */
const REFUSAL = /refused \S+ to \S+: .*?(?=%c \+|$)/s;

/**
 * Collects the delivery gate's refusals `page` logs (`refused <hash> to <peer>: <reason>`),
 * each as that text alone. Needs the app's log on (`enableAppLog`) before the page loads.
 */
export function refusalsOf(page: Page): string[] {
  const lines: string[] = [];
  page.on('console', (message) => {
    const refusal = REFUSAL.exec(message.text());
    if (refusal) lines.push(refusal[0]);
  });
  return lines;
}
