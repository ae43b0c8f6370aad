/// <reference lib="webworker" />
/**
 * The service worker: the offline app shell (Workbox precache) and `/content/sha256-<hex>`,
 * which streams a blob out of IndexedDB, every piece verified, so that opening or downloading
 * a file of any size never holds it whole in memory. A blob only peers hold is streamed
 * through a window of the app, range by range (see peer-bridge.ts).
 */
import { clientsClaim } from 'workbox-core';
import {
  cleanupOutdatedCaches,
  createHandlerBoundToURL,
  precacheAndRoute,
} from 'workbox-precaching';
import { NavigationRoute, registerRoute } from 'workbox-routing';
import { contentResponse } from './content-route.ts';

declare const self: ServiceWorkerGlobalScope & { __WB_MANIFEST: Array<string | { url: string }> };

precacheAndRoute(self.__WB_MANIFEST);
cleanupOutdatedCaches();
// Take over pages opened before this worker existed (first visit); updates still wait.
clientsClaim();

const isContent = ({ url }: { url: URL }) =>
  url.origin === self.location.origin && url.pathname.startsWith('/content/');
for (const method of ['GET', 'HEAD'] as const) {
  registerRoute(
    isContent,
    ({ request, url, event }) =>
      contentResponse(request, url, (event as FetchEvent).clientId || undefined, notifyClients),
    method,
  );
}

registerRoute(
  new NavigationRoute(createHandlerBoundToURL('index.html'), {
    denylist: [/^\/content\//, /^\/api\//, /^\/signal\//, /^\/health$/, /^\/hc\//],
  }),
);

self.addEventListener('message', (event) => {
  if (event.data?.type === 'SKIP_WAITING') void self.skipWaiting();
});

async function notifyClients(message: unknown): Promise<void> {
  for (const client of await self.clients.matchAll({ type: 'window' })) client.postMessage(message);
}
