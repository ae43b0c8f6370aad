import { useId } from 'react';
import type { ContentStore, StoredManifest } from '../content/index.ts';
import { ContentPreview } from './ContentPreview.tsx';
import { CopyField } from './CopyButton.tsx';
import { ENCODING_HELP } from './contentKind.ts';
import { shareLink } from './FetchPanel.tsx';
import { formatBytes, formatDateTime } from './format.ts';
import { ItemMetaEditor } from './ItemMetaEditor.tsx';
import { itemLabel } from './LibraryRow.tsx';
import { RemoveItem } from './RemoveItem.tsx';
import { ReplicaLocations } from './ReplicaHealth.tsx';
import { reachWords } from './reachWords.ts';
import { ShardList } from './ShardList.tsx';
import { ShareButton } from './ShareButton.tsx';
import { TrustAnnouncement } from './TrustAnnouncement.tsx';
import type { ReadAction } from './useItemReader.ts';
import { useModalDialog } from './useModalDialog.ts';
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
  const dialog = useModalDialog(onClose);
  const titleId = useId();
  const linkId = useId();
  const label = itemLabel(item);
  const link = shareLink(item.blob_hash, item.name, useLibraryEntries()[item.blob_hash]?.meta_doc);
  const pieces = item.piece_hashes.reduce((sum, shard) => sum + shard.length, 0);

  return (
    // The backdrop click mirrors Esc (the dialog's cancel), which keyboards already have.
    <dialog {...dialog} className="details" aria-labelledby={titleId} data-testid="item-details">
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
              <p className="muted small">{reachWords(item.reach).link}</p>
              <CopyField
                text={link}
                fieldLabel="Share link"
                copyLabel={`Copy share link for ${label}`}
                testId="details-share-link"
              >
                <ShareButton link={link} label={label} reach={item.reach} />
              </CopyField>
            </section>
          </div>

          <div className="details__facts">
            <section aria-labelledby={`${titleId}-d`} className="details__section">
              <h3 id={`${titleId}-d`}>Description</h3>
              <ItemMetaEditor hash={item.blob_hash} />
            </section>
            <section aria-labelledby={`${titleId}-a`} className="details__section">
              <h3 id={`${titleId}-a`}>About</h3>
              <dl className="facts" data-testid="item-facts">
                <dt>Type</dt>
                <dd>{item.mime_type || 'unknown'}</dd>
                <dt>Size</dt>
                <dd>
                  {formatBytes(item.total_size)}{' '}
                  <span className="muted">({item.total_size.toLocaleString()} bytes)</span>
                </dd>
                <dt>Who can get it</dt>
                <dd data-testid="item-reach" data-reach={item.reach}>
                  {reachWords(item.reach).who}
                </dd>
                <dt>Added</dt>
                <dd>
                  <time dateTime={item.created_at}>{formatDateTime(item.created_at)}</time>
                </dd>
              </dl>
            </section>

            <section aria-labelledby={`${titleId}-w`} className="details__section">
              <h3 id={`${titleId}-w`}>Where copies live</h3>
              <ReplicaLocations item={item} />
            </section>

            {/* What a developer or a curious person looks for; closed by default. */}
            <details
              className="details__section details__technical"
              data-testid="technical-details"
            >
              <summary>Technical details</summary>
              <dl className="facts" data-testid="manifest">
                <dt>Hash</dt>
                <dd>
                  <code data-testid="manifest-hash">{item.blob_hash}</code>
                </dd>
                <dt>CID</dt>
                <dd>
                  <code data-testid="manifest-cid">{item.blob_cid}</code>
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
                <dt>Verified</dt>
                <dd>
                  {item.verified_at ? (
                    <time dateTime={item.verified_at}>{formatDateTime(item.verified_at)}</time>
                  ) : (
                    <span className="muted">not yet fully re-checked (each read verifies)</span>
                  )}
                </dd>
              </dl>
              <h4 className="small">Shards</h4>
              <ShardList item={item} />
              <h4 className="small">Listed in the trust layer</h4>
              <TrustAnnouncement item={item} />
            </details>
          </div>
        </div>
      </div>
    </dialog>
  );
}
