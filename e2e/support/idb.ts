import type { Page } from '@playwright/test';

/**
 * Direct access to the content store's IndexedDB records from inside the page, for tests
 * that damage or count what is stored. Mirrors the schema in src/content/store.ts.
 */
export const CONTENT_DB = 'elohim-content';

export async function countRecords(page: Page): Promise<Record<string, number>> {
  return page.evaluate(async (dbName) => {
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const request = indexedDB.open(dbName);
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
    const counts: Record<string, number> = {};
    for (const name of db.objectStoreNames) {
      counts[name] = await new Promise<number>((resolve, reject) => {
        const request = db.transaction(name).objectStore(name).count();
        request.onsuccess = () => resolve(request.result);
        request.onerror = () => reject(request.error);
      });
    }
    db.close();
    return counts;
  }, CONTENT_DB);
}

/** Bytes of every piece stored, committed or still importing: what reached this browser. */
export async function storedPieceBytes(page: Page): Promise<number> {
  return page.evaluate(async (dbName) => {
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const request = indexedDB.open(dbName);
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
    let total = 0;
    await new Promise<void>((resolve, reject) => {
      const request = db.transaction('pieces').objectStore('pieces').openCursor();
      request.onsuccess = () => {
        const cursor = request.result;
        if (!cursor) return resolve();
        total += (cursor.value as ArrayBuffer).byteLength;
        cursor.continue();
      };
      request.onerror = () => reject(request.error);
    });
    db.close();
    return total;
  }, CONTENT_DB);
}

type Damage =
  | { kind: 'delete-shards'; shards: number[] }
  | { kind: 'flip-byte'; shard: number; piece: number; offset: number };

/** Deletes every piece of the given shards, or flips one byte of one piece, of a stored blob. */
export async function damageBlob(page: Page, hash: string, damage: Damage): Promise<number> {
  return page.evaluate(
    async ({ dbName, hash, damage }) => {
      const db = await new Promise<IDBDatabase>((resolve, reject) => {
        const request = indexedDB.open(dbName);
        request.onsuccess = () => resolve(request.result);
        request.onerror = () => reject(request.error);
      });
      const done = (tx: IDBTransaction) =>
        new Promise<void>((resolve, reject) => {
          tx.oncomplete = () => resolve();
          tx.onerror = () => reject(tx.error);
        });
      const get = <T>(request: IDBRequest<T>) =>
        new Promise<T>((resolve, reject) => {
          request.onsuccess = () => resolve(request.result);
          request.onerror = () => reject(request.error);
        });
      const manifest = await get(db.transaction('manifests').objectStore('manifests').get(hash));
      if (!manifest) throw new Error(`no manifest for ${hash}`);
      const key: string = manifest.storage_key;
      const tx = db.transaction('pieces', 'readwrite');
      const pieces = tx.objectStore('pieces');
      let touched = 0;
      if (damage.kind === 'delete-shards') {
        for (const shard of damage.shards) {
          const range = IDBKeyRange.bound([key, shard, 0], [key, shard, Number.MAX_SAFE_INTEGER]);
          touched += await get(pieces.count(range));
          pieces.delete(range);
        }
      } else {
        const pieceKey = [key, damage.shard, damage.piece];
        const value = await get(pieces.get(pieceKey));
        if (!value) throw new Error(`no piece ${pieceKey.join('/')}`);
        const bytes = new Uint8Array(
          value instanceof ArrayBuffer ? value.slice(0) : value.buffer.slice(0),
        );
        bytes[damage.offset] = (bytes[damage.offset] ?? 0) ^ 0xff;
        pieces.put(value instanceof ArrayBuffer ? bytes.buffer : bytes, pieceKey);
        touched = 1;
      }
      await done(tx);
      db.close();
      return touched;
    },
    { dbName: CONTENT_DB, hash, damage },
  );
}
