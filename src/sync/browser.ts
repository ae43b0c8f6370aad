/**
 * Sync in a browser page: one Automerge Repo per tab on the shared IndexedDB storage, tabs
 * kept in step over a BroadcastChannel, this agent's library document, and the event log.
 * Every tab records its own edits (ChangeRecorder); the tab that runs the libp2p node also
 * syncs with peers ({@link BrowserSync.lead}): the Repo gets the libp2p adapter and the
 * SyncService (stream positions, Announce) replaces the recorder.
 */

import wasmUrl from '@automerge/automerge/automerge.wasm?url';
import {
  type DocHandle,
  type DocumentId,
  initializeWasm,
  isValidDocumentId,
  Repo,
} from '@automerge/automerge-repo/slim';
import { BroadcastChannelNetworkAdapter } from '@automerge/automerge-repo-network-broadcastchannel';
import { IndexedDBStorageAdapter } from '@automerge/automerge-repo-storage-indexeddb';
import { Libp2pNetworkAdapter, type Libp2pSyncNode } from './adapter.ts';
import { createLibrary, type DocTracker, type LibraryDoc } from './documents.ts';
import { EventLog } from './event-log.ts';
import { ChangeRecorder } from './recorder.ts';
import { SyncService } from './service.ts';

const LIBRARY_KEY = 'elohim-library-doc';
/** The library is this browser's own: it loads from IndexedDB or not at all. */
const LIBRARY_FIND_MS = 10_000;

export interface BrowserSync {
  readonly repo: Repo;
  readonly log: EventLog;
  readonly library: DocHandle<LibraryDoc>;
  /** Records local edits of documents created here: pass it to `seedItem`/`createItemMeta`. */
  readonly tracker: DocTracker;
  /** This tab runs the node now: sync with peers over it. */
  lead(libp2p: Libp2pSyncNode & Parameters<typeof SyncService.start>[0]): Promise<SyncService>;
}

/** Opens (once per page) the Repo, the event log and this agent's library. */
export async function openBrowserSync(agent: string): Promise<BrowserSync> {
  await initializeWasm(wasmUrl);
  const repo = new Repo({
    storage: new IndexedDBStorageAdapter('elohim-automerge'),
    network: [new BroadcastChannelNetworkAdapter({ channelName: 'elohim-automerge' })],
    // Library and metadata documents are shared with whoever asks; private items are never
    // put in them (see useIngest).
    sharePolicy: async () => true,
  });
  const log = await EventLog.open();
  let recorder: ChangeRecorder | undefined = new ChangeRecorder(repo, log);
  let service: SyncService | undefined;
  const tracker: DocTracker = {
    track: (handle) => (service ?? recorder)?.track(handle),
  };
  const library = await openLibrary(repo, agent, tracker);
  return {
    repo,
    log,
    library,
    tracker,
    async lead(libp2p) {
      if (service) return service;
      repo.networkSubsystem.addNetworkAdapter(new Libp2pNetworkAdapter(libp2p));
      await recorder?.stop();
      recorder = undefined;
      service = await SyncService.start(libp2p, repo, log);
      service.track(library);
      return service;
    },
  };
}

/**
 * The library document's id is kept per browser profile; the first tab to need one creates
 * it under a Web Lock, so two tabs opening at once agree on a single library. The id is saved
 * only once the new document is on disk, so a page left right away never leaves an id that
 * names nothing; an id whose document is gone anyway (storage cleared) is replaced.
 */
async function openLibrary(
  repo: Repo,
  agent: string,
  tracker: DocTracker,
): Promise<DocHandle<LibraryDoc>> {
  return navigator.locks.request(LIBRARY_KEY, async () => {
    const saved = localStorage.getItem(LIBRARY_KEY);
    if (saved && isValidDocumentId(saved)) {
      try {
        const handle = await repo.find<LibraryDoc>(saved as DocumentId, {
          signal: AbortSignal.timeout(LIBRARY_FIND_MS),
        });
        tracker.track(handle);
        return handle;
      } catch (error) {
        console.warn(`The library document ${saved} is not in storage; starting a new one.`, error);
      }
    }
    const handle = createLibrary(repo, agent, tracker);
    await repo.flush([handle.documentId]);
    localStorage.setItem(LIBRARY_KEY, handle.documentId);
    return handle;
  });
}
