/**
 * The documents' storage: one acceptance suite (automerge-repo's, `doc-storage-tests.ts`),
 * passed by the page's (IndexedDB) and the doorway's (files, `FsDocStorage`) alike; then what the files add:
 * a write cut short never shows, an oversized chunk is refused unread, a key cannot leave the
 * directory.
 */
import 'fake-indexeddb/auto';
import { mkdir, mkdtemp, readdir, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IndexedDBStorageAdapter } from '@automerge/automerge-repo-storage-indexeddb';
import { NodeFSStorageAdapter } from '@automerge/automerge-repo-storage-nodefs';
import { afterEach, describe, expect, it } from 'vitest';
import { runDocStorageTests } from './doc-storage-tests.ts';
import { DocStorageError, FsDocStorage, MAX_CHUNK_BYTES } from './fs-storage.ts';

let n = 0;

runDocStorageTests('files (FsDocStorage)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'elohim-fs-storage-'));
  return {
    open: () => FsDocStorage.open(join(dir, 'automerge')),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
});

runDocStorageTests('IndexedDB', async () => ({
  open: async () => new IndexedDBStorageAdapter(`fs-storage-test-${++n}-${Date.now()}`),
  cleanup: async () => {},
}));

describe('FsDocStorage', () => {
  const dirs: string[] = [];
  afterEach(async () => {
    for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
  });
  async function open() {
    const dir = await mkdtemp(join(tmpdir(), 'elohim-fs-storage-'));
    dirs.push(dir);
    const base = join(dir, 'automerge');
    return { base, storage: await FsDocStorage.open(base) };
  }
  const KEY = ['3DnVbL1JhBo3kBqrKSyKyiAF7QK', 'incremental', 'abc'];

  it('reads what NodeFS wrote: the same layout', async () => {
    const { base, storage } = await open();
    await new NodeFSStorageAdapter(base).save(KEY, new Uint8Array([1, 2, 3]));
    expect(await storage.load(KEY)).toEqual(new Uint8Array([1, 2, 3]));
    expect(await storage.loadRange([KEY[0] as string])).toEqual([
      { key: KEY, data: new Uint8Array([1, 2, 3]) },
    ]);
  });

  it('a write cut short never shows: the old chunk stays, the leftover is dropped at open', async () => {
    const { base, storage } = await open();
    await storage.save(KEY, new Uint8Array([1, 2, 3]));
    // What a process killed while writing leaves: a partial file where writes are made.
    await writeFile(join(`${base}.writing`, 'torn'), new Uint8Array([9, 9]));
    const again = await FsDocStorage.open(base);
    expect(await again.load(KEY)).toEqual(new Uint8Array([1, 2, 3]));
    expect(await readdir(`${base}.writing`)).toEqual([]);
    expect(await again.loadRange([KEY[0] as string])).toHaveLength(1);
  });

  it('refuses a chunk over the cap before reading it', async () => {
    const { base, storage } = await open();
    await storage.save(KEY, new Uint8Array([1]));
    const first = KEY[0] as string;
    const file = join(base, first.slice(0, 2), first.slice(2), 'incremental', 'abc');
    await truncate(file, MAX_CHUNK_BYTES + 1); // sparse: no disk used
    await expect(storage.load(KEY)).rejects.toThrow(DocStorageError);
    await expect(storage.load(KEY)).rejects.toThrow(/over the cap/);
  });

  it('refuses keys that would leave its directory', async () => {
    const { base, storage } = await open();
    await mkdir(base, { recursive: true });
    for (const key of [['..', 'x'], ['abcd', '..', '..', 'x'], ['ab/cd'], ['abcd', '']]) {
      await expect(storage.save(key, new Uint8Array([1]))).rejects.toThrow(DocStorageError);
      await expect(storage.load(key)).rejects.toThrow(DocStorageError);
    }
  });
});
