import { useEffect, useState } from 'react';
import { ActivityPanel } from './ActivityPanel.tsx';
import { AppHeader } from './AppHeader.tsx';
import { DropZone } from './DropZone.tsx';
import { DamagedLink, FetchPanel, parseShareLink } from './FetchPanel.tsx';
import { FirstRunHint } from './FirstRunHint.tsx';
import { errorMessage } from './format.ts';
import { HelpRecover, parseRecoveryLink } from './HelpRecover.tsx';
import { IngestList } from './IngestList.tsx';
import { isPairRoute, JoinAsDevice } from './JoinAsDevice.tsx';
import { KeptForOthers } from './KeptForOthers.tsx';
import { Library } from './Library.tsx';
import { NewDeviceNotice } from './NewDeviceNotice.tsx';
import { PeersPanel } from './PeersPanel.tsx';
import { RestoreQueue } from './RestoreQueue.tsx';
import { SettingsPanel } from './SettingsPanel.tsx';
import { TrustPanel } from './TrustPanel.tsx';
import { UpdateBanner } from './UpdateBanner.tsx';
import { Uploads } from './Uploads.tsx';
import { useIngest } from './useIngest.ts';
import { useLibrary } from './useLibrary.ts';
import { useFamily, usePeerNode, useTrustClient } from './usePeerNode.ts';
import { useStorageEstimate } from './useStorageEstimate.ts';

/**
 * The page's location, again after back/forward (`popstate`): a share link opened within the
 * page (history) shows its fetch without a reload, which a page whose doorway is gone could not
 * do without its service worker.
 */
function useLocation(): Location {
  const [, setPath] = useState(location.href);
  useEffect(() => {
    const update = () => setPath(location.href);
    addEventListener('popstate', update);
    return () => removeEventListener('popstate', update);
  }, []);
  return location;
}

/**
 * The page: header (title, summary, storage), then the work area (a share link being
 * fetched, adding files, the library) beside the network and settings, which matter less
 * often and so sit aside (below, on a phone).
 */
export function App() {
  const library = useLibrary();
  const store = library.status === 'ready' ? library.store : undefined;
  const ingest = useIngest(store);
  const peer = usePeerNode(store);
  const trust = useTrustClient();
  const family = useFamily();
  const storage = useStorageEstimate(store);
  const here = useLocation();
  const shared = parseShareLink(here);
  const recovering = parseRecoveryLink(here);
  // Bumped by "Try again": a new key gives the fetch panel a fresh attempt.
  const [fetchAttempt, setFetchAttempt] = useState(0);

  return (
    <>
      <a className="skip-link" href="#content">
        Skip to content
      </a>
      <div className="app">
        <AppHeader
          items={library.status === 'ready' ? library.items : undefined}
          storage={storage.estimate}
          onPersist={() => void storage.persist()}
        />
        <UpdateBanner />
        <NewDeviceNotice />
        {library.status === 'failed' && (
          <p role="alert" className="error callout">
            The local store could not be opened: {errorMessage(library.error)}. This browser may
            block storage for this site (private window or site settings); allow it and reload.
          </p>
        )}
        <div className="app__layout">
          <main id="content" className="app__main" tabIndex={-1}>
            {shared && 'damaged' in shared && <DamagedLink name={shared.damaged} />}
            {shared && 'hash' in shared && store && (
              <FetchPanel
                // Another link, or "Try again": a fresh fetch, not the last one's outcome.
                key={`${shared.hash}/${fetchAttempt}`}
                hash={shared.hash}
                name={shared.name}
                meta={shared.meta}
                peer={peer}
                onRetry={() => setFetchAttempt((n) => n + 1)}
              />
            )}
            {recovering && <HelpRecover requester={recovering} trust={trust} />}
            {isPairRoute(here) && <JoinAsDevice href={here.href} />}
            <RestoreQueue store={store} peer={peer} trust={trust} family={family.family} />
            <FirstRunHint
              empty={!shared && library.status === 'ready' && library.items.length === 0}
              trust={trust}
            />
            <DropZone
              disabled={!store}
              onFiles={ingest.add}
              trust={trust}
              family={family.snapshot}
            />
            <IngestList
              jobs={ingest.jobs}
              onCancel={ingest.cancel}
              onDismiss={ingest.dismiss}
              onClear={ingest.clear}
            />
            <Uploads peer={peer} />
            {library.status === 'opening' && (
              <p className="muted" aria-busy="true">
                Opening the local store…
              </p>
            )}
            {store && library.status === 'ready' && <Library store={store} items={library.items} />}
            {store && <KeptForOthers store={store} />}
          </main>
          <aside className="app__aside" aria-label="Network and settings">
            <PeersPanel peer={peer} />
            <TrustPanel
              trust={trust}
              peer={peer}
              family={family.family}
              familySnapshot={family.snapshot}
            />
            <ActivityPanel trust={trust} />
            <SettingsPanel
              trust={trust}
              items={library.status === 'ready' ? library.items : undefined}
            />
          </aside>
        </div>
      </div>
    </>
  );
}
