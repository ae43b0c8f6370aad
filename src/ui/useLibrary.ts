import { useCallback, useEffect, useState } from 'react';
import {
  type ContentStore,
  isKept,
  openContentStore,
  type StoredManifest,
} from '../content/index.ts';
import { storeOptionsFromSearch } from './settings.ts';

export type LibraryState =
  | { status: 'opening' }
  | { status: 'failed'; error: unknown }
  /** `items`: the person's own (added or fetched); what is kept for others is not among them. */
  | { status: 'ready'; store: ContentStore; items: StoredManifest[] };

let storePromise: Promise<ContentStore> | undefined;

/** One store per page: React StrictMode mounts twice, IndexedDB should be opened once. */
function sharedStore(): Promise<ContentStore> {
  storePromise ??= openContentStore(storeOptionsFromSearch(location.search));
  return storePromise;
}

/**
 * The store and the person's library (what they added or fetched, not the copies kept for
 * others: `KeptForOthers` lists those), refreshed whenever the store changes (any tab).
 */
export function useLibrary(): LibraryState {
  const [state, setState] = useState<LibraryState>({ status: 'opening' });

  const refresh = useCallback(async (store: ContentStore) => {
    const items = (await store.list()).filter((item) => !isKept(item));
    setState({ status: 'ready', store, items });
  }, []);

  useEffect(() => {
    let live = true;
    let unsubscribe = () => {};
    sharedStore().then(
      (store) => {
        if (!live) return;
        const onChange = () => void refresh(store);
        store.addEventListener('change', onChange);
        unsubscribe = () => store.removeEventListener('change', onChange);
        void refresh(store);
      },
      (error: unknown) => live && setState({ status: 'failed', error }),
    );
    return () => {
      live = false;
      unsubscribe();
    };
  }, [refresh]);

  return state;
}
