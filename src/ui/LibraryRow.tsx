import type { StoredManifest } from '../content/index.ts';
import { ENCODING_HELP } from './contentKind.ts';
import { shareLink } from './FetchPanel.tsx';
import { formatBytes, shortHash } from './format.ts';
import { ItemThumbnail } from './ItemThumbnail.tsx';
import { arrival } from './libraryQuery.ts';
import { RelativeTime } from './RelativeTime.tsx';
import { ReplicaHealthChip } from './ReplicaHealth.tsx';
import { useCopy } from './useCopy.ts';
import type { ReadAction } from './useItemReader.ts';
import { useLibraryEntries } from './useSync.ts';

interface Props {
  item: StoredManifest;
  /** The clock the relative dates are computed from; ticks while the page is open. */
  now: number;
  error?: string;
  busy: boolean;
  onRead: (item: StoredManifest, action: ReadAction) => void;
  onShowDetails: (item: StoredManifest) => void;
}

export function itemLabel(item: StoredManifest): string {
  return item.name || shortHash(item.blob_hash);
}

/** One stored item: what it is at a glance, and the everyday actions (open, download, share). */
export function LibraryRow({ item, now, error, busy, onRead, onShowDetails }: Props) {
  const label = itemLabel(item);
  const came = arrival(item);
  const link = shareLink(item.blob_hash, item.name, useLibraryEntries()[item.blob_hash]?.meta_doc);
  const { state: copyState, copy } = useCopy();
  return (
    <li className="item" data-testid="item" data-hash={item.blob_hash}>
      <ItemThumbnail item={item} />
      <div className="item__main">
        <button
          type="button"
          className="item__name linklike"
          aria-haspopup="dialog"
          title="Show details"
          onClick={() => onShowDetails(item)}
        >
          {label}
        </button>
        <p className="item__meta">
          <span>{formatBytes(item.total_size)}</span>
          <span className="chip" title={ENCODING_HELP[item.encoding]}>
            <span className="visually-hidden">Encoding: </span>
            <span data-testid="item-encoding">{item.encoding}</span>
          </span>
          <span className="chip" title="Reach: who may receive it">
            <span className="visually-hidden">Reach: </span>
            {item.reach}
          </span>
          <ReplicaHealthChip hash={item.blob_hash} reach={item.reach} />
          <RelativeTime verb={came.verb} at={came.at} now={now} />
          <code className="item__hash" title={item.blob_hash}>
            {shortHash(item.blob_hash)}
          </code>
        </p>
        {error && (
          <p role="alert" className="error" data-testid="item-error">
            {error}
          </p>
        )}
      </div>
      <div className="item__actions">
        <button
          type="button"
          disabled={busy}
          onClick={() => onRead(item, 'open')}
          aria-label={`Open ${label}`}
        >
          Open
        </button>
        <button
          type="button"
          disabled={busy}
          onClick={() => onRead(item, 'download')}
          aria-label={`Download ${label}`}
        >
          Download
        </button>
        {/* A real link to the share URL, so "copy link address" and dragging it work too;
            a plain click copies it instead of opening our own fetch page. */}
        <a
          className="button"
          href={link}
          data-testid="share-link"
          aria-label={`Copy share link for ${label}`}
          onClick={(event) => {
            event.preventDefault();
            void copy(link);
          }}
        >
          {copyState === 'copied' ? 'Copied ✓' : 'Share'}
        </a>
        <span className="visually-hidden" role="status">
          {copyState === 'copied'
            ? 'Share link copied'
            : copyState === 'failed'
              ? 'Could not copy; open the details to select the link.'
              : ''}
        </span>
      </div>
    </li>
  );
}
