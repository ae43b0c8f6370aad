import { useCallback, useEffect, useState } from 'react';
import type { ContentStore, StoredManifest } from '../content/index.ts';
import { errorMessage } from './format.ts';
import {
  contentUrl,
  contentUrlsAvailable,
  downloadThroughWorker,
  onContentReadFailed,
} from './serviceWorker.ts';

export type ReadAction = 'open' | 'download';

/**
 * Opening and downloading stored items, and the read errors per item. Shared by the rows and
 * the details dialog so an error raised from either shows in the same place.
 */
export function useItemReader(store: ContentStore) {
  const [busy, setBusy] = useState<string | undefined>();
  const [errors, setErrors] = useState<Record<string, string>>({});
  const fail = useCallback(
    (hash: string, message: string) =>
      setErrors((all) => ({ ...all, [hash]: withNextStep(message) })),
    [],
  );

  // Streamed reads fail inside the service worker; it tells us which item and why.
  useEffect(() => onContentReadFailed((event) => fail(event.hash, event.message)), [fail]);

  const read = useCallback(
    async (item: StoredManifest, action: ReadAction) => {
      const name = item.name || item.blob_hash;
      setErrors(({ [item.blob_hash]: _, ...rest }) => rest);
      if (contentUrlsAvailable()) {
        // Streamed from IndexedDB by the service worker: any size, bounded memory.
        if (action === 'open') window.open(contentUrl(item.blob_hash), '_blank', 'noopener');
        else downloadThroughWorker(contentUrl(item.blob_hash, name));
        return;
      }
      // Without a service worker (first load not yet controlled, or unsupported): via a Blob.
      const tab = action === 'open' ? window.open('', '_blank') : null;
      setBusy(item.blob_hash);
      try {
        const blob = await store.getBlob(item.blob_hash);
        const url = URL.createObjectURL(blob);
        if (tab) tab.location.href = url;
        else clickLink(url, name);
        // The tab or the download holds its own reference once it has started.
        setTimeout(() => URL.revokeObjectURL(url), 60_000);
      } catch (error) {
        tab?.close();
        fail(item.blob_hash, errorMessage(error));
      } finally {
        setBusy(undefined);
      }
    },
    [store, fail],
  );

  return { busy, errors, read, fail };
}

/**
 * A damaged piece that parity cannot rebuild will fail every read the same way, so say what
 * to do about it; other failures (a closed tab, a full disk) are worth simply retrying.
 */
function withNextStep(raw: string): string {
  const message = /[.!?]$/.test(raw.trim()) ? raw.trim() : `${raw.trim()}.`;
  if (/corrupt|mismatch|damaged|missing|unrecoverable/i.test(message)) {
    return `${message} This copy is damaged: remove it, then fetch it again from a peer through its share link.`;
  }
  return `${message} Try again; if it keeps failing, reload the page.`;
}

function clickLink(href: string, downloadName: string): void {
  const link = document.createElement('a');
  link.href = href;
  link.download = downloadName;
  link.click();
}
