import type { StoredManifest } from '../content/index.ts';
import { shareLink } from './FetchPanel.tsx';
import { formatBytes, shortHash } from './format.ts';
import { ItemThumbnail } from './ItemThumbnail.tsx';
import { arrival } from './libraryQuery.ts';
import { RelativeTime } from './RelativeTime.tsx';
import { ReplicaHealthChip } from './ReplicaHealth.tsx';
import { reachWords } from './reachWords.ts';
import { ShareButton } from './ShareButton.tsx';
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

/**
 * One stored item: what it is at a glance, in plain words, and the everyday actions (open,
 * download, share). Its encoding and hash are in the details; the row carries them as
 * attributes (`data-encoding`, `data-reach`) for tools and tests, not as text.
 */
export function LibraryRow({ item, now, error, busy, onRead, onShowDetails }: Props) {
  const label = itemLabel(item);
  const came = arrival(item);
  const link = shareLink(item.blob_hash, item.name, useLibraryEntries()[item.blob_hash]?.meta_doc);
  return (
    <li
      className="item"
      data-testid="item"
      data-hash={item.blob_hash}
      data-encoding={item.encoding}
      data-reach={item.reach}
    >
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
          <span className="chip" title="Who may receive it">
            {reachWords(item.reach).who}
          </span>
          <ReplicaHealthChip hash={item.blob_hash} reach={item.reach} />
          <RelativeTime verb={came.verb} at={came.at} now={now} />
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
        <ShareButton link={link} label={label} reach={item.reach} asLink />
      </div>
    </li>
  );
}
