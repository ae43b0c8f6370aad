import { useEffect, useState } from 'react';
import { DropZone } from './DropZone.tsx';
import { FetchPanel, parseShareLink } from './FetchPanel.tsx';
import { errorMessage, formatBytes } from './format.ts';
import { IngestList } from './IngestList.tsx';
import { Library } from './Library.tsx';
import { PeersPanel } from './PeersPanel.tsx';
import { applyUpdate, onUpdateReady } from './serviceWorker.ts';
import { useIngest } from './useIngest.ts';
import { useLibrary } from './useLibrary.ts';
import { usePeerNode } from './usePeerNode.ts';

export function App() {
  const library = useLibrary();
  const store = library.status === 'ready' ? library.store : undefined;
  const ingest = useIngest(store);
  const peer = usePeerNode(store);
  const shared = parseShareLink(location);
  const [updateReady, setUpdateReady] = useState(false);
  useEffect(() => onUpdateReady(() => setUpdateReady(true)), []);

  return (
    <main className="app">
      <header className="app__header">
        <h1>Elohim</h1>
        {library.status === 'ready' && (
          <p className="app__summary" data-testid="summary">
            {library.items.length} item{library.items.length === 1 ? '' : 's'} ·{' '}
            {formatBytes(library.items.reduce((sum, item) => sum + item.total_size, 0))}
          </p>
        )}
      </header>
      {updateReady && (
        <div className="banner" role="status" data-testid="update-ready">
          A new version of Elohim is ready.{' '}
          <button type="button" onClick={applyUpdate}>
            Reload to update
          </button>
        </div>
      )}
      {library.status === 'failed' && (
        <p role="alert" className="error">
          The local store could not be opened: {errorMessage(library.error)}. This browser may block
          storage for this site (private window or site settings); allow it and reload.
        </p>
      )}
      {shared && store && (
        <FetchPanel hash={shared.hash} name={shared.name} store={store} peer={peer} />
      )}
      <DropZone disabled={!store} onFiles={ingest.add} />
      <IngestList jobs={ingest.jobs} onCancel={ingest.cancel} onDismiss={ingest.dismiss} />
      {library.status === 'opening' && <p aria-busy="true">Opening the local store…</p>}
      {store && library.status === 'ready' && <Library store={store} items={library.items} />}
      <PeersPanel peer={peer} />
    </main>
  );
}
