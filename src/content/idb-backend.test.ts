import 'fake-indexeddb/auto';
import { openDB } from 'idb';
import { runContentStoreTests } from './content-store-tests.ts';
import { DB_VERSION, openContentStore } from './index.ts';

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
