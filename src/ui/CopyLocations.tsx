import type { StoredManifest } from '../content/index.ts';
import { formatDateTime } from './format.ts';

/** A peer known to hold a copy; filled in once holders are tracked (see `holders`). */
export interface KnownHolder {
  peerId: string;
  direct: boolean;
  /** The one shard it keeps, when it keeps a shard rather than a copy. */
  shard?: number;
}

interface Props {
  item: StoredManifest;
  /**
   * Peers known to hold the item. Nothing records holders yet: they are discovered by asking
   * connected peers `Have` when someone fetches. When the node keeps that answer, pass it here.
   */
  holders?: KnownHolder[];
  /** Doorways that confirmed keeping a whole copy. */
  doorways?: number;
}

/** Where the copies of an item live: here, and (when known) on which peers. */
export function CopyLocations({ item, holders = [], doorways = 0 }: Props) {
  return (
    <ul className="locations" data-testid="copy-locations">
      <li>
        <strong>This browser</strong> — stored and checked against its hash
        {item.verified_at ? `, last fully verified ${formatDateTime(item.verified_at)}` : ''}.
      </li>
      {holders.map((holder) => (
        // The PeerId is for the curious (hover) and for tools, not for reading.
        <li key={holder.peerId} data-peer-id={holder.peerId} title={holder.peerId}>
          <strong>Another browser</strong> (
          {holder.direct ? 'connected directly' : 'through the doorway'})
          {holder.shard !== undefined && ' — keeps one part of it'}
        </li>
      ))}
      {doorways > 0 && (
        <li data-testid="copy-location-doorway">
          <strong>{doorways === 1 ? 'The doorway' : `${doorways} doorways`}</strong> — keeps a whole
          copy and serves it to anyone with the link while this browser is away.
        </li>
      )}
      {holders.length === 0 && doorways === 0 && (
        <li className="muted">
          Peers that hold it are found when someone fetches it: anyone with the share link asks the
          peers online, and takes pieces from every one that has it.
        </li>
      )}
    </ul>
  );
}
