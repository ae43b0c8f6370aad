import { useEffect, useState } from 'react';
import type { StoredManifest } from '../content/index.ts';
import type { BrowserSync, LibraryItem } from '../sync/index.ts';
import { myAgent } from './identity.ts';

/**
 * The page's sync runtime (Automerge Repo, event log, this agent's library), opened on first
 * use: Automerge's WASM stays off the first paint.
 */
let opening: Promise<BrowserSync> | undefined;

export function syncReady(): Promise<BrowserSync> {
  opening ??= (async () => {
    const [{ openBrowserSync }, agent] = await Promise.all([
      import('../sync/browser.ts'),
      myAgent(),
    ]);
    return openBrowserSync(agent);
  })();
  return opening;
}

/**
 * Puts a stored item in this agent's libraries with its metadata document: a new one for an
 * item added here, or the one a share link named (so both holders edit the same document).
 * A commons item goes in the shared library, any other in the library that stays in this
 * browser (src/sync/libraries.ts); a peer receives the description only where the item may go.
 * Private items stay out: they never leave this device, so nobody would share the description.
 */
export async function addToLibrary(
  manifest: StoredManifest,
  options: { metaDoc?: string | undefined; title?: string | undefined } = {},
): Promise<void> {
  if (manifest.reach === 'private') return;
  const sync = await syncReady();
  if (sync.libraries.entry(manifest.blob_hash)) return;
  const { seedItem, addItemToLibrary } = await import('../sync/index.ts');
  const { isValidDocumentId } = await import('@automerge/automerge-repo/slim');
  const library = sync.libraries.for(manifest.reach);
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
    const { meta } = seedItem(sync.repo, library, manifest, {
      tracker: sync.tracker,
      ...(options.title ? { title: options.title } : {}),
    });
    changed.push(meta.documentId);
  }
  // On disk before the caller reports success: the page may be left right after. Only the
  // documents changed here: flushing every handle throws while another one is still loading
  // (a description being found from peers).
  await sync.repo.flush(changed);
}

/** One subscription to the libraries for the whole page, shared by every row. */
let entries: Record<string, LibraryItem> = {};
const entryListeners = new Set<() => void>();
let watching = false;

function watchLibrary(): void {
  if (watching) return;
  watching = true;
  void syncReady().then((sync) => {
    const update = () => {
      entries = sync.libraries.entries();
      for (const listener of entryListeners) listener();
    };
    sync.libraries.onChange(update);
    update();
  });
}

/** This agent's library entries (both libraries) by hash, kept current (empty until sync has opened). */
export function useLibraryEntries(): Record<string, LibraryItem> {
  const [current, setCurrent] = useState(entries);
  useEffect(() => {
    const listener = () => setCurrent(entries);
    entryListeners.add(listener);
    watchLibrary();
    listener();
    return () => {
      entryListeners.delete(listener);
    };
  }, []);
  return current;
}
