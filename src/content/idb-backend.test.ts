import 'fake-indexeddb/auto';
import { openDB } from 'idb';
import { describe, expect, it } from 'vitest';
import { pseudoRandomBytes } from '../test-support/bytes.ts';
import { runContentStoreTests, TEST_OPTIONS } from './content-store-tests.ts';
import { DB_VERSION, isKept, openContentStore, type StoredManifest } from './index.ts';

let counter = 0;

runContentStoreTests('IndexedDB', async () => {
  const dbName = `acceptance-${++counter}-${Date.now()}`;
  return {
    open: (options) => openContentStore({ ...options, dbName, locks: null }),
    async corruptPiece(m, shard, piece, bytes) {
      // biome-ignore lint/suspicious/noExplicitAny: schema-free access, as the e2e tamperer has
      const db = await openDB<any>(dbName, DB_VERSION);
      await db.put('pieces', bytes.slice().buffer, [m.storage_key, shard, piece]);
      db.close();
    },
    async cleanup() {
      indexedDB.deleteDatabase(dbName);
    },
  };
});

describe('profiles from before origins were recorded', () => {
  it('a blob whose manifest records no origin counts as the person’s own', async () => {
    const dbName = `legacy-${Date.now()}`;
    const store = await openContentStore({ ...TEST_OPTIONS, dbName, locks: null });
    const m = await store.put(pseudoRandomBytes(40 * 1024, 31));
    // As an older version wrote it: no `origin`.
    // biome-ignore lint/suspicious/noExplicitAny: schema-free access, as the e2e tamperer has
    const db = await openDB<any>(dbName, DB_VERSION);
    const { origin: _o, ...legacy } = m;
    await db.put('manifests', legacy);
    db.close();
    const read = await store.manifest(m.blob_hash);
    expect(read?.origin).toBeUndefined();
    expect(isKept(read as StoredManifest)).toBe(false);
    // Never let go of as a copy kept for others, never claimed (there is nothing to claim).
    expect(await store.release(m.blob_hash)).toBe(false);
    expect(await store.claim(m.blob_hash)).toBeUndefined();
    expect(await store.has(m.blob_hash)).toBe(true);
    store.close();
    indexedDB.deleteDatabase(dbName);
  });
});
