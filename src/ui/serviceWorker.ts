import { Workbox } from 'workbox-window';

/** What the service worker posts when a streamed read fails part-way (see worker/content-route.ts). */
export interface ContentReadFailed {
  type: 'content-read-failed';
  hash: string;
  message: string;
}

let workbox: Workbox | undefined;
const updateListeners = new Set<() => void>();
let updateWaiting = false;

/** Registers the service worker (offline shell and `/content/` URLs). */
export function registerServiceWorker(): void {
  if (!('serviceWorker' in navigator) || workbox) return;
  const url = import.meta.env.DEV ? '/dev-sw.js?dev-sw' : '/sw.js';
  workbox = new Workbox(url, { type: 'module' });
  // A new version installed while this one runs: it waits until the person chooses to reload,
  // so nothing in progress (an ingest, a fetch) is cut off by an update.
  workbox.addEventListener('waiting', () => {
    updateWaiting = true;
    for (const listener of updateListeners) listener();
  });
  void workbox.register();
}

/** Calls `listener` when a new version is ready (at once if one already is). */
export function onUpdateReady(listener: () => void): () => void {
  updateListeners.add(listener);
  if (updateWaiting) listener();
  return () => updateListeners.delete(listener);
}

/** Activates the waiting version and reloads into it. */
export function applyUpdate(): void {
  if (!workbox) return;
  workbox.addEventListener('controlling', () => location.reload());
  workbox.messageSkipWaiting();
}

/** True when `/content/` URLs are served by our worker in this page. */
export function contentUrlsAvailable(): boolean {
  return !!navigator.serviceWorker?.controller;
}

export function onContentReadFailed(listener: (event: ContentReadFailed) => void): () => void {
  const handler = (event: MessageEvent) => {
    if (event.data?.type === 'content-read-failed') listener(event.data as ContentReadFailed);
  };
  navigator.serviceWorker?.addEventListener('message', handler);
  return () => navigator.serviceWorker?.removeEventListener('message', handler);
}

export function contentUrl(hash: string, download?: string): string {
  const url = new URL(`/content/${hash}`, location.origin);
  if (download !== undefined) url.searchParams.set('download', download);
  return url.toString();
}

/**
 * Chromium does not route `<a download>` requests through the service worker, but it does
 * route navigations: a hidden frame navigated to an attachment response becomes a download.
 */
export function downloadThroughWorker(href: string): void {
  const frame = document.createElement('iframe');
  frame.hidden = true;
  frame.src = href;
  document.body.append(frame);
  setTimeout(() => frame.remove(), 60_000);
}
