/**
 * This agent's two library documents, split by who may read them:
 *
 *  - the **shared** library lists only items anyone may receive (reach `commons`): it is the
 *    one document every peer may read, so nothing in it, nor in its history, may be narrower;
 *  - the **own** library lists every other item this agent keeps a description of (invited,
 *    local, and the trust-scoped reaches): it syncs between this browser's tabs only and is
 *    never sent to a libp2p peer (see `audience.ts`), so a peer learns of such an item — its
 *    name, size, hash — only through the item's description, and only if the item's reach
 *    lets it receive the item.
 *
 * Migration (a library from before the split held every item): when the shared library lists
 * a restricted item, or its history ever did (checked once per document), its restricted
 * entries move to the own library and a fresh shared library takes its place with the other
 * entries. The old document stays
 * in storage but is never served again (a library naming this agent that is not the current
 * shared one is read by nobody else); peers that synced it before keep what they got.
 */
import { decodeChange, getAllChanges, view } from '@automerge/automerge/slim';
import type { DocHandle, DocumentId, Repo } from '@automerge/automerge-repo/slim';
import type { Reach } from '../content/index.ts';
import {
  addItemToLibrary,
  createLibrary,
  type DocTracker,
  findDoc,
  type LibraryDoc,
  type LibraryItem,
} from './documents.ts';

/** Where the library ids are kept (`localStorage` in a page). */
export interface LibraryIds {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}

/** The shared library's id: the key the single library of earlier versions was saved under. */
export const SHARED_LIBRARY_KEY = 'elohim-library-doc';
export const OWN_LIBRARY_KEY = 'elohim-library-own-doc';
/** The shared library whose history was found free of restricted entries (checked once). */
export const CHECKED_LIBRARY_KEY = 'elohim-library-checked';

/** Whether an item of this reach may be listed in the shared library: anyone may receive it. */
export function listedOpenly(reach: Reach): boolean {
  return reach === 'commons';
}

/** Whether the library lists an item that is not {@link listedOpenly} now. */
export function listsRestricted(library: DocHandle<LibraryDoc>): boolean {
  return Object.values(library.doc()?.items ?? {}).some((i) => !listedOpenly(i.reach));
}

/** Whether any state in the document's history listed an item that is not {@link listedOpenly}. */
export function everListedRestricted(library: DocHandle<LibraryDoc>): boolean {
  const doc = library.doc();
  // Every entry is added (and every reach changed) by some change: the state at that change
  // shows it, whatever was merged or removed since.
  for (const change of getAllChanges(doc)) {
    const state = view(doc, [decodeChange(change).hash]);
    if (Object.values(state.items ?? {}).some((i) => !listedOpenly(i.reach))) return true;
  }
  return false;
}

type Listener = () => void;

export class Libraries {
  readonly shared: DocHandle<LibraryDoc>;
  readonly own: DocHandle<LibraryDoc>;
  /** Entries by description document, built when first asked after a change. */
  #byMeta: Map<string, LibraryItem> | undefined;

  constructor(shared: DocHandle<LibraryDoc>, own: DocHandle<LibraryDoc>) {
    this.shared = shared;
    this.own = own;
    this.onChange(() => {
      this.#byMeta = undefined;
    });
  }

  /** The library an item of `reach` is listed in. */
  for(reach: Reach): DocHandle<LibraryDoc> {
    return listedOpenly(reach) ? this.shared : this.own;
  }

  /** Every entry of both libraries, by content hash. */
  entries(): Record<string, LibraryItem> {
    return { ...this.shared.doc()?.items, ...this.own.doc()?.items };
  }

  entry(hash: string): LibraryItem | undefined {
    return this.own.doc()?.items[hash] ?? this.shared.doc()?.items[hash];
  }

  /**
   * The entry whose description document is `docId` (asked for every document and peer each
   * time sharing is re-evaluated: indexed).
   */
  describedBy(docId: string): LibraryItem | undefined {
    this.#byMeta ??= new Map(Object.values(this.entries()).map((i) => [i.meta_doc, i]));
    return this.#byMeta.get(docId);
  }

  /** Lists `item` in the library its reach belongs in; returns that library. */
  add(item: LibraryItem): DocHandle<LibraryDoc> {
    const library = this.for(item.reach);
    addItemToLibrary(library, item);
    return library;
  }

  /** Calls `listener` on every change of either library; returns the unsubscribe. */
  onChange(listener: Listener): () => void {
    this.shared.on('change', listener);
    this.own.on('change', listener);
    return () => {
      this.shared.off('change', listener);
      this.own.off('change', listener);
    };
  }
}

export interface OpenLibrariesOptions {
  /** Records local edits of the shared library (the own one is never announced). */
  tracker?: DocTracker;
  /** How long to look for a saved library in storage. Default 10 s. */
  findTimeoutMs?: number;
  /** Told when a saved id names no document (storage cleared): a new library replaces it. */
  onMissing?: (id: string, error: unknown) => void;
}

/**
 * Opens (or creates) this agent's libraries and migrates a shared library that lists, or ever
 * listed, a restricted item. Ids are saved only once their documents are on disk, so a page
 * left right away never leaves an id that names nothing. Callers serialise it across tabs.
 */
export async function openLibraries(
  repo: Repo,
  agent: string,
  ids: LibraryIds,
  options: OpenLibrariesOptions = {},
): Promise<Libraries> {
  const find = async (key: string) => {
    const saved = ids.getItem(key);
    if (!saved) return undefined;
    try {
      return await findDoc<LibraryDoc>(repo, saved as DocumentId, {
        signal: AbortSignal.timeout(options.findTimeoutMs ?? 10_000),
      });
    } catch (error) {
      options.onMissing?.(saved, error);
      return undefined;
    }
  };
  const own = (await find(OWN_LIBRARY_KEY)) ?? createLibrary(repo, agent);
  let shared = await find(SHARED_LIBRARY_KEY);
  if (shared) options.tracker?.track(shared);
  const checked = shared && ids.getItem(CHECKED_LIBRARY_KEY) === shared.documentId;
  if (shared && (listsRestricted(shared) || (!checked && everListedRestricted(shared)))) {
    const fresh = createLibrary(repo, agent, options.tracker);
    for (const item of Object.values(shared.doc().items)) {
      addItemToLibrary(listedOpenly(item.reach) ? fresh : own, item);
    }
    shared = fresh;
  }
  shared ??= createLibrary(repo, agent, options.tracker);
  await repo.flush([own.documentId, shared.documentId]);
  ids.setItem(OWN_LIBRARY_KEY, own.documentId);
  ids.setItem(SHARED_LIBRARY_KEY, shared.documentId);
  ids.setItem(CHECKED_LIBRARY_KEY, shared.documentId);
  return new Libraries(shared, own);
}
