/**
 * automerge-repo's storage on the filesystem for a Node peer (a doorway), the on-disk layout
 * of `@automerge/automerge-repo-storage-nodefs` (`<dir>/<key[0][0..2]>/<key[0][2..]>/<rest…>`,
 * one file per key), so a directory written by that adapter reads the same. What it adds:
 *  - crash safety: each chunk is written whole to a file in `<dir>.writing/`, flushed, then
 *    renamed into place, so a process killed mid-write leaves the old chunk or the new one,
 *    never part of one (NodeFS writes in place, which can leave a torn chunk that fails the
 *    document's load);
 *  - bounds: a chunk over {@link MAX_CHUNK_BYTES} is refused before it is read, and nothing is
 *    kept in memory (NodeFS keeps every chunk it ever saved in a cache);
 *  - keys are checked: a part that is empty, `.`, `..` or holds a path separator is refused.
 * Passes the document storage acceptance suite (`doc-storage-tests.ts`, automerge-repo's), as the
 * page's IndexedDB adapter does.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, open, readdir, rename, rm, unlink } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import type { Chunk, StorageAdapterInterface, StorageKey } from '@automerge/automerge-repo/slim';
import { SyncError } from './errors.ts';

/** The largest chunk read: a description document is kilobytes; a library, some megabytes. */
export const MAX_CHUNK_BYTES = 64 * 1024 * 1024;

/** A stored chunk over the cap, or a key that would leave the directory. */
export class DocStorageError extends SyncError.named('DocStorageError') {}

const isMissing = (error: unknown) => (error as NodeJS.ErrnoException).code === 'ENOENT';
const notDir = (error: unknown) => (error as NodeJS.ErrnoException).code === 'ENOTDIR';

function checkKey(key: StorageKey): void {
  for (const part of key) {
    if (part === '' || part === '.' || part === '..' || /[/\\\0]/.test(part)) {
      throw new DocStorageError(
        `The storage key ${JSON.stringify(key)} has a part that is not a plain name; ` +
          'keys are document ids, hashes and the names automerge-repo gives them.',
      );
    }
  }
}

export class FsDocStorage implements StorageAdapterInterface {
  readonly #dir: string;
  readonly #writing: string;

  private constructor(dir: string) {
    this.#dir = dir;
    this.#writing = `${dir}.writing`;
  }

  /** Opens the storage in `dir`, dropping what a write cut short left behind. */
  static async open(dir: string): Promise<FsDocStorage> {
    const storage = new FsDocStorage(dir);
    await rm(storage.#writing, { recursive: true, force: true });
    await mkdir(storage.#writing, { recursive: true, mode: 0o700 });
    return storage;
  }

  #path(key: StorageKey): string {
    checkKey(key);
    const [first = '', ...rest] = key;
    return join(this.#dir, first.slice(0, 2), first.slice(2), ...rest);
  }

  async #read(path: string): Promise<Uint8Array | undefined> {
    let file: Awaited<ReturnType<typeof open>>;
    try {
      file = await open(path, 'r');
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
    try {
      const { size } = await file.stat();
      if (size > MAX_CHUNK_BYTES) {
        throw new DocStorageError(
          `The stored chunk ${path} is ${size} bytes, over the cap of ${MAX_CHUNK_BYTES}: it was ` +
            'not written by this peer. Move it away to load the rest of the document.',
        );
      }
      return new Uint8Array(await file.readFile());
    } finally {
      await file.close();
    }
  }

  async load(key: StorageKey): Promise<Uint8Array | undefined> {
    return this.#read(this.#path(key));
  }

  async save(key: StorageKey, data: Uint8Array): Promise<void> {
    const path = this.#path(key);
    const temp = join(this.#writing, randomUUID());
    try {
      const file = await open(temp, 'wx', 0o600);
      try {
        await file.writeFile(data);
        await file.datasync();
      } finally {
        await file.close();
      }
      await mkdir(join(path, '..'), { recursive: true, mode: 0o700 });
      await rename(temp, path);
    } catch (error) {
      await unlink(temp).catch(() => {});
      throw error;
    }
  }

  async remove(key: StorageKey): Promise<void> {
    try {
      await unlink(this.#path(key));
    } catch (error) {
      if (!isMissing(error)) throw error;
    }
  }

  async loadRange(prefix: StorageKey): Promise<Chunk[]> {
    const files = await walk(this.#path(prefix));
    return Promise.all(
      files.map(async (file) => {
        // The first key part is split in two directories: join them again.
        const [a = '', b = '', ...rest] = relative(this.#dir, file).split(sep);
        return { key: [a + b, ...rest], data: await this.#read(file) };
      }),
    );
  }

  async removeRange(prefix: StorageKey): Promise<void> {
    await rm(this.#path(prefix), { recursive: true, force: true });
  }
}

/** Every file under `dir` (none when it does not exist or is a file). */
async function walk(dir: string): Promise<string[]> {
  let entries: import('node:fs').Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (error) {
    if (isMissing(error) || notDir(error)) return [];
    throw error;
  }
  const nested = await Promise.all(
    entries.map((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)])),
  );
  return nested.flat();
}
