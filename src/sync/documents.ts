/**
 * The synced documents: libraries (two per agent, `libraries.ts`) and one metadata document
 * per item.
 *
 *   library   { agent, items: { [hash]: LibraryItem } }
 *   item meta { hash, title, description, tags: string[] }
 *
 * How a peer finds an item's metadata: the library entry (or the share link) names it.
 * `LibraryItem.meta_doc` is the metadata document's automerge-repo DocumentId;
 * `repo.find(item.meta_doc)` (or a DocRequest for it) gets it — from a peer that lets us
 * receive the item (`audience.ts`). A shared library names its commons items' metadata
 * documents and the event log names every document, so whoever syncs an agent's log gets
 * its shared library and the metadata documents of the items it may receive, no others.
 *
 * Merging: items are keyed by content hash, so two peers adding the same content merge to
 * one entry. Scalar fields (title, description, reach…) are last-writer-wins, and both
 * peers pick the same winner. `tags` is an Automerge list: concurrent adds of x and y merge
 * to both; concurrent adds of the SAME tag can leave it twice, so read tags with
 * {@link tagsOf} (unique, in order) and {@link removeTag} removes every copy.
 *
 * Creating: documents are created empty and filled by a second change, so that a
 * {@link DocTracker} (the SyncService) attached in between records the content as a Local
 * event (a Repo records `create(initialValue)` before anyone can listen).
 */
import type { AnyDocumentId, DocHandle, DocumentId, Repo } from '@automerge/automerge-repo/slim';
import type { Reach } from '../content/index.ts';
import { abortReason } from '../wire/index.ts';

export interface LibraryItem {
  /** `sha256-<hex>` of the content. */
  hash: string;
  /** Display (file) name. */
  name: string;
  mime: string;
  /** Bytes. */
  size: number;
  reach: Reach;
  /**
   * Where the manifest is found: the manifest's `blob_cid` (the content id the Rust node and
   * the trust layer record). Our own peers serve it by `hash` over `/elohim/pieces/1.0.0`.
   */
  manifest_ref: string;
  /** RFC 3339, when it was added to this library. */
  added_at: string;
  /** DocumentId of the item's {@link ItemMeta} document. */
  meta_doc: DocumentId;
}

export interface LibraryDoc {
  /** The agent whose library this is. */
  agent: string;
  items: { [hash: string]: LibraryItem };
}

export interface ItemMeta {
  hash: string;
  title: string;
  description: string;
  tags: string[];
}

/** Something that records a document's local changes from now on (the SyncService). */
export interface DocTracker {
  track<T>(handle: DocHandle<T>): void;
}

/** What seeding needs of a manifest (a `StoredManifest` or `RemoteManifest` fits). */
export interface SeedInput {
  blob_hash: string;
  blob_cid: string;
  total_size: number;
  mime_type: string;
  reach: Reach;
  name?: string;
}

export interface SeedOptions {
  title?: string;
  description?: string;
  tags?: readonly string[];
  tracker?: DocTracker;
  /** Default: now. */
  addedAt?: Date;
}

function normalizeTag(tag: string): string {
  const t = tag.trim();
  if (t.length === 0) throw new RangeError('A tag must contain a non-blank character.');
  return t;
}

function createTracked<T>(repo: Repo, init: T, tracker: DocTracker | undefined): DocHandle<T> {
  const handle = repo.create<T>();
  tracker?.track(handle);
  handle.change((d) => {
    Object.assign(d as object, init);
  });
  return handle;
}

export function createLibrary(
  repo: Repo,
  agent: string,
  tracker?: DocTracker,
): DocHandle<LibraryDoc> {
  return createTracked<LibraryDoc>(repo, { agent, items: {} }, tracker);
}

/** Adds (or replaces) an entry, keyed by its content hash. */
export function addItemToLibrary(library: DocHandle<LibraryDoc>, item: LibraryItem): void {
  library.change((d) => {
    d.items[item.hash] = { ...item };
  });
}

export function removeItemFromLibrary(library: DocHandle<LibraryDoc>, hash: string): void {
  library.change((d) => {
    delete d.items[hash];
  });
}

/** Sets an item's reach (who may receive it, docs/design.md §7). */
export function setItemReach(library: DocHandle<LibraryDoc>, hash: string, reach: Reach): void {
  library.change((d) => {
    const item = d.items[hash];
    if (!item) throw new RangeError(`The library has no item ${hash}.`);
    item.reach = reach;
  });
}

