/**
 * Sync: content metadata and libraries as Automerge documents, shared between tabs
 * (BroadcastChannel) and peers (libp2p), with numbered events so a peer catches up with a
 * delta. Two protocols (wire formats: `adapter.ts`, `codec.ts`):
 *  - `/elohim/automerge/1.0.0`: automerge-repo's own sync, via {@link Libp2pNetworkAdapter};
 *  - `/elohim/sync/1.0.0`: stream positions, via {@link SyncService} and its {@link EventLog}.
 *
 * These modules import Automerge from the `/slim` entry points only and take the Repo as a
 * parameter: the page initialises the wasm itself (Vite); Node code imports
 * `@automerge/automerge-repo` (or `@automerge/automerge`) once, which initialises it.
 *
 *   import { Repo, initializeWasm } from '@automerge/automerge-repo/slim';
 *   import wasmUrl from '@automerge/automerge/automerge.wasm?url';
 *   await initializeWasm(wasmUrl);
 *   const repo = new Repo({
 *     storage: new IndexedDBStorageAdapter('elohim-automerge'),
 *     network: [new BroadcastChannelNetworkAdapter(), new Libp2pNetworkAdapter(node.libp2p)],
 *     sharePolicy: async () => true,
 *   });
 *   const log = await EventLog.open();
 *   const sync = await SyncService.start(node.libp2p, repo, log);
 *   sync.on('activity', ({ event, kind, peer }) => feed.push({ event, kind, peer }));
 *   const library = createLibrary(repo, node.peerId, sync);   // once; keep library.url
 *   const { item, meta } = seedItem(repo, library, manifest, { tracker: sync });
 *   setTitle(meta, 'Holiday photos'); addTag(meta, 'family');
 *
 * Only one tab runs the libp2p node (src/net/peer-service.ts). The other tabs use the same
 * Repo setup without the libp2p adapter, the same EventLog database, and a ChangeRecorder
 * instead of the SyncService; the node's SyncService announces what they record:
 *
 *   const log = await EventLog.open();
 *   const recorder = new ChangeRecorder(repo, log);
 *   const { meta } = seedItem(repo, library, manifest, { tracker: recorder });
 *   log.on('stored', ({ event, kind, origin }) => …)   // the activity feed, in any tab
 */
export {
  AUTOMERGE_PROTOCOL,
  Libp2pNetworkAdapter,
  type Libp2pNetworkAdapterOptions,
  type Libp2pSyncNode,
} from './adapter.ts';
export type { BrowserSync } from './browser.ts';
export {
  DEFAULT_MAX_FRAME_BYTES,
  DEFAULT_MAX_LIMIT,
  decodeSyncRequest,
  decodeSyncResponse,
  EVENT_KINDS,
  type EventKind,
  encodeSyncMessage,
  SYNC_PROTOCOL,
  type SyncEvent,
  type SyncMessage,
  type SyncRequestMessage,
  type SyncResponseMessage,
} from './codec.ts';
export {
  addItemToLibrary,
  addTag,
  createItemMeta,
  createLibrary,
  type DocTracker,
  findItemMeta,
  type ItemMeta,
  type LibraryDoc,
  type LibraryItem,
  removeItemFromLibrary,
  removeTag,
  type SeedInput,
  type SeedOptions,
  seedItem,
  setDescription,
  setItemReach,
  setTitle,
  tagsOf,
} from './documents.ts';
export {
  BadChangesError,
  ConflictingEventError,
  LimitOutOfRangeError,
  PositionOutOfRangeError,
  RemoteSyncError,
  SyncClosedError,
  SyncError,
  SyncFrameTooLargeError,
  SyncProtocolError,
  SyncTimeoutError,
  UnknownDocumentError,
} from './errors.ts';
export {
  DEFAULT_SYNC_DB_NAME,
  EventLog,
  type EventLogEvents,
  type StoredNotice,
  type StoredRemoteEvent,
} from './event-log.ts';
export { ChangeRecorder, type ChangeRecorderEvents } from './recorder.ts';
export {
  type Libp2pSyncServiceNode,
  type SyncActivity,
  SyncService,
  type SyncServiceEvents,
  type SyncServiceOptions,
} from './service.ts';
