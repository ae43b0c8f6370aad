/**
 * Messages between the service worker and the app's windows for content the browser does not
 * hold yet. A service worker cannot own a libp2p connection (docs/design.md §1), so for
 * `/content/<hash>` it asks a window, over a MessageChannel, to open a stream of the blob and
 * to fetch the pieces each range needs (the window's tab, or the tab leading the network,
 * fetches and verifies them into IndexedDB). The window answers `ack` at once, so that a
 * window without the app (a raw `/content/` tab) is skipped quickly, then the result. The
 * worker sends `cancel` on the same port when the range no longer needs the answer (the
 * player seeked away), so the window stops fetching what only that range wanted.
 */
import type { PieceRef, StoredManifest } from '../src/content/index.ts';

export type BridgeRequest =
  | { type: 'elohim-content-open'; hash: string }
  | { type: 'elohim-content-ensure'; hash: string; pieces: PieceRef[] };

/** Sent over a request's port when the HTTP request that needed it went away. */
export interface BridgeCancel {
  type: 'cancel';
}

export type BridgeReply =
  | { type: 'ack' }
  | { type: 'ok'; manifest?: StoredManifest }
  | { type: 'error'; name: string; message: string };

export function isBridgeRequest(data: unknown): data is BridgeRequest {
  const type = (data as { type?: unknown } | null)?.type;
  return type === 'elohim-content-open' || type === 'elohim-content-ensure';
}

/** Posted to window clients when a read fails after the response has started. */
export interface ContentReadFailed {
  type: 'content-read-failed';
  hash: string;
  message: string;
}
