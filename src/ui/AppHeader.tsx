import type { StoredManifest } from '../content/index.ts';
import { formatBytes } from './format.ts';
import { StorageMeter } from './StorageMeter.tsx';
import type { StorageEstimate } from './useStorageEstimate.ts';

interface Props {
  /** Undefined while the store is opening (or failed): no summary yet. */
  items?: StoredManifest[];
  storage: StorageEstimate;
  onPersist: () => void;
}

/** Title, what is stored at a glance, and how much room is left. */
export function AppHeader({ items, storage, onPersist }: Props) {
  return (
    <header className="app__header">
      <div className="brand">
        <img className="brand__mark" src="/icons/icon-192.png" alt="" width="40" height="40" />
        <div>
          <h1>Elohim</h1>
          <p className="brand__tagline">
            Your files, kept in this browser and shared directly with the people you choose.
          </p>
          {items && (
            <p className="app__summary" data-testid="summary">
              {items.length} item{items.length === 1 ? '' : 's'} ·{' '}
              {formatBytes(items.reduce((sum, item) => sum + item.total_size, 0))}
            </p>
          )}
        </div>
      </div>
      <StorageMeter estimate={storage} onPersist={onPersist} />
    </header>
  );
}
