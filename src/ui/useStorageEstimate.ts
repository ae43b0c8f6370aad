import { useCallback, useEffect, useState } from 'react';
import type { ContentStore } from '../content/index.ts';

export interface StorageEstimate {
  /** Bytes this origin uses, and may use, per the browser; undefined where it does not say. */
  usage?: number;
  quota?: number;
  /** Whether the browser promised not to evict this origin's data; undefined if unknown. */
  persisted?: boolean;
  /** The answer to the last "keep my files" request in this tab. */
  persistAnswer?: 'granted' | 'denied';
  /** Storage Manager absent (old browser, insecure origin). */
  unsupported?: boolean;
}

/**
 * The browser's view of our storage, refreshed whenever the store changes (a put, a remove,
 * a fetch, in any tab) so the meter follows what the person just did.
 */
export function useStorageEstimate(store: ContentStore | undefined) {
  const [estimate, setEstimate] = useState<StorageEstimate>({});

  const refresh = useCallback(async () => {
    const storage = navigator.storage;
    if (!storage?.estimate) {
      setEstimate((e) => ({ ...e, unsupported: true }));
      return;
    }
    const [{ usage, quota }, persisted] = await Promise.all([
      storage.estimate(),
      storage.persisted?.() ?? Promise.resolve(undefined),
    ]);
    setEstimate((e) => ({ ...e, usage, quota, persisted }));
  }, []);

  useEffect(() => {
    void refresh();
    if (!store) return;
    const onChange = () => void refresh();
    store.addEventListener('change', onChange);
    return () => store.removeEventListener('change', onChange);
  }, [store, refresh]);

  /** Asks for persistent storage; Chromium decides at once from how much the site is used. */
  const persist = useCallback(async () => {
    const granted = (await navigator.storage?.persist?.()) ?? false;
    setEstimate((e) => ({ ...e, persistAnswer: granted ? 'granted' : 'denied' }));
    await refresh();
  }, [refresh]);

  return { estimate, refresh, persist };
}
