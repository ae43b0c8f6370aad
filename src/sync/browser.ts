/**
 * Sync in a browser page: the sync runtime on the shared IndexedDB storage, tabs kept in step
 * over a BroadcastChannel, library ids in `localStorage`, opened under a Web Lock so two tabs
 * never create two libraries.
 */

import wasmUrl from '@automerge/automerge/automerge.wasm?url';
import { initializeWasm } from '@automerge/automerge-repo/slim';
import { BroadcastChannelNetworkAdapter } from '@automerge/automerge-repo-network-broadcastchannel';
import { IndexedDBStorageAdapter } from '@automerge/automerge-repo-storage-indexeddb';
import { IdbEventLog } from './idb-event-log.ts';
import { openSyncRuntime, type SyncRuntime } from './runtime.ts';

/** Serialises opening (and creating, migrating) the libraries across tabs. */
const LIBRARY_LOCK = 'elohim-library-doc';

/** Opens (once per page) the Repo, the event log and this agent's libraries. */
export async function openBrowserSync(agent: string): Promise<SyncRuntime> {
  await initializeWasm(wasmUrl);
  return openSyncRuntime({
    agent,
    storage: new IndexedDBStorageAdapter('elohim-automerge'),
    tabs: new BroadcastChannelNetworkAdapter({ channelName: 'elohim-automerge' }),
    log: await IdbEventLog.open(),
    ids: localStorage,
    exclusive: async (open) => await navigator.locks.request(LIBRARY_LOCK, open),
  });
}
