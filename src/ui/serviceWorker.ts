import { Workbox } from 'workbox-window';

/** What the service worker posts when a streamed read fails part-way (see worker/content-route.ts). */
export interface ContentReadFailed {
  type: 'content-read-failed';
  hash: string;
  message: string;
}

let workbox: Workbox | undefined;

/** Registers the service worker (offline shell and `/content/` URLs). */
export function registerServiceWorker(): void {
  if (!('serviceWorker' in navigator) || workbox) return;
  const url = import.meta.env.DEV ? '/dev-sw.js?dev-sw' : '/sw.js';
  workbox = new Workbox(url, { type: 'module' });
  void workbox.register();
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
