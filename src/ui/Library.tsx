import { useState } from 'react';
import type { ContentStore, StoredManifest } from '../content/index.ts';
import { errorMessage, formatBytes, shortHash } from './format.ts';

interface Props {
  store: ContentStore;
  items: StoredManifest[];
}

type ReadState = { hash: string; action: 'open' | 'download'; error?: string };

/** What the store holds; each item opens in a new tab or downloads, after verification. */
export function Library({ store, items }: Props) {
  const [reading, setReading] = useState<ReadState | undefined>();

  const read = async (item: StoredManifest, action: ReadState['action']) => {
    // Opening the tab synchronously keeps the click's user activation (popup blockers).
    const tab = action === 'open' ? window.open('', '_blank') : null;
    setReading({ hash: item.blob_hash, action });
    try {
      const blob = await store.getBlob(item.blob_hash);
      const url = URL.createObjectURL(
        new Blob([blob], { type: item.mime_type || 'application/octet-stream' }),
      );
      if (tab) {
        tab.location.href = url;
      } else {
        const link = document.createElement('a');
        link.href = url;
        link.download = item.name || item.blob_hash;
        link.click();
      }
      // The tab or the download holds its own reference once it has started.
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
      setReading(undefined);
    } catch (error) {
      tab?.close();
      setReading({ hash: item.blob_hash, action, error: errorMessage(error) });
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
          const state = reading?.hash === item.blob_hash ? reading : undefined;
          const label = item.name || shortHash(item.blob_hash);
          return (
            <tr key={item.blob_hash} data-testid="item" data-hash={item.blob_hash}>
              <td className="library__name">{label}</td>
              <td>{formatBytes(item.total_size)}</td>
              <td data-testid="item-encoding">{item.encoding}</td>
              <td>
                <code title={item.blob_hash}>{shortHash(item.blob_hash)}</code>
                {state?.error && (
                  <p role="alert" className="error" data-testid="item-error">
                    {state.error}
                  </p>
                )}
              </td>
              <td className="library__actions">
                <button
                  type="button"
                  disabled={state !== undefined && !state.error}
                  onClick={() => void read(item, 'open')}
                  aria-label={`Open ${label}`}
                >
                  Open
                </button>
                <button
                  type="button"
                  disabled={state !== undefined && !state.error}
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
