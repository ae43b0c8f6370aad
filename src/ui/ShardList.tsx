import { useState } from 'react';
import type { StoredManifest } from '../content/index.ts';
import { formatBytes } from './format.ts';

/** Beyond this many shards (a large chunked file) the list starts folded: it is rarely read in full. */
const FOLDED_ROWS = 32;

function role(item: StoredManifest, index: number): string {
  if (item.encoding === 'rs-4-7') return index < item.data_shards ? 'data' : 'parity';
  if (item.encoding === 'chunked') return 'chunk';
  return 'whole';
}

/** Byte length of shard `index`: rs shards are padded to equal size; the last chunk may be shorter. */
function shardBytes(item: StoredManifest, index: number): number {
  if (item.encoding !== 'chunked') return item.shard_size;
  return Math.max(0, Math.min(item.shard_size, item.total_size - index * item.shard_size));
}

/** Every shard with its role and hash: what a peer asks for, and what each read verifies. */
export function ShardList({ item }: { item: StoredManifest }) {
  const [all, setAll] = useState(false);
  const count = item.shard_hashes.length;
  const rows = all ? item.shard_hashes : item.shard_hashes.slice(0, FOLDED_ROWS);
  return (
    <div className="shards">
      <div className="table-scroll">
        <table data-testid="shard-list">
          <caption className="visually-hidden">Shards of this item</caption>
          <thead>
            <tr>
              <th scope="col">#</th>
              <th scope="col">Role</th>
              <th scope="col">Size</th>
              <th scope="col">Pieces</th>
              <th scope="col">Hash</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((hash, index) => (
              <tr key={hash + String(index)} data-testid="shard" data-role={role(item, index)}>
                <td>{index}</td>
                <td>
                  <span className={`chip chip--${role(item, index)}`}>{role(item, index)}</span>
                </td>
                <td>{formatBytes(shardBytes(item, index))}</td>
                <td>{item.piece_hashes[index]?.length ?? 0}</td>
                <td>
                  <code title={hash}>{hash.replace(/^sha256-/, '').slice(0, 16)}…</code>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {count > FOLDED_ROWS && (
        <button type="button" className="linklike" onClick={() => setAll(!all)}>
          {all ? `Show the first ${FOLDED_ROWS}` : `Show all ${count} shards`}
        </button>
      )}
    </div>
  );
}
