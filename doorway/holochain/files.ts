import { chmodSync, closeSync, mkdirSync, openSync } from 'node:fs';

/**
 * The trust layer's files hold secrets (capability secrets and app tokens in the database, the
 * emulator's signing seed, the session-token key): only the doorway's user may read them. Modes
 * are set with chmod, so the umask does not matter and files from older versions are closed too.
 */

/** Makes `dir` (and parents) and sets it to 0700, also when it already existed. */
export function makePrivateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
}

/** Creates `file` empty if missing; either way sets it to 0600. */
export function makePrivateFile(file: string): void {
  closeSync(openSync(file, 'a', 0o600));
  chmodSync(file, 0o600);
}

/** Sets each of `files` that exists to 0600. */
export function restrictFiles(...files: string[]): void {
  for (const file of files) {
    try {
      chmodSync(file, 0o600);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
}
