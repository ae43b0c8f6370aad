/**
 * What goes into a backup of the running profile: its identity key and own family key (read
 * from IndexedDB), its settings, and the contacts and items the UI lists (passed in: the UI
 * already holds them, from the trust layer and the store).
 */
import { identityOf, storedPersonKey } from '../identity/index.ts';
import { loadOwnClusterKey } from '../reach/index.ts';
import { BackupError, BackupTooLargeError } from './errors.ts';
import { MAX_FILE_BYTES } from './format.ts';
import type { BackupContact, BackupItem, BackupPayload } from './payload.ts';
import { collectSettings } from './stage.ts';

export interface CollectOptions {
  contacts: BackupContact[];
  /**
   * The library's items; `private` ones are left out (see docs/design.md §2, "Backup") unless
   * `withPrivate` (pairing: the person's own device receives and opens them).
   */
  items: BackupItem[];
  withPrivate?: boolean;
  identityDb?: string;
  keysDb?: string;
  storage?: Storage;
}

export async function collectBackup(options: CollectOptions): Promise<BackupPayload> {
  // The person's agent key: a paired device's, else this profile's own key.
  const identity = await storedPersonKey(options.identityDb);
  if (!identity)
    throw new BackupError('This browser has no identity yet. Reload the page and try again.');
  const agent = identityOf(identity).me;
  const own = await loadOwnClusterKey(options.keysDb ? { dbName: options.keysDb } : {});
  const cluster = own && {
    id: own.id,
    key: new Uint8Array(await crypto.subtle.exportKey('raw', own.key)),
  };
  return {
    identity,
    agent,
    ...(cluster ? { cluster } : {}),
    contacts: options.contacts,
    settings: collectSettings(options.storage),
    items: options.withPrivate
      ? options.items
      : options.items.filter((item) => item.reach !== 'private'),
  };
}

/** The text of a chosen backup file, refused by its size before it is read. */
export async function readBackupFile(file: Blob): Promise<string> {
  if (file.size > MAX_FILE_BYTES) throw new BackupTooLargeError(file.size, MAX_FILE_BYTES);
  return file.text();
}
