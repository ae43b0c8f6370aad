/**
 * Typed errors of backup and restore. Their messages reach the person unchanged, so each says
 * what happened and what to do, and each restore error says that nothing was changed.
 */
import { ElohimError } from '../wire/index.ts';

export class BackupError extends ElohimError.named('BackupError') {}

const UNCHANGED = 'Nothing was changed.';

/** The passphrase is too short to protect the identity in the file. */
export class WeakPassphraseError extends BackupError.named('WeakPassphraseError') {
  constructor(min: number) {
    super(`The passphrase needs at least ${min} characters. Choose a longer one.`);
  }
}

/** The file is not a backup of this app, or one it cannot read (the reason says which). */
export class BackupFormatError extends BackupError.named('BackupFormatError') {
  constructor(reason: string) {
    super(`This file is not a backup this app can restore: ${reason}. ${UNCHANGED}`);
  }
}

/** The file is larger than any backup this app makes. */
export class BackupTooLargeError extends BackupError.named('BackupTooLargeError') {
  constructor(bytes: number, max: number) {
    super(
      `This file is ${bytes} bytes; a backup is at most ${max}. Choose the backup file itself. ${UNCHANGED}`,
    );
  }
}

/**
 * The key the passphrase gives does not open the file: a wrong passphrase, or a file changed
 * since it was made (its header is authenticated too). AES-GCM cannot tell the two apart.
 */
export class WrongPassphraseError extends BackupError.named('WrongPassphraseError') {
  constructor() {
    super(
      `The passphrase does not open this backup, or the file was changed since it was made. Check the passphrase and try again. ${UNCHANGED}`,
    );
  }
}
