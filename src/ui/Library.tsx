import { useCallback, useEffect, useState } from 'react';
import type { ContentStore, StoredManifest } from '../content/index.ts';
import { shareLink } from './FetchPanel.tsx';
import { errorMessage, formatBytes, shortHash } from './format.ts';
import {
  contentUrl,
  contentUrlsAvailable,
  downloadThroughWorker,
  onContentReadFailed,
} from './serviceWorker.ts';

interface Props {
  store: ContentStore;
  items: StoredManifest[];
}

/** What the store holds; each item opens in a new tab or downloads, after verification. */
export function Library({ store, items }: Props) {
  const [busy, setBusy] = useState<string | undefined>();
  const [errors, setErrors] = useState<Record<string, string>>({});
  const fail = useCallback(
    (hash: string, message: string) => setErrors((all) => ({ ...all, [hash]: message })),
    [],
  );

  // Streamed reads fail inside the service worker; it tells us which item and why.
  useEffect(() => onContentReadFailed((event) => fail(event.hash, event.message)), [fail]);

  const read = async (item: StoredManifest, action: 'open' | 'download') => {
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
  };

  if (items.length === 0) {
    return <p className="empty">Nothing stored yet. Add a file above.</p>;
  }

  return (
    <table className="library" aria-label="Stored items">
      <thead>
        <tr>
          <th scope="col">Name</th>
          <th scope="col">Size</th>
          <th scope="col">Encoding</th>
          <th scope="col">Hash</th>
          <th scope="col">
            <span className="visually-hidden">Actions</span>
          </th>
        </tr>
      </thead>
      <tbody>
        {items.map((item) => {
          const error = errors[item.blob_hash];
          const label = item.name || shortHash(item.blob_hash);
          return (
            <tr key={item.blob_hash} data-testid="item" data-hash={item.blob_hash}>
              <td className="library__name">{label}</td>
              <td>{formatBytes(item.total_size)}</td>
              <td data-testid="item-encoding">{item.encoding}</td>
              <td>
                <code title={item.blob_hash}>{shortHash(item.blob_hash)}</code>{' '}
                <a
                  href={shareLink(item.blob_hash, item.name)}
                  data-testid="share-link"
                  aria-label={`Share link for ${label}`}
                  onClick={(event) => {
                    event.preventDefault();
                    void navigator.clipboard?.writeText(event.currentTarget.href);
                  }}
                >
                  copy share link
                </a>
                {error && (
                  <p role="alert" className="error" data-testid="item-error">
                    {error}
                  </p>
                )}
              </td>
              <td className="library__actions">
                <button
                  type="button"
                  disabled={busy === item.blob_hash}
                  onClick={() => void read(item, 'open')}
                  aria-label={`Open ${label}`}
                >
                  Open
                </button>
                <button
                  type="button"
                  disabled={busy === item.blob_hash}
                  onClick={() => void read(item, 'download')}
                  aria-label={`Download ${label}`}
                >
                  Download
                </button>
                <button
                  type="button"
                  onClick={() => void store.remove(item.blob_hash)}
                  aria-label={`Remove ${label}`}
                >
                  Remove
                </button>
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

function clickLink(href: string, downloadName: string): void {
  const link = document.createElement('a');
  link.href = href;
  link.download = downloadName;
  link.click();
}
