import { useEffect, useState } from 'react';
import type { ContentStore, StoredManifest } from '../content/index.ts';
import { errorMessage } from './format.ts';
import { contentUrl, contentUrlsAvailable } from './serviceWorker.ts';

/**
 * Without the service worker the bytes must be read into a Blob first, which holds them in
 * memory (or on disk): only worth it for modest files.
 */
const BLOB_PREVIEW_MAX_BYTES = 64 * 1024 * 1024;

export type PreviewUrl =
  | { status: 'loading' }
  | { status: 'ready'; url: string }
  | { status: 'unavailable'; reason: string };

/**
 * A URL an `<img>`, `<video>` or `<audio>` can load: the worker's streamed `/content/` URL
 * (seekable, any size), else an object URL of the verified blob, revoked on unmount.
 */
export function usePreviewUrl(store: ContentStore, item: StoredManifest): PreviewUrl {
  const streamed = contentUrlsAvailable();
  const [state, setState] = useState<PreviewUrl>(() =>
    streamed ? { status: 'ready', url: contentUrl(item.blob_hash) } : { status: 'loading' },
  );

  useEffect(() => {
    if (streamed) {
      setState({ status: 'ready', url: contentUrl(item.blob_hash) });
      return;
    }
    if (item.total_size > BLOB_PREVIEW_MAX_BYTES) {
      setState({
        status: 'unavailable',
        reason:
          'Large files are previewed through the app’s offline worker, which is not active in this tab yet. Reload the page, or use Download.',
      });
      return;
    }
    let url: string | undefined;
    let live = true;
    setState({ status: 'loading' });
    store.getBlob(item.blob_hash).then(
      (blob) => {
        if (!live) return;
        url = URL.createObjectURL(blob);
        setState({ status: 'ready', url });
      },
      (error: unknown) => live && setState({ status: 'unavailable', reason: errorMessage(error) }),
    );
    return () => {
      live = false;
      if (url) URL.revokeObjectURL(url);
    };
  }, [store, item.blob_hash, item.total_size, streamed]);

  return state;
}
