import { useEffect, useState } from 'react';
import { applyUpdate, onUpdateReady } from './serviceWorker.ts';

/**
 * A new version waits until the person chooses to reload, so nothing in progress (an ingest,
 * a fetch) is cut off by an update.
 */
export function UpdateBanner() {
  const [ready, setReady] = useState(false);
  useEffect(() => onUpdateReady(() => setReady(true)), []);
  if (!ready) return null;
  return (
    <div className="banner" role="status" data-testid="update-ready">
      <span>A new version of Elohim is ready.</span>
      <button type="button" className="primary" onClick={applyUpdate}>
        Reload to update
      </button>
    </div>
  );
}
