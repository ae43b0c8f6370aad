import { type BrowserContext, expect, type Locator, type Page } from '@playwright/test';
import { hashFile } from './files.ts';

export interface StoreSettings {
  chunkedAbove?: number;
  rsAbove?: number;
  chunkSize?: number;
  pieceSize?: number;
  /** Peers asked to keep a copy of what the page stores (`?copies=`); `openApp` defaults to 0. */
  copies?: number;
  /** 0: dial only the holders a fetch needs, not every peer the doorway lists (`?dialListed=`). */
  dialListed?: 0 | 1;
  /** Direct peers the node keeps besides doorways (`?maxPeers=`); the app's default (8) unset. */
  maxPeers?: number;
  /** 0: offer no commons item to the doorway to keep (`?keepOnDoorway=`, the Settings checkbox). */
  keepOnDoorway?: 0 | 1;
}

/** Small thresholds so a few hundred KiB exercise all three encodings. */
export const SMALL: StoreSettings = {
  chunkedAbove: 64 * 1024,
  rsAbove: 256 * 1024,
  chunkSize: 32 * 1024,
  pieceSize: 32 * 1024,
};

export function appUrl(base: string, settings: StoreSettings = {}): string {
  const url = new URL(base);
  for (const [key, value] of Object.entries(settings)) url.searchParams.set(key, String(value));
  return url.toString();
}

export async function openApp(
  context: BrowserContext,
  base: string,
  settings?: StoreSettings,
): Promise<Page> {
  const page = context.pages()[0] ?? (await context.newPage());
  // Replication off unless a spec asks for it: most specs measure fetches between profiles,
  // which copies arriving on their own would bypass.
  await page.goto(appUrl(base, { copies: 0, ...settings }));
  await expect(page.getByRole('button', { name: 'Choose files…' })).toBeEnabled();
  // Reads are streamed by the service worker: make sure it controls the page.
  await page.waitForFunction(() => !!navigator.serviceWorker.controller);
  return page;
}

export async function addFiles(page: Page, paths: string[]): Promise<void> {
  await page.getByTestId('file-input').setInputFiles(paths);
}

export function item(page: Page, hash: string): Locator {
  return page.locator(`[data-testid="item"][data-hash="${hash}"]`);
}

/** A row of "Kept for others": a copy or shards this browser keeps because another peer asked. */
export function keptItem(page: Page, hash: string): Locator {
  return page.locator(`[data-testid="kept"][data-hash="${hash}"]`);
}

/** Opens an item's details and waits for its shared description. */
export async function openMeta(page: Page, hash: string): Promise<Locator> {
  await item(page, hash).getByTitle('Show details').click();
  const meta = page.getByTestId('item-meta');
  await expect(meta).toBeVisible({ timeout: 60_000 });
  return meta;
}

/** Downloads an item through the UI and returns the sha256 of what landed on disk. */
export async function downloadAndHash(page: Page, hash: string): Promise<string> {
  const row = item(page, hash);
  const [download] = await Promise.all([
    page.waitForEvent('download', { timeout: 120_000 }),
    row.getByRole('button', { name: /^Download/ }).click(),
  ]);
  const failure = await download.failure();
  if (failure) throw new Error(`download failed: ${failure}`);
  const path = await download.path();
  return hashFile(path);
}

/** Waits until the page's node holds a relay reservation: other browsers can dial it. */
export async function waitReachable(page: Page): Promise<void> {
  await expect(page.getByTestId('reachable')).toHaveText(/reachable by other browsers/, {
    timeout: 30_000,
  });
}

export async function shareLinkOf(page: Page, hash: string): Promise<string> {
  const href = await item(page, hash).getByTestId('share-link').getAttribute('href');
  if (!href) throw new Error(`no share link for ${hash}`);
  return href;
}

/** Opens a share link and waits until the content is fetched and verified. */
export async function fetchByLink(page: Page, link: string, timeout = 120_000): Promise<void> {
  await page.goto(link);
  await expect(page.getByTestId('fetch-status')).toHaveText(/Fetched and verified/, { timeout });
}

/**
 * Opens a share link within the page, as back/forward would (history + `popstate`): no reload,
 * so the page's node keeps its connections (and works with its doorway gone); waits until the
 * content is fetched and verified.
 */
export async function fetchInPage(page: Page, link: string, timeout = 120_000): Promise<void> {
  await openInPage(page, link);
  await expect(page.getByTestId('fetch-status')).toHaveText(/Fetched and verified/, { timeout });
}

/** Opens `link` (or a path) within the page, as back/forward would: the node stays up. */
export async function openInPage(page: Page, link: string): Promise<void> {
  const url = new URL(link, 'http://page.invalid');
  await page.evaluate((path) => {
    history.pushState(null, '', path);
    dispatchEvent(new PopStateEvent('popstate'));
  }, `${url.pathname}${url.search}`);
}

/** The peers panel's entry for a peer: `data-direct` says whether the connection is direct. */
export function peerEntry(page: Page, peerId: string): Locator {
  return page.locator(`[data-testid="peer"][data-peer-id="${peerId}"]`);
}

export async function peerIdOf(page: Page): Promise<string> {
  const id = await page.getByTestId('peers-panel').locator('code').first().getAttribute('title');
  if (!id) throw new Error('no peer id shown');
  return id;
}

/** The hash of the library row showing `name`, once it is there. */
export async function hashOfItemNamed(page: Page, name: string): Promise<string> {
  const row = page.locator('[data-testid="item"]', { hasText: name });
  await expect(row).toBeVisible({ timeout: 60_000 });
  const hash = await row.getAttribute('data-hash');
  if (!hash) throw new Error(`no hash on the row of ${name}`);
  return hash;
}

/** GET /content/<hash> in the page: status, and sha256 of the body when it is 200. */
export async function getContent(page: Page, hash: string) {
  return page.evaluate(async (hash) => {
    const response = await fetch(`/content/${hash}`);
    const bytes = new Uint8Array(await response.arrayBuffer());
    const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
    return {
      status: response.status,
      type: response.headers.get('Content-Type'),
      sha: `sha256-${Array.from(digest, (x) => x.toString(16).padStart(2, '0')).join('')}`,
      text: response.ok ? '' : new TextDecoder().decode(bytes),
    };
  }, hash);
}

/** Waits until the People panel says the trust layer is connected. */
export async function trustConnected(page: Page) {
  await expect(page.getByTestId('trust-status')).toHaveAttribute('data-status', 'connected', {
    timeout: 60_000,
  });
}

/**
 * Holds back the restore queue of `context`'s profile (what a backup or a pairing lists is
 * then not fetched): a page of the origin that runs no app, the doorway's /health, takes the
 * queue's lock. Close the page to let the queue run.
 */
export async function holdRestoreQueue(context: BrowserContext, doorway: string): Promise<Page> {
  const holder = await context.newPage();
  await holder.goto(new URL('/health', doorway).href);
  await holder.evaluate(
    () =>
      new Promise<void>((held) => {
        void navigator.locks.request('elohim-restore-queue', () => {
          held();
          return new Promise(() => {});
        });
      }),
  );
  return holder;
}
