import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium } from '@playwright/test';

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
