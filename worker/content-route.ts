import type { PieceRef, StoredManifest } from '../src/content/index.ts';
import {
  type ContentStore,
  contentDisposition,
  openContentStore,
  parseRange,
} from '../src/content/index.ts';
import { loadDeviceIdentity } from '../src/identity/index.ts';
import {
  deviceKeyring,
  isSealed,
  type Keyring,
  loadClusterKey,
  loadOrCreateSealingKey,
  openedMime,
  unseal,
} from '../src/reach/index.ts';
import { type ContentReadFailed, firstPieceOf } from './bridge-protocol.ts';
import { askWindow } from './peer-bridge.ts';
import { contentHashOf, openFailed } from './problem.ts';

let store: Promise<ContentStore> | undefined;

function sharedStore(): Promise<ContentStore> {
  // Workers cannot be started from a service worker; reads need no hashing worker anyway.
  store ??= openContentStore({ hashing: 'inline' });
  return store;
}

/**
 * The outer bound on the tab's answer to `open`. The tab answers sooner: "nobody holds it" as
 * soon as its search says so (a few seconds), a held item once its first piece is here; only a
 * holder known but still connecting makes it wait (up to 20 s, `PeerService.openStream`).
 */
const OPEN_TIMEOUT_MS = 60_000;
/** One batch of pieces from a peer. */
const ENSURE_TIMEOUT_MS = 60_000;
/** Pieces fetched ahead of the reader when streaming from peers. */
const READ_AHEAD = 8;

/**
 * `GET /content/sha256-<hex>[?download=<name>]`: the verified bytes of a blob. A blob stored
 * here is read from IndexedDB; one that only peers hold is streamed through a window of the
 * app (`clientId`'s first), which fetches just the pieces the requested range needs. A piece
 * that fails verification ends the stream with an error (the browser reports the download as
 * failed, never shows wrong bytes) and the reason is posted to the app's windows.
 */
export async function contentResponse(
  request: Request,
  url: URL,
  clientId: string | undefined,
  notify: (message: ContentReadFailed) => Promise<void>,
): Promise<Response> {
  const hash = contentHashOf(request, url);
  if (typeof hash !== 'string') return hash;
  const content = await sharedStore();
  let manifest = await content.manifest(hash);
  const fromPeers = !manifest;
  /** The piece the window fetched with `open` (the range's first): not asked for again. */
  let ready: PieceRef | undefined;
  if (!manifest) {
    try {
      const reply = await askWindow(
        clientId,
        {
          type: 'elohim-content-open',
          hash,
          ...(request.method === 'GET' ? { range: request.headers.get('Range') } : {}),
        },
        { timeoutMs: OPEN_TIMEOUT_MS, signal: request.signal },
      );
      manifest = reply.manifest;
      if (manifest && reply.rangeReady)
        ready = firstPieceOf(manifest, request.headers.get('Range'));
    } catch (error) {
      return openFailed(request, error);
    }
    if (!manifest) return openFailed(request, new Error('the app sent nothing back. Try again.'));
  }
  // What the response reads: this browser's store, or (held by peers only) the pieces a range
  // needs, fetched through the window as they are read and verified one by one.
  const read = (m: StoredManifest, start: number, end: number): ReadableStream<Uint8Array> =>
    fromPeers
      ? content.readPartial(m, {
          signal: request.signal,
          start,
          end,
          readAhead: READ_AHEAD,
          ensure: async (asked, signal) => {
            const pieces = asked.filter((p) => p.shard !== ready?.shard || p.piece !== ready.piece);
            if (pieces.length === 0) return;
            await askWindow(
              clientId,
              { type: 'elohim-content-ensure', hash, pieces },
              { timeoutMs: ENSURE_TIMEOUT_MS, ...(signal ? { signal } : {}) },
            );
          },
        })
      : content.get(hash, { signal: request.signal, start, end });
  if (isSealed(manifest)) {
    return sealedResponse(
      request,
      url,
      hash,
      manifest,
      () => read(manifest, 0, manifest.total_size),
      notify,
    );
  }
  const size = manifest.total_size;
  const range = parseRange(request.headers.get('Range'), size);
  if (range === 'unsatisfiable') {
    return new Response(null, {
      status: 416,
      headers: { 'Content-Range': `bytes */${size}`, 'Cache-Control': 'no-store' },
    });
  }
  const { start, end } = range ?? { start: 0, end: size };
  const download = url.searchParams.get('download');
  const headers: Record<string, string> = {
    'Content-Type': manifest.mime_type || 'application/octet-stream',
    'Content-Length': String(end - start),
    'Accept-Ranges': 'bytes',
    'Content-Disposition': contentDisposition(
      download === null ? 'inline' : 'attachment',
      download || manifest.name || hash,
    ),
    // Content addressed: the bytes behind a hash never change.
    ETag: `"${hash}"`,
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
  };
  if (range) headers['Content-Range'] = `bytes ${start}-${end - 1}/${size}`;
  if (request.method === 'HEAD') {
    return new Response(null, { status: range ? 206 : 200, headers });
  }
  const source = read(manifest, start, end);
  return new Response(reportingFailures(source, hash, request.signal, notify), {
    status: range ? 206 : 200,
    headers,
  });
}

