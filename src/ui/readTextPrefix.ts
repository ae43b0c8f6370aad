import type { ContentStore } from '../content/index.ts';
import { contentUrl, contentUrlsAvailable } from './serviceWorker.ts';

/** Enough text to recognise a file, little enough to read and render at once. */
export const TEXT_PREVIEW_BYTES = 4096;

/**
 * The first bytes of a stored item, decoded as UTF-8. Asks the service worker for just that
 * range; a worker that answers 200 (no Range support) or no worker at all means reading the
 * start of the verified stream from the store directly and stopping early.
 */
export async function readTextPrefix(
  store: ContentStore,
  hash: string,
  signal: AbortSignal,
): Promise<string> {
  let bytes: Uint8Array | undefined;
  if (contentUrlsAvailable()) {
    const response = await fetch(contentUrl(hash), {
      headers: { Range: `bytes=0-${TEXT_PREVIEW_BYTES - 1}` },
      signal,
    });
    if (response.status === 206) {
      bytes = new Uint8Array(await response.arrayBuffer()).subarray(0, TEXT_PREVIEW_BYTES);
    } else if (response.ok) {
      // Don't let the worker stream the whole blob for a preview.
      await response.body?.cancel().catch(() => {});
    } else if (response.status !== 416) {
      // The worker's problem responses are a short sentence saying what is wrong.
      throw new Error((await response.text().catch(() => '')).trim() || `HTTP ${response.status}`);
    }
  }
  bytes ??= await firstBytes(
    store.get(hash, { signal, end: TEXT_PREVIEW_BYTES }),
    TEXT_PREVIEW_BYTES,
  );
  // `stream: true` holds back a character cut in half at the limit instead of showing �.
  return new TextDecoder('utf-8').decode(bytes, { stream: true });
}

async function firstBytes(stream: ReadableStream<Uint8Array>, limit: number): Promise<Uint8Array> {
  const reader = stream.getReader();
  const out = new Uint8Array(limit);
  let length = 0;
  try {
    while (length < limit) {
      const { done, value } = await reader.read();
      if (done) break;
      const take = Math.min(value.length, limit - length);
      out.set(value.subarray(0, take), length);
      length += take;
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
  return out.subarray(0, length);
}
