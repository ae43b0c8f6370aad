import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium, expect, type Page, type Request } from '@playwright/test';

/** Debian's Chromium when installed (CI installs it), else the browser Playwright knows. */
export const CHROMIUM_PATH = existsSync('/usr/bin/chromium') ? '/usr/bin/chromium' : undefined;

/** The flags this machine needs as root, and to keep Chromium off the network. */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface Profile {
  context: BrowserContext;
  dir: string;
  close(): Promise<void>;
}

/**
 * A persistent context on a fresh profile: a new "person" with real on-disk IndexedDB.
 * (`browser.newContext()` is off-the-record and would hide persistence and quota behaviour.)
 */
export async function openProfile(): Promise<Profile> {
  const dir = await mkdtemp(join(tmpdir(), 'elohim-profile-'));
  const context = await chromium.launchPersistentContext(dir, {
    headless: true,
    executablePath: CHROMIUM_PATH,
    args: CHROMIUM_ARGS,
    acceptDownloads: true,
  });
  return {
    context,
    dir,
    async close() {
      await context.close().catch(() => {});
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * What a page's service workers are doing, and which of its requests are still unanswered:
 * said when a navigation through a worker never ends (`pwa.spec`), so that the failure shows
 * where it is stuck. Made before the navigation; `describe` once it failed.
 */
export function serviceWorkerWitness(page: Page) {
  const pending = new Map<Request, string>();
  const started = Date.now();
  page.on('request', (request) =>
    pending.set(
      request,
      `${Date.now() - started} ms: ${request.method()} ${request.url()}` +
        (request.isNavigationRequest() ? ' (navigation)' : ''),
    ),
  );
  page.on('requestfinished', (request) => pending.delete(request));
  page.on('requestfailed', (request) => pending.delete(request));
  return {
    async describe(): Promise<string> {
      const cdp = await page.context().newCDPSession(page);
      const versions = new Map<string, string>();
      cdp.on('ServiceWorker.workerVersionUpdated', ({ versions: updated }) => {
        for (const v of updated)
          versions.set(
            v.versionId,
            `version ${v.versionId}: ${v.status}, ${v.runningStatus}, ` +
              `${v.controlledClients?.length ?? 0} clients`,
          );
      });
      // Enabling the domain reports every version's state at once.
      await cdp.send('ServiceWorker.enable');
      await expect
        .poll(() => versions.size, { timeout: 5_000 })
        .toBeGreaterThan(0)
        .catch(() => {});
      return [
        'service workers:',
        ...versions.values(),
        'requests unanswered:',
        ...pending.values(),
      ].join('\n');
    },
  };
}
