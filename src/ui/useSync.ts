import { useEffect, useState } from 'react';
import type { StoredManifest } from '../content/index.ts';
import type { LibraryItem, SyncRuntime } from '../sync/index.ts';
import { listen, TypedEventEmitter } from '../wire/index.ts';
import { pagePeer } from './usePeerNode.ts';

/** The page's sync runtime, opened on first use: Automerge's WASM stays off the first paint. */
export function syncReady(): Promise<SyncRuntime> {
  return pagePeer.sync();
}

/** Puts a stored item in this agent's libraries (see `SyncRuntime.addItem`). */
export function addToLibrary(
  manifest: StoredManifest,
  options: { metaDoc?: string | undefined; title?: string | undefined } = {},
): Promise<void> {
  return pagePeer.addToLibrary(manifest, {
    ...(options.metaDoc ? { metaDoc: options.metaDoc } : {}),
    ...(options.title ? { title: options.title } : {}),
  });
}

/** One subscription to the libraries for the whole page, shared by every row. */
let entries: Record<string, LibraryItem> = {};
const entriesChanged = new TypedEventEmitter<{ change: CustomEvent<void> }>();
let watching = false;

function watchLibrary(): void {
  if (watching) return;
  watching = true;
  void syncReady().then((sync) => {
    const update = () => {
      entries = sync.libraries.entries();
      entriesChanged.safeDispatchEvent('change');
    };
    sync.libraries.onChange(update);
    update();
  });
}

/** This agent's library entries (both libraries) by hash, kept current (empty until sync has opened). */
export function useLibraryEntries(): Record<string, LibraryItem> {
  const [current, setCurrent] = useState(entries);
  useEffect(() => {
    const update = () => setCurrent(entries);
    const unsubscribe = listen(entriesChanged, 'change', update);
    watchLibrary();
    update();
    return unsubscribe;
  }, []);
  return current;
}
