/**
 * One sync runtime, the same in a page and in Node: one Automerge Repo on the given storage,
 * this agent's libraries, and the event log. It records its own edits (ChangeRecorder) until
 * it runs the network ({@link SyncRuntime.lead}): then the Repo also gets the libp2p adapter
 * and the SyncService (stream positions, Announce) replaces the recorder. Other tabs of a
 * browser (the `tabs` adapter) get every document; a libp2p peer only what its reach admits
 * (`audience.ts`, `share.ts`). `browser.ts` opens it in a page.
 */

import {
  isValidDocumentId,
  type NetworkAdapterInterface,
  Repo,
  type StorageAdapterInterface,
} from '@automerge/automerge-repo/slim';
import type { ContentHash, StoredManifest } from '../content/index.ts';
import { logger } from '../wire/index.ts';
import { type Libp2pSyncNode, libp2pNetworkAdapter } from './adapter.ts';
import {
  type DocAudience,
  docAudience,
  type ItemAudience,
  keepCommonsDescriptions,
} from './audience.ts';
import { addItemToLibrary, type DocTracker, seedItem } from './documents.ts';
import type { EventLog } from './event-log.ts';
import { type Libraries, type LibraryIds, openLibraries } from './libraries.ts';
import { ChangeRecorder } from './recorder.ts';
import { SyncService } from './service.ts';
import { SettlingStorage } from './settling-storage.ts';
import { RepoSharing } from './share.ts';

const log = logger('sync');

export interface SyncRuntimeInit {
  /** This agent's key: it names the libraries. */
  agent: string;
  storage: StorageAdapterInterface;
  log: EventLog;
  /** Where the library ids are kept (`localStorage` in a page). */
  ids: LibraryIds;
  /** The adapter that gets every document: the other tabs of this browser. */
  tabs?: NetworkAdapterInterface;
  /** Serialises opening (and creating) the libraries among those sharing `ids`. */
  exclusive?: (open: () => Promise<Libraries>) => Promise<Libraries>;
}

export interface LeadOptions {
  /**
   * Keep, of what peers send, only descriptions of the items this says are commons items held
   * here (`keepCommonsDescriptions`), share nothing else (not this agent's own, empty,
   * libraries), and run no automerge-repo sync (`/elohim/automerge/1.0.0`: its changes cannot
   * be checked before they apply): a doorway, which is no one's device. Default: keep what the
   * senders' audiences let through, share as `docAudience` says, all three protocols.
   */
  commonsHeld?: (hash: ContentHash) => boolean | Promise<boolean>;
}

export interface SyncRuntime {
  readonly repo: Repo;
  readonly log: EventLog;
  /** This agent's shared library (commons items) and its own one (the others; tabs only). */
  readonly libraries: Libraries;
  /** Records local edits of documents created here: pass it to `seedItem`/`createItemMeta`. */
  readonly tracker: DocTracker;
  /**
   * Sync with peers over this libp2p node from now on. `mayReceiveItem` is the content
   * delivery gate: a peer receives an item's description, and the events naming it, only if
   * it may receive the item.
   */
  lead(
    libp2p: Libp2pSyncNode & Parameters<typeof SyncService.start>[0],
    mayReceiveItem: ItemAudience,
    options?: LeadOptions,
  ): Promise<SyncService>;
  /** Who may receive what has changed (trust links, family): share accordingly from now on. */
  reshare(): void;
  /**
   * Puts a stored item in this agent's libraries with its description document: a new one for
   * an item added here, or `metaDoc`, the one a share link named (so both holders edit the
   * same document). Commons items go in the shared library, others in the one that stays in
   * this browser; private items in none (only the person's devices receive them, so nobody would share
   * the description). Resolves once the changed documents are on disk.
   */
  addItem(manifest: StoredManifest, options?: { metaDoc?: string; title?: string }): Promise<void>;
  /** Stops syncing and resolves once every write to storage has ended. */
  shutdown(): Promise<void>;
}