export function createItemMeta(
  repo: Repo,
  meta: { hash: string; title: string; description?: string; tags?: readonly string[] },
  tracker?: DocTracker,
): DocHandle<ItemMeta> {
  const tags = [...new Set((meta.tags ?? []).map(normalizeTag))];
  return createTracked<ItemMeta>(
    repo,
    { hash: meta.hash, title: meta.title, description: meta.description ?? '', tags },
    tracker,
  );
}

export function setTitle(meta: DocHandle<ItemMeta>, title: string): void {
  meta.change((d) => {
    d.title = title;
  });
}

export function setDescription(meta: DocHandle<ItemMeta>, description: string): void {
  meta.change((d) => {
    d.description = description;
  });
}

/** Appends `tag` unless present (no change at all when it is). */
export function addTag(meta: DocHandle<ItemMeta>, tag: string): void {
  const t = normalizeTag(tag);
  if (meta.doc().tags.includes(t)) return;
  meta.change((d) => {
    d.tags.push(t);
  });
}

/** Removes every copy of `tag` (concurrent adds may have left more than one). */
export function removeTag(meta: DocHandle<ItemMeta>, tag: string): void {
  const t = normalizeTag(tag);
  if (!meta.doc().tags.includes(t)) return;
  meta.change((d) => {
    for (let i = d.tags.length - 1; i >= 0; i--) {
      if (d.tags[i] === t) d.tags.splice(i, 1);
    }
  });
}

/** The tags, each once, in first-seen order. */
export function tagsOf(meta: Pick<ItemMeta, 'tags'>): string[] {
  return [...new Set(meta.tags)];
}

/**
 * Adds content to a library: creates its metadata document (title defaults to the name)
 * and the library entry pointing at it.
 */
export function seedItem(
  repo: Repo,
  library: DocHandle<LibraryDoc>,
  input: SeedInput,
  options: SeedOptions = {},
): { item: LibraryItem; meta: DocHandle<ItemMeta> } {
  const name = input.name ?? input.blob_hash;
  const meta = createItemMeta(
    repo,
    {
      hash: input.blob_hash,
      title: options.title ?? name,
      ...(options.description !== undefined ? { description: options.description } : {}),
      ...(options.tags !== undefined ? { tags: options.tags } : {}),
    },
    options.tracker,
  );
  const item: LibraryItem = {
    hash: input.blob_hash,
    name,
    mime: input.mime_type,
    size: input.total_size,
    reach: input.reach,
    manifest_ref: input.blob_cid,
    added_at: (options.addedAt ?? new Date()).toISOString(),
    meta_doc: meta.documentId,
  };
  addItemToLibrary(library, item);
  return { item, meta };
}

/** The metadata document of a library item (from storage, or from peers via the Repo). */
export function findItemMeta(
  repo: Repo,
  item: Pick<LibraryItem, 'meta_doc'>,
  options: { signal?: AbortSignal } = {},
): Promise<DocHandle<ItemMeta>> {
  return findDoc<ItemMeta>(repo, item.meta_doc, options);
}

/**
 * `repo.find`, abortable, without handing the Repo the signal: automerge-repo rejects a
 * promise nobody listens to yet when its signal aborts while the document loads from storage,
 * which a page reports as an uncaught "Operation aborted" (leaving a page mid-fetch did). Here
 * the caller's promise rejects with the signal's reason; the find itself settles unobserved.
 */
export function findDoc<T>(
  repo: Repo,
  id: AnyDocumentId,
  options: { allowableStates?: string[]; signal?: AbortSignal | undefined } = {},
): Promise<DocHandle<T>> {
  const { signal, ...rest } = options;
  const finding = repo.find<T>(id, rest);
  if (!signal) return finding;
  return new Promise<DocHandle<T>>((resolve, reject) => {
    const onAbort = () => reject(abortReason(signal));
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    finding.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/**
 * The Repo's handle for `id`, in one of `states`: the cached one when ready (no lookup),
 * else found (loaded from storage if there; with `'unavailable'`, an empty one to fill).
 */
export async function findHandle(
  repo: Repo,
  id: DocumentId,
  states: string[],
  signal?: AbortSignal,
): Promise<DocHandle<unknown>> {
  const cached = repo.handles[id];
  if (cached?.isReady()) return cached;
  return findDoc(repo, id, { allowableStates: states, signal });
}
