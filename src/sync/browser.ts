/**
 * Sync in a browser page: one Automerge Repo per tab on the shared IndexedDB storage, tabs
 * kept in step over a BroadcastChannel, this agent's libraries, and the event log. Every tab
 * records its own edits (ChangeRecorder); the tab that runs the libp2p node also syncs with
 * peers ({@link BrowserSync.lead}): the Repo gets the libp2p adapter and the SyncService
 * (stream positions, Announce) replaces the recorder. The other tabs of this browser get every
 * document; a libp2p peer only what its reach admits (`audience.ts`, `share.ts`).
 */

import wasmUrl from '@automerge/automerge/automerge.wasm?url';
import { initializeWasm, Repo } from '@automerge/automerge-repo/slim';
import { BroadcastChannelNetworkAdapter } from '@automerge/automerge-repo-network-broadcastchannel';
import { IndexedDBStorageAdapter } from '@automerge/automerge-repo-storage-indexeddb';
import { logger } from '../wire/index.ts';
import { type Libp2pSyncNode, libp2pNetworkAdapter } from './adapter.ts';
import { docAudience, type ItemAudience } from './audience.ts';
import type { DocTracker } from './documents.ts';
import { EventLog } from './event-log.ts';
import { type Libraries, openLibraries } from './libraries.ts';
import { ChangeRecorder } from './recorder.ts';
import { SyncService } from './service.ts';
import { RepoSharing } from './share.ts';

const syncLog = logger('sync');

/** Serialises opening (and creating, migrating) the libraries across tabs. */
const LIBRARY_LOCK = 'elohim-library-doc';

export interface BrowserSync {
  readonly repo: Repo;
  readonly log: EventLog;
  /** This agent's shared library (commons items) and its own one (the others; tabs only). */
  readonly libraries: Libraries;
  /** Records local edits of documents created here: pass it to `seedItem`/`createItemMeta`. */
  readonly tracker: DocTracker;
  /**
   * This tab runs the node now: sync with peers over it. `mayReceiveItem` is the content
   * delivery gate: a peer receives an item's description, and the events naming it, only if
   * it may receive the item.
   */
  lead(
    libp2p: Libp2pSyncNode & Parameters<typeof SyncService.start>[0],
    mayReceiveItem: ItemAudience,
  ): Promise<SyncService>;
  /** Who may receive what has changed (trust links, family): share accordingly from now on. */
  reshare(): void;
}

/** Opens (once per page) the Repo, the event log and this agent's libraries. */
export async function openBrowserSync(agent: string): Promise<BrowserSync> {
  await initializeWasm(wasmUrl);
  const tabs = new BroadcastChannelNetworkAdapter({ channelName: 'elohim-automerge' });
  const sharing = new RepoSharing(tabs, (error, docId) =>
    syncLog.error('could not decide who may receive %s; nobody does: %e', docId, error),
  );
  const repo = new Repo({
    storage: new IndexedDBStorageAdapter('elohim-automerge'),
    network: [tabs],
    shareConfig: sharing.config,
  });
  const log = await EventLog.open();
  let recorder: ChangeRecorder | undefined = new ChangeRecorder(repo, log);
  let service: SyncService | undefined;
  const tracker: DocTracker = {
    track: (handle) => (service ?? recorder)?.track(handle),
  };
  const libraries = await navigator.locks.request(LIBRARY_LOCK, () =>
    openLibraries(repo, agent, localStorage, {
      tracker,
      onMissing: (id, error) =>
        syncLog.error(
          'the library document %s is not in storage; starting a new one: %e',
          id,
          error,
        ),
    }),
  );
  const reshare = () => repo.shareConfigChanged();
  // Which item a description belongs to, and so who may receive it, is read in the libraries.
  libraries.onChange(reshare);
  return {
    repo,
    log,
    libraries,
    tracker,
    reshare,
    async lead(libp2p, mayReceiveItem) {
      if (service) return service;
      const adapter = libp2pNetworkAdapter()(libp2p);
      const audience = docAudience({ repo, libraries, mayReceiveItem });
      sharing.shareWith(repo, adapter, audience);
      repo.networkSubsystem.addNetworkAdapter(adapter);
      await recorder?.stop();
      recorder = undefined;
      service = await SyncService.start(libp2p, repo, log, { mayReceive: audience });
      service.track(libraries.shared);
      return service;
    },
  };
}