export async function openSyncRuntime(init: SyncRuntimeInit): Promise<SyncRuntime> {
  const sharing = new RepoSharing(init.tabs, (error, docId) =>
    log.error('could not decide who may receive %s; nobody does: %e', docId, error),
  );
  // Shutdown waits for writes already under way: a Node process may exit right after.
  const storage = new SettlingStorage(init.storage);
  const repo = new Repo({
    storage,
    network: init.tabs ? [init.tabs] : [],
    shareConfig: sharing.config,
  });
  const events = init.log;
  let recorder: ChangeRecorder | undefined = new ChangeRecorder(repo, events);
  let service: SyncService | undefined;
  const tracker: DocTracker = {
    track: (handle) => (service ?? recorder)?.track(handle),
  };
  const open = () =>
    openLibraries(repo, init.agent, init.ids, {
      tracker,
      onMissing: (id, error) =>
        log.error('the library document %s is not in storage; starting a new one: %e', id, error),
    });
  const libraries = await (init.exclusive ? init.exclusive(open) : open());
  const reshare = () => repo.shareConfigChanged();
  // Which item a description belongs to, and so who may receive it, is read in the libraries.
  libraries.onChange(reshare);
  return {
    repo,
    log: events,
    libraries,
    tracker,
    reshare,
    async lead(libp2p, mayReceiveItem, options = {}) {
      if (service) return service;
      const everyone = docAudience({ repo, libraries, mayReceiveItem });
      let audience: DocAudience = everyone;
      if (options.commonsHeld) {
        // A doorway shares the descriptions it keeps only: its own libraries list nothing (it
        // adds no items), and offering them would put an empty document on every browser. It
        // takes changes only where what it keeps is checked first (positions, the Rust sync),
        // so not over automerge-repo's sync, whose changes are applied as they arrive.
        const ownLibraries = new Set<string>([
          libraries.shared.documentId,
          libraries.own.documentId,
        ]);
        audience = (peer, docId) => !ownLibraries.has(docId) && everyone(peer, docId);
      } else {
        const adapter = libp2pNetworkAdapter()(libp2p);
        sharing.shareWith(repo, adapter, audience);
        repo.networkSubsystem.addNetworkAdapter(adapter);
      }
      await recorder?.stop();
      recorder = undefined;
      service = await SyncService.start(libp2p, repo, events, {
        mayReceive: audience,
        ...(options.commonsHeld ? { mayKeep: keepCommonsDescriptions(options.commonsHeld) } : {}),
      });
      service.track(libraries.shared);
      return service;
    },
    async addItem(manifest, options = {}) {
      if (manifest.reach === 'private' || libraries.entry(manifest.blob_hash)) return;
      const library = libraries.for(manifest.reach);
      const changed = [library.documentId];
      if (options.metaDoc && isValidDocumentId(options.metaDoc)) {
        addItemToLibrary(library, {
          hash: manifest.blob_hash,
          name: manifest.name ?? manifest.blob_hash,
          mime: manifest.mime_type,
          size: manifest.total_size,
          reach: manifest.reach,
          manifest_ref: manifest.blob_cid,
          added_at: new Date().toISOString(),
          meta_doc: options.metaDoc,
        });
      } else {
        const { meta } = seedItem(repo, library, manifest, {
          tracker,
          ...(options.title ? { title: options.title } : {}),
        });
        changed.push(meta.documentId);
      }
      // On disk before the caller reports success: the page may be left right after. Only
      // the documents changed here: flushing every handle throws while another one is still
      // loading (a description being found from peers; automerge-repo #740).
      await repo.flush(changed);
    },
    async shutdown() {
      await service?.stop();
      await recorder?.stop();
      // repo.shutdown() flushes every handle and throws on one that is not ready (a document
      // asked of peers that never came, one a doorway refused to keep; automerge-repo #740):
      // the same steps, flushing the ready ones.
      for (const adapter of repo.networkSubsystem.adapters) adapter.disconnect();
      await repo.flush(
        Object.values(repo.handles)
          .filter((handle) => handle.isReady())
          .map((handle) => handle.documentId),
      );
      await storage.quiet();
    },
  };
}
