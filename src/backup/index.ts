/**
 * Encrypted backup and restore of a person's identity (docs/design.md §2, "Backup";
 * README.md beside this file).
 *
 *   // back up
 *   const payload = await collectBackup({ contacts, items });
 *   const text = await sealBackup(payload, passphrase, { onProgress });   // the file's text
 *
 *   // restore: check the file, open it, stage it, reload every tab
 *   parseBackup(await readBackupFile(file));                  // a wrong file, said at once
 *   await stageRestore(await openBackup(text, passphrase));   // WrongPassphraseError: nothing changed
 *   announceRestore();
 *   // at every start, before the key is read:
 *   await applyStagedRestore();
 */
export { collectBackup, readBackupFile } from './collect.ts';
export {
  BackupError,
  BackupFormatError,
  BackupTooLargeError,
  WeakPassphraseError,
  WrongPassphraseError,
} from './errors.ts';
export {
  DEFAULT_KDF,
  KDF_BOUNDS,
  type KdfParams,
  MAX_FILE_BYTES,
  MIN_PASSPHRASE,
  openBackup,
  parseBackup,
  sealBackup,
} from './format.ts';
export {
  type BackupContact,
  type BackupItem,
  type BackupPayload,
  payloadFromJson,
  payloadToJson,
} from './payload.ts';
export { type LinkLike, missingLinks } from './relink.ts';
export {
  announceRestore,
  applyStagedRestore,
  onRestoreAnnounced,
  PROFILE_ONLY_KEYS,
  pendingRestore,
  RESTORE_CONTACTS_KEY,
  RESTORE_ITEMS_KEY,
  stageRestore,
} from './stage.ts';
