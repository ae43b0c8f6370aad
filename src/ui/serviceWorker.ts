import { Workbox } from 'workbox-window';
import {
  type BridgeCancel,
  type BridgeReply,
  type ContentReadFailed,
  firstPieceOf,
  isBridgeRequest,
} from '../../worker/bridge-protocol.ts';
import type { PeerService } from '../net/index.ts';
import { listen, TypedEventEmitter } from '../wire/index.ts';

export type { ContentReadFailed };

let workbox: Workbox | undefined;
const updates = new TypedEventEmitter<{ waiting: CustomEvent<void> }>();
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
    updates.safeDispatchEvent('waiting');
  });
  void workbox.register();
}

/**
 * Answers the service worker's requests for content this browser does not hold yet
 * (worker/peer-bridge.ts): the tab's peer service opens a stream of the blob and fetches the
 * pieces each range needs, in this tab's node or the leading tab's.
 */
export function answerContentRequests(service: () => Promise<PeerService>): void {
  const container = navigator.serviceWorker;
  if (!container) return;
  container.addEventListener('message', (event: MessageEvent) => {
    const request = event.data;
    const port = event.ports[0];
    if (!isBridgeRequest(request) || !port) return;
    const reply = (message: BridgeReply) => port.postMessage(message);
    // The worker cancels when the range went away: what only it needed stops being fetched.
    const cancelled = new AbortController();
    port.onmessage = (message: MessageEvent<BridgeCancel>) => {
      if (message.data?.type === 'cancel') cancelled.abort(new Error('The range was cancelled.'));
    };
    reply({ type: 'ack' });
    void (async () => {
      try {
        const peers = await service();
        const { signal } = cancelled;
        if (request.type === 'elohim-content-open') {
          const manifest = await peers.openStream(request.hash, { signal });
          // The range's first piece, before answering: the worker need not ask for it again.
          const first = firstPieceOf(manifest, request.range);
          if (first) await peers.ensurePieces(request.hash, [first], { signal });
          reply({ type: 'ok', manifest, rangeReady: first !== undefined });
        } else {
          await peers.ensurePieces(request.hash, request.pieces, { signal });
          reply({ type: 'ok' });
        }
      } catch (error) {
        const { name, message } =
          error instanceof Error ? error : { name: 'Error', message: String(error) };
        reply({ type: 'error', name, message });
      } finally {
        port.close();
      }
    })();
  });
  // Messages from the worker are queued until the page says it listens.
  container.startMessages();
}

/** Calls `listener` when a new version is ready (at once if one already is). */
export function onUpdateReady(listener: () => void): () => void {
  const unsubscribe = listen(updates, 'waiting', listener);
  if (updateWaiting) listener();
  return unsubscribe;
}

/** How long "Reload to update" waits for the new version to take control before acting anyway. */
const ASK_AGAIN_MS = 3_000;
const RELOAD_ANYWAY_MS = 10_000;

/** Activates the waiting version and reloads into it. */
export function applyUpdate(): void {
  const wb = workbox;
  if (!wb) return;
  wb.addEventListener('controlling', () => location.reload());
  wb.messageSkipWaiting();
  // The new version takes control once the running one is idle; a click must still do
  // something when it is not (seen once under heavy load: nothing for minutes). Ask again,
  // then reload: the reload ends what kept the old version busy, and the new one (already told
  // to skip waiting) takes over as soon as it can.
  setTimeout(() => wb.messageSkipWaiting(), ASK_AGAIN_MS);
  setTimeout(() => location.reload(), RELOAD_ANYWAY_MS);
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
