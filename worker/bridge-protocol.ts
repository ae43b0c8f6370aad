/**
 * Messages between the service worker and the app's windows for content the browser does not
 * hold yet. A service worker cannot own a libp2p connection (docs/design.md §1), so for
 * `/content/<hash>` it asks a window, over a MessageChannel, to open a stream of the blob and
 * to fetch the pieces each range needs (the window's tab, or the tab leading the network,
 * fetches and verifies them into IndexedDB). The window answers `ack` at once, so that a
 * window without the app (a raw `/content/` tab) is skipped quickly, then the result. The
 * worker sends `cancel` on the same port when the range no longer needs the answer (the
 * player seeked away), so the window stops fetching what only that range wanted.
 *
 * `open` carries the request's `Range` header: the window fetches the piece the range starts
 * in before it answers (`rangeReady`), so a range's first byte costs one request to the
 * window, not two (see "Seeking" in src/net/README.md).
 */
import { type PieceRef, parseRange, type StoredManifest } from '../src/content/index.ts';

export type BridgeRequest =
  | {
      type: 'elohim-content-open';
      hash: string;
      /** The `Range` header of a GET (null: none, the whole blob); absent for HEAD. */
      range?: string | null;
    }
  | { type: 'elohim-content-ensure'; hash: string; pieces: PieceRef[] };

/** Sent over a request's port when the HTTP request that needed it went away. */
export interface BridgeCancel {
  type: 'cancel';
}

export type BridgeReply =
  | { type: 'ack' }
  | {
      type: 'ok';
      manifest?: StoredManifest;
      /** `open` only: the piece {@link firstPieceOf} names is verified and written. */
      rangeReady?: boolean;
    }
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

/** Longer `Range` headers are not looked at (a real one is a few dozen characters). */
const MAX_RANGE_HEADER = 200;

/**
 * The piece a GET with this `Range` header (null: none) reads first, or undefined when it
 * reads nothing (a HEAD, an unsatisfiable or oversized range, an empty blob).
 */
export function firstPieceOf(
  m: StoredManifest,
  range: string | null | undefined,
): PieceRef | undefined {
  if (range === undefined || (range !== null && range.length > MAX_RANGE_HEADER)) return;
  const parsed = parseRange(range, m.total_size);
  if (parsed === 'unsatisfiable') return;
  const start = parsed?.start ?? 0;
  if (start >= m.total_size) return;
  // Blob offset → (shard, piece) as the read does: `none` is one shard; the others lay
  // shards end to end.
  const shardSize = m.encoding === 'none' ? m.total_size : m.shard_size;
  const shard = Math.floor(start / shardSize);
  return { shard, piece: Math.floor((start - shard * shardSize) / m.piece_size) };
}
