/**
 * Applying a restore safely (docs/design.md §2, "Backup"). The page's node, trust session and
 * sealing all run with the key loaded at start, and several tabs share one node, so a restore
 * is never written under a running page: {@link stageRestore} stages the opened backup as one
 * record, {@link announceRestore} makes every tab of the app reload, and the next start runs
 * {@link applyStagedRestore} before anything reads the key. The identity key is replaced last,
 * together with dropping the stage (one transaction, src/identity): a start interrupted
 * half-way applies the stage again.
 */
import {
  commitStagedAgent,
  commitStagedIdentity,
  stagedIdentity,
  stageIdentity,
  storedAgentKey,
  storedDeviceKey,
} from '../identity/index.ts';
import { logger } from '../wire/index.ts';
import type { BackupContact, BackupItem, BackupPayload } from './payload.ts';

const log = logger('backup');

/** Items of a restored backup not fetched back yet (`RestoreQueue` in the UI). */
export const RESTORE_ITEMS_KEY = 'elohim-restore-items';
/** Contacts of a restored backup whose trust links are not checked yet. */
export const RESTORE_CONTACTS_KEY = 'elohim-restore-contacts';
/**
 * `localStorage` keys that belong to this profile, not to the person: the ids of this
 * profile's library documents (src/sync's `SHARED_LIBRARY_KEY`, `OWN_LIBRARY_KEY`,
 * `CHECKED_LIBRARY_KEY`; a test keeps them in step), the devices it has told the person about
 * (src/ui's deviceNotice.ts, whose test checks they are here) and the restore's own bookkeeping.
 */
export const PROFILE_ONLY_KEYS = [
  'elohim-library-doc',
  'elohim-library-own-doc',
  'elohim-library-checked',
  'elohim-devices-since',
  'elohim-devices-seen',
  RESTORE_ITEMS_KEY,
  RESTORE_CONTACTS_KEY,
];
/** Every tab of the app listens here and reloads when a restore is staged. */
export const RESTORE_CHANNEL = 'elohim-restore';

/** The app's settings worth carrying to another profile: its `elohim-*` keys. */
export function collectSettings(storage: Storage = localStorage): Record<string, string> {
  const settings: Record<string, string> = {};
  for (let i = 0; i < storage.length; i++) {
    const key = storage.key(i);
    if (!key?.startsWith('elohim-') || PROFILE_ONLY_KEYS.includes(key)) continue;
    const value = storage.getItem(key);
    if (value !== null && value.length <= 16 * 1024) settings[key] = value;
  }
  return settings;
}

/**
 * Stages an opened (and checked) backup; nothing of the running profile changes yet. `pair`:
 * this profile keeps its own device key and takes the payload's key as its agent key (pairing,
 * src/pairing) rather than becoming that key.
 */
export function stageRestore(
  payload: BackupPayload,
  dbName?: string,
  options: { pair?: boolean } = {},
): Promise<void> {
  return stageIdentity(options.pair ? { ...payload, pair: true } : payload, dbName);
}

export interface ApplyOptions {
  identityDb?: string;
  keysDb?: string;
  storage?: Storage;
}

function isPayload(v: unknown): v is BackupPayload {
  const p = v as BackupPayload | undefined;
  return (
    p?.identity instanceof Uint8Array &&
    typeof p.agent === 'string' &&
    Array.isArray(p.items) &&
    Array.isArray(p.contacts) &&
    typeof p.settings === 'object'
  );
}

/**
 * Applies a staged restore, if there is one (call before the app reads its key); returns the
 * restored agent. Settings, the items and contacts to bring back and the family key are
 * written first, the identity key last with the stage dropped in the same transaction.
 */
export async function applyStagedRestore(options: ApplyOptions = {}): Promise<string | undefined> {
  const staged = await stagedIdentity(options.identityDb);
  if (staged === undefined) return undefined;
  if (!isPayload(staged)) {
    // Only this app writes it, after checking every field: a record it cannot read is dropped
    // rather than applied, and the identity stays.
    log.error('a staged restore is malformed; it is dropped and the identity stays');
    const current = await storedDeviceKey(options.identityDb);
    if (current) await commitStagedIdentity(current, options.identityDb);
    return undefined;
  }
  const storage = options.storage ?? localStorage;
  const pair = (staged as { pair?: unknown }).pair === true;
  const current = pair
    ? await storedAgentKey(options.identityDb)
    : await storedDeviceKey(options.identityDb);
  const same = current !== undefined && equal(current, staged.identity);
  if (!same) {
    // Another agent: this profile's library documents name the old one; the restored agent
    // starts fresh ones, and its items come back through the restore queue.
    for (const key of PROFILE_ONLY_KEYS) storage.removeItem(key);
  }
  for (const [key, value] of Object.entries(staged.settings)) storage.setItem(key, value);
  storage.setItem(RESTORE_ITEMS_KEY, JSON.stringify(staged.items satisfies BackupItem[]));
  storage.setItem(RESTORE_CONTACTS_KEY, JSON.stringify(staged.contacts satisfies BackupContact[]));
  if (staged.cluster) {
    const { restoreOwnClusterKey } = await import('../reach/index.ts');
    await restoreOwnClusterKey(
      { id: staged.cluster.id, raw: staged.cluster.key },
      options.keysDb ? { dbName: options.keysDb } : {},
    );
  }
  if (pair) {
    await commitStagedAgent(staged.identity, options.identityDb);
    log('paired: this device now speaks for %s', staged.agent);
  } else {
    await commitStagedIdentity(staged.identity, options.identityDb);
    log('restored the identity of %s', staged.agent);
  }
  return staged.agent;
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && a.every((x, i) => x === b[i]);
}

/** The items and contacts a restore left to bring back (empty when there is none). */
export function pendingRestore(storage: Storage = localStorage): {
  items: BackupItem[];
  contacts: BackupContact[];
} {
  const read = <T>(key: string): T[] => {
    try {
      const value = JSON.parse(storage.getItem(key) ?? '[]');
      return Array.isArray(value) ? value : [];
    } catch {
      return [];
    }
  };
  return {
    items: read<BackupItem>(RESTORE_ITEMS_KEY),
    contacts: read<BackupContact>(RESTORE_CONTACTS_KEY),
  };
}

/** Tells every tab of the app (this one included) that a restore is staged: they reload. */
export function announceRestore(): void {
  const channel = new BroadcastChannel(RESTORE_CHANNEL);
  channel.postMessage('reload');
  channel.close();
}

/** Calls `onRestore` when another tab staged a restore; returns the unsubscribe. */
export function onRestoreAnnounced(onRestore: () => void): () => void {
  const channel = new BroadcastChannel(RESTORE_CHANNEL);
  channel.onmessage = (event) => {
    if (event.data === 'reload') onRestore();
  };
  return () => channel.close();
}
