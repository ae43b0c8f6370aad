import { useEffect, useId, useRef } from 'react';
import type { ContentStore, StoredManifest } from '../content/index.ts';
import { ContentPreview } from './ContentPreview.tsx';
import { CopyButton } from './CopyButton.tsx';
import { ENCODING_HELP } from './contentKind.ts';
import { shareLink } from './FetchPanel.tsx';
import { formatBytes, formatDateTime } from './format.ts';
import { ItemMetaEditor } from './ItemMetaEditor.tsx';
import { itemLabel } from './LibraryRow.tsx';
import { RemoveItem } from './RemoveItem.tsx';
import { ReplicaLocations } from './ReplicaHealth.tsx';
import { ShardList } from './ShardList.tsx';
import { TrustAnnouncement } from './TrustAnnouncement.tsx';
import type { ReadAction } from './useItemReader.ts';
import { useLibraryEntries } from './useSync.ts';

interface Props {
  item: StoredManifest;
  store: ContentStore;
  error?: string;
  busy: boolean;
  onRead: (item: StoredManifest, action: ReadAction) => void;
  onClose: () => void;
}

/**
 * Everything about one item in a modal `<dialog>`: the browser traps focus inside it, makes
 * the page behind inert, and turns Esc into `cancel`, which we route to `onClose` so React
 * stays the one deciding whether it is open.
 */
export function ItemDetails({ item, store, error, busy, onRead, onClose }: Props) {
  const dialog = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  const linkId = useId();
  const label = itemLabel(item);
  const link = shareLink(item.blob_hash, item.name, useLibraryEntries()[item.blob_hash]?.meta_doc);
  const pieces = item.piece_hashes.reduce((sum, shard) => sum + shard.length, 0);

  useEffect(() => {
    const element = dialog.current;
    if (element && !element.open) element.showModal();
    return () => element?.close();
  }, []);

  return (
    // biome-ignore lint/a11y/useKeyWithClickEvents: the backdrop click mirrors Esc (the dialog's cancel), which keyboards already have.
    <dialog
      ref={dialog}
      className="details"
      aria-labelledby={titleId}
      data-testid="item-details"
      onCancel={(event) => {
        event.preventDefault();
        onClose();
      }}
      onClick={(event) => {
        // A click on the backdrop lands on the <dialog> itself, outside its inner box.
        if (event.target === event.currentTarget) onClose();
      }}
    >
      <div className="details__box">
        <header className="details__header">
          <h2 id={titleId}>{label}</h2>
          <button type="button" className="details__close" onClick={onClose}>
            <span aria-hidden="true">✕</span>
            <span className="visually-hidden">Close details</span>
          </button>
        </header>

        <div className="details__body">
          <div className="details__lead">
            <ContentPreview store={store} item={item} label={label} />
            <div className="details__actions">
              <button
                type="button"
                className="primary"
                disabled={busy}
                onClick={() => onRead(item, 'open')}
              >
                Open
              </button>
              <button type="button" disabled={busy} onClick={() => onRead(item, 'download')}>
                Download
              </button>
              <RemoveItem store={store} hash={item.blob_hash} label={label} onRemoved={onClose} />
            </div>
            {error && (
              <p role="alert" className="error" data-testid="details-error">
                {error}
              </p>
            )}
            <section aria-labelledby={`${linkId}-h`} className="details__section">
              <h3 id={`${linkId}-h`}>Share link</h3>
              <p className="muted small">
                Anyone who opens it fetches the file from the peers that hold it, this browser
                included while it is open.
              </p>
              <div className="share">
                <label htmlFor={linkId} className="visually-hidden">
                  Share link
                </label>
                <input
                  id={linkId}
                  readOnly
                  value={link}
                  data-testid="details-share-link"
                  onFocus={(event) => event.currentTarget.select()}
                />
                <CopyButton text={link} label={`Copy share link for ${label}`} />
              </div>
            </section>
          </div>

          <div className="details__facts">
            <section aria-labelledby={`${titleId}-d`} className="details__section">
              <h3 id={`${titleId}-d`}>Description</h3>
              <ItemMetaEditor hash={item.blob_hash} />
            </section>
            <section aria-labelledby={`${titleId}-m`} className="details__section">
              <h3 id={`${titleId}-m`}>Manifest</h3>
              <dl className="facts" data-testid="manifest">
                <dt>Hash</dt>
                <dd>
                  <code data-testid="manifest-hash">{item.blob_hash}</code>
                </dd>
                <dt>CID</dt>
                <dd>
                  <code data-testid="manifest-cid">{item.blob_cid}</code>
                </dd>
                <dt>Type</dt>
                <dd>{item.mime_type || 'unknown'}</dd>
                <dt>Size</dt>
                <dd>
                  {formatBytes(item.total_size)}{' '}
                  <span className="muted">({item.total_size.toLocaleString()} bytes)</span>
                </dd>
                <dt>Encoding</dt>
                <dd>
                  <span data-testid="manifest-encoding">{item.encoding}</span>{' '}
                  <span className="muted">— {ENCODING_HELP[item.encoding]}</span>
                </dd>
                <dt>Shards</dt>
                <dd data-testid="manifest-shards">
                  {item.total_shards} × {formatBytes(item.shard_size)}
                  {item.encoding === 'rs-4-7' && (
                    <span className="muted">
                      {' '}
                      ({item.data_shards} data + {item.total_shards - item.data_shards} parity)
                    </span>
                  )}
                </dd>
                <dt>Pieces</dt>
                <dd data-testid="manifest-pieces">
                  {pieces} of up to {formatBytes(item.piece_size)}, each checked on every read
                </dd>
                <dt>Reach</dt>
                <dd>{item.reach}</dd>
                <dt>Created</dt>
                <dd>
                  <time dateTime={item.created_at}>{formatDateTime(item.created_at)}</time>
                </dd>
                <dt>Verified</dt>
                <dd>
                  {item.verified_at ? (
                    <time dateTime={item.verified_at}>{formatDateTime(item.verified_at)}</time>
                  ) : (
                    <span className="muted">not yet fully re-checked (each read verifies)</span>
                  )}
                </dd>
              </dl>
            </section>

            <section aria-labelledby={`${titleId}-s`} className="details__section">
              <h3 id={`${titleId}-s`}>Shards</h3>
              <ShardList item={item} />
            </section>

            <section aria-labelledby={`${titleId}-w`} className="details__section">
              <h3 id={`${titleId}-w`}>Where copies live</h3>
              <ReplicaLocations item={item} />
              <TrustAnnouncement item={item} />
            </section>
          </div>
        </div>
      </div>
    </dialog>
  );
}
