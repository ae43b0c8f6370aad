import type { Upload } from '../net/index.ts';
import { formatBytes, formatRate } from './format.ts';
import type { PeerState } from './usePeerNode.ts';
import { useUploads } from './useUploads.ts';

/**
 * What this browser is sending to others, as it happens: which item, to whom (in plain words;
 * the PeerId under Details), how fast. Entries leave a few seconds after they finish; nothing
 * shows while nothing is being sent.
 */
export function Uploads({ peer }: { peer: PeerState }) {
  const uploads = useUploads(peer);
  if (uploads.length === 0) return null;
  const sending = uploads.filter((u) => u.state === 'sending').length;
  return (
    <section className="panel uploads" aria-label="Sending to others" data-testid="uploads">
      <h2>{sending > 0 ? 'Sending' : 'Sent'}</h2>
      <ul className="uploads__list">
        {uploads.map((upload) => (
          <li
            key={upload.id}
            data-testid="upload"
            data-state={upload.state}
            data-peer-id={upload.peer}
            data-hash={upload.blobHash}
          >
            <span className="uploads__what">{upload.name || 'An item'}</span>{' '}
            <span className="muted">to {recipient(upload)}</span>
            <span className="uploads__how" data-testid="upload-status">
              {uploadStatus(upload)}
            </span>
            <details className="uploads__details">
              <summary>Details</summary>
              <p className="muted small">
                {upload.direct ? 'Direct connection' : 'Relayed through the doorway'} to peer{' '}
                <code>{upload.peer}</code>; content hash <code>{upload.blobHash}</code>.
              </p>
            </details>
          </li>
        ))}
      </ul>
    </section>
  );
}

function recipient(upload: Upload): string {
  if (upload.doorway) return 'the doorway';
  return `a peer (${upload.direct ? 'direct' : 'relayed'})`;
}

/** "1.2 MiB of 4 MiB · 800 KiB/s", or "sent 4 MiB" once it stopped. */
export function uploadStatus(upload: Upload): string {
  if (upload.state === 'done') return `sent ${formatBytes(upload.bytes)}`;
  // A peer fetching from several holders takes only part of the item from here.
  const amount =
    upload.bytes < upload.totalBytes
      ? `${formatBytes(upload.bytes)} of ${formatBytes(upload.totalBytes)}`
      : formatBytes(upload.bytes);
  return `${amount} · ${formatRate(upload.rate)}`;
}
