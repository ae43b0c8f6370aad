/**
 * What this browser keeps for others (`keptForOthers`) and the person's settings for it
 * (keep or not, the cap), as React state that follows the store and the settings in every tab.
 */
import { useEffect, useState, useSyncExternalStore } from 'react';
import { type ContentStore, type KeptForOthers, keptForOthers } from '../content/index.ts';
import { listen, TypedEventEmitter } from '../wire/index.ts';
import {
  keepForOthers,
  keptCapBytes,
  setKeepForOthers,
  setKeptCapBytes,
} from './replicaSettings.ts';

export interface KeepingSettings {
  /** Whether copies other peers ask for are kept. */
  keep: boolean;
  /** The most bytes kept for others. */
  capBytes: number;
}

const changed = new TypedEventEmitter<{ change: CustomEvent<void> }>();
let current: KeepingSettings | undefined;

function read(): KeepingSettings {
  const next = { keep: keepForOthers(), capBytes: keptCapBytes() };
  if (current?.keep !== next.keep || current.capBytes !== next.capBytes) current = next;
  return current;
}

function subscribe(listener: () => void): () => void {
  const here = listen(changed, 'change', listener);
  // Another tab changed them (localStorage fires `storage` in the other tabs only).
  window.addEventListener('storage', listener);
  return () => {
    here();
    window.removeEventListener('storage', listener);
  };
}

/** The settings, and setters that save them and tell every component of this tab. */
export function useKeepingSettings(): KeepingSettings & {
  setKeep: (on: boolean) => void;
  setCapBytes: (bytes: number) => void;
} {
  const settings = useSyncExternalStore(subscribe, read);
  return {
    ...settings,
    setKeep: (on) => {
      setKeepForOthers(on);
      changed.safeDispatchEvent('change');
    },
    setCapBytes: (bytes) => {
      setKeptCapBytes(bytes);
      changed.safeDispatchEvent('change');
    },
  };
}

/** What is kept for others now, read again whenever the store changes (any tab). */
export function useKeptForOthers(store: ContentStore): KeptForOthers | undefined {
  const [kept, setKept] = useState<KeptForOthers>();
  useEffect(() => {
    let live = true;
    const refresh = () =>
      void keptForOthers(store).then(
        (k) => live && setKept(k),
        () => {},
      );
    store.addEventListener('change', refresh);
    refresh();
    return () => {
      live = false;
      store.removeEventListener('change', refresh);
    };
  }, [store]);
  return kept;
}
