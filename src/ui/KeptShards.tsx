import { useEffect, useState } from 'react';
import type { ContentStore, ShardHolding } from '../content/index.ts';
import { formatBytes, shortHash } from './format.ts';
import { ReplicaHealthChip } from './ReplicaHealth.tsx';

/** This browser's shard holdings, refreshed whenever the store changes (any tab). */
function useHoldings(store: ContentStore): ShardHolding[] {
  const [holdings, setHoldings] = useState<ShardHolding[]>([]);
  useEffect(() => {
    let live = true;
    const refresh = () =>
      void store.holdings().then(
        (all) => live && setHoldings(all),
        () => {},
      );
    store.addEventListener('change', refresh);
    refresh();
    return () => {
      live = false;
      store.removeEventListener('change', refresh);
    };
  }, [store]);
  return holdings;
}

/**
 * Shards this browser keeps of other people's large files: rs-4-7 spreads a file's 7 shards
 * over 7 peers, so it outlives its author. They are not files here (4 shards are needed to
 * read one), so they are listed apart from the library, with how many shards are online.
 */
export function KeptShards({ store }: { store: ContentStore }) {
  const holdings = useHoldings(store);
  if (holdings.length === 0) return null;
  return (
    <section className="kept" aria-labelledby="kept-heading">
      <h2 id="kept-heading">Kept for the network</h2>
      <p className="muted small">
        Shards of large files shared by others. Any 4 of a file’s 7 shards rebuild it, so each peer
        keeps one; when holders leave, the others rebuild the missing shards on new peers.
      </p>
      <ul className="items" aria-label="Shards kept for others">
        {holdings.map((holding) => {
          const shards = holding.shards.map((s) => s.index);
          const m = holding.manifest;
          return (
            <li
              key={holding.blob_hash}
              className="item"
              data-testid="kept"
              data-hash={holding.blob_hash}
              data-shards={shards.join(',')}
            >
              <div className="item__main">
                <span className="item__name">{m.name || shortHash(holding.blob_hash)}</span>
                <p className="item__meta">
                  <span>
                    shard {shards.join(', ')} of {m.total_shards} ·{' '}
                    {formatBytes(shards.length * m.shard_size)} of {formatBytes(m.total_size)}
                  </span>
                  <ReplicaHealthChip hash={holding.blob_hash} reach={m.reach} />
                  <code className="item__hash" title={holding.blob_hash}>
                    {shortHash(holding.blob_hash)}
                  </code>
                </p>
              </div>
            </li>
          );
        })}
      </ul>
    </section>
  );
}