/**
 * This browser's keyring: the sealing key (private items, and our own invited and family
 * items), the identity key, from which the relationship key of an invited item naming this
 * agent is derived, and the family cluster keys the app accepted (looked up in IndexedDB on
 * every open, so a key granted after this worker started is found). Loaded on first use; a
 * failure is retried on the next read.
 */
let keyring: Promise<Keyring> | undefined;
function myKeyring(): Promise<Keyring> {
  keyring ??= (async () => {
    const [device, identity] = await Promise.all([loadOrCreateSealingKey(), loadDeviceIdentity()]);
    // No identity key yet (the app makes it on its first start): ask again next time.
    if (!identity) {
      keyring = undefined;
      return { device };
    }
    return deviceKeyring({
      me: identity.me,
      device,
      mySecret: identity.secret,
      cluster: (id) => loadClusterKey(id),
    });
  })();
  keyring.catch(() => {
    keyring = undefined;
  });
  return keyring;
}

/**
 * A sealed (private, invited or local) item opened with this browser's keys, segment by
 * segment as `sealed` delivers them (from peers too, while it is still arriving). Its
 * plaintext length is not in the manifest and segments are opened in order, so it is served
 * whole (no ranges).
 */
async function sealedResponse(
  request: Request,
  url: URL,
  hash: string,
  manifest: StoredManifest,
  sealed: () => ReadableStream<Uint8Array>,
  notify: (message: ContentReadFailed) => Promise<void>,
): Promise<Response> {
  const download = url.searchParams.get('download');
  const headers: Record<string, string> = {
    'Content-Type': openedMime(manifest),
    'Accept-Ranges': 'none',
    'Content-Disposition': contentDisposition(
      download === null ? 'inline' : 'attachment',
      download || manifest.name || hash,
    ),
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
  };
  if (request.method === 'HEAD') return new Response(null, { status: 200, headers });
  const plain = unseal(sealed(), await myKeyring());
  return new Response(reportingFailures(plain, hash, request.signal, notify), {
    status: 200,
    headers,
  });
}

/**
 * Passes `source` on; an error part-way ends the response and is posted to the app's windows.
 * A request that went away (the page navigated, the player seeked) is not a failure: nothing
 * is posted for it.
 */
function reportingFailures(
  source: ReadableStream<Uint8Array>,
  hash: string,
  signal: AbortSignal,
  notify: (message: ContentReadFailed) => Promise<void>,
): ReadableStream<Uint8Array> {
  const reader = source.getReader();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { done, value } = await reader.read();
        if (done) controller.close();
        else controller.enqueue(value);
      } catch (error) {
        if (!signal.aborted) {
          const message = error instanceof Error ? error.message : String(error);
          void notify({ type: 'content-read-failed', hash, message });
        }
        controller.error(error);
      }
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
}
