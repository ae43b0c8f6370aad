/**
 * Sync: content metadata and libraries as Automerge documents, shared between tabs
 * (BroadcastChannel) and peers (libp2p), with numbered events so a peer catches up with a
 * delta. Three protocols (wire formats: `adapter.ts`, `codec.ts`, `doc-sync-codec.ts`):
 *  - `/elohim/automerge/1.0.0`: automerge-repo's own sync, via {@link Libp2pNetworkAdapter};
 *  - `/elohim/positions/1.0.0`: stream positions, via {@link SyncService} (serving, pulling and
 *    pushing over the protocol service in `protocol.ts`) and its {@link EventLog};
 *  - `/elohim/sync/1.0.0`: the Rust node's document sync (GetHeads, SyncChanges, GetChanges,
 *    AnnounceChange, ListDocuments), answered by the {@link SyncService} about the same
 *    documents under the app_id {@link APP_ID}, as the audience admits (`doc-sync-server.ts`);
 *    {@link requestDocSync} asks any peer, a Rust node too, with no Repo.
 *
 * Partial sync, by reach: a libp2p peer receives a document — its content, the events that
 * name it, even whether we have it — only if it may receive what the document describes
 * ({@link docAudience}: an item's description goes where the content delivery gate would
 * send the item; this agent's shared library, which lists commons items only, to anyone).
 * The other tabs of this browser receive everything. See src/reach/README.md.
 *
 * These modules import Automerge from the `/slim` entry points only and take the Repo as a
 * parameter: the page initialises the wasm itself (Vite); Node code imports
 * `@automerge/automerge-repo` (or `@automerge/automerge`) once, which initialises it.
 *
 *   import { Repo, initializeWasm } from '@automerge/automerge-repo/slim';
 *   import wasmUrl from '@automerge/automerge/automerge.wasm?url';
 *   await initializeWasm(wasmUrl);
 *   const tabs = new BroadcastChannelNetworkAdapter();
 *   const sharing = new RepoSharing(tabs);           // before the Repo gets `tabs`
 *   const repo = new Repo({ storage: new IndexedDBStorageAdapter('elohim-automerge'),
 *                           network: [tabs], shareConfig: sharing.config });
 *   const log = await IdbEventLog.open();
 *   const libraries = await openLibraries(repo, me, localStorage, { tracker });  // under a lock
 *   const adapter = libp2pNetworkAdapter()(node.libp2p);
 *   const audience = docAudience({ repo, libraries,
 *     mayReceiveItem: (peer, hash) => gate(peer, hash, { op: 'have', blobHash: hash }) });
 *   sharing.shareWith(repo, adapter, audience);
 *   repo.networkSubsystem.addNetworkAdapter(adapter);
 *   const sync = await SyncService.start(node.libp2p, repo, log, { mayReceive: audience });
 *   sync.addEventListener('activity', ({ detail: { event, kind, peer } }) => feed.push(…));
 *   const { item, meta } = seedItem(repo, libraries.for(manifest.reach), manifest, { tracker: sync });
 *   setTitle(meta, 'Holiday photos'); addTag(meta, 'family');
 *
 * Only one tab runs the libp2p node (src/net/peer-service.ts). The other tabs use the same
 * Repo setup without the libp2p adapter, the same IndexedDB event log, and a ChangeRecorder
 * instead of the SyncService; the node's SyncService announces what they record
 * (`openSyncRuntime` does all of this, in a page through `browser.ts`):
 *
 *   const log = await IdbEventLog.open();
 *   const recorder = new ChangeRecorder(repo, log);
 *   const { meta } = seedItem(repo, library, manifest, { tracker: recorder });
 *   log.addEventListener('stored', ({ detail }) => …)   // the activity feed, in any tab
 */
export {
  AUTOMERGE_PROTOCOL,
  Libp2pNetworkAdapter,
  type Libp2pNetworkAdapterOptions,
  type Libp2pSyncNode,
  libp2pNetworkAdapter,
} from './adapter.ts';
export {
  type DocAudience,
  type DocKeeping,
  docAudience,
  type ItemAudience,
  isItemMeta,
  isLibrary,
  keepCommonsDescriptions,
} from './audience.ts';
export {
  DEFAULT_MAX_FRAME_BYTES,
  DEFAULT_MAX_LIMIT,
  decodeSyncRequest,
  decodeSyncResponse,
  EVENT_KINDS,
  type EventKind,
  encodeSyncMessage,
  POSITIONS_PROTOCOL,
  type SyncEvent,
  type SyncMessage,
  type SyncRequestMessage,
  type SyncResponseMessage,
} from './codec.ts';
export {
  type DocSyncAnswer,
  type DocSyncInit,
  DocSyncProtocol,
  docSyncProtocol,
  requestDocSync,
} from './doc-sync.ts';
export {
  DOC_SYNC_LIMITS,
  type DocSyncMessage,
  type DocSyncRequest,
  type DocSyncResponse,
  type DocumentInfo,
  decodeDocSyncRequest,
  decodeDocSyncResponse,
  encodeDocSyncMessage,
  SYNC_PROTOCOL,
} from './doc-sync-codec.ts';
export { APP_ID, MAX_LIST_LIMIT } from './doc-sync-server.ts';
export {
  addItemToLibrary,
  addTag,
  createItemMeta,
  createLibrary,
  type DocTracker,
  findDoc,
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
  AdapterNotConnectedError,
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
export type {
  EventLog,
  EventLogEvents,
  StoredNotice,
  StoredRemoteEvent,
} from './event-log.ts';
export { DEFAULT_SYNC_DB_NAME, IdbEventLog } from './idb-event-log.ts';
export {
  CHECKED_LIBRARY_KEY,
  everListedRestricted,
  Libraries,
  type LibraryIds,
  listedOpenly,
  type OpenLibrariesOptions,
  OWN_LIBRARY_KEY,
  openLibraries,
  SHARED_LIBRARY_KEY,
} from './libraries.ts';
export { ChangeRecorder, type ChangeRecorderEvents, type RecorderError } from './recorder.ts';
export {
  type LeadOptions,
  openSyncRuntime,
  type SyncRuntime,
  type SyncRuntimeInit,
} from './runtime.ts';
export {
  type Libp2pSyncServiceNode,
  type SyncActivity,
  type SyncFailure,
  SyncService,
  type SyncServiceEvents,
  type SyncServiceOptions,
} from './service.ts';
export { RepoSharing } from './share.ts';
