import type { Page } from '@playwright/test';

/**
 * Direct access to the content store's IndexedDB records from inside the page, for tests
 * that damage or count what is stored. Mirrors the schema in src/content/idb-backend.ts.
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

/** Every stored piece of the page's content store, committed or importing. */
export async function storedPieces(page: Page): Promise<Buffer[]> {
  const encoded = await page.evaluate(async (dbName) => {
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const request = indexedDB.open(dbName);
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
    const pieces = await new Promise<ArrayBuffer[]>((resolve, reject) => {
      const request = db.transaction('pieces').objectStore('pieces').getAll();
      request.onsuccess = () => resolve(request.result as ArrayBuffer[]);
      request.onerror = () => reject(request.error);
    });
    db.close();
    return pieces.map((buffer) => {
      const bytes = new Uint8Array(buffer);
      let text = '';
      for (let i = 0; i < bytes.length; i += 0x8000) {
        text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
      }
      return btoa(text);
    });
  }, CONTENT_DB);
  return encoded.map((b64) => Buffer.from(b64, 'base64'));
}

/** Whether any 32-byte stretch of `plain` (at any offset) occurs in any of `pieces`. */
export function sharesA32ByteStretch(plain: Buffer, pieces: Buffer[]): boolean {
  const W = 32;
  // Index every window of the plaintext by its first 8 bytes, then slide over the pieces.
  const starts = new Map<bigint, number[]>();
  for (let i = 0; i + W <= plain.length; i++) {
    const key = plain.readBigUInt64BE(i);
    const list = starts.get(key);
    if (list) list.push(i);
    else starts.set(key, [i]);
  }
  for (const piece of pieces) {
    for (let j = 0; j + W <= piece.length; j++) {
      const found = starts.get(piece.readBigUInt64BE(j));
      if (!found) continue;
      for (const i of found) {
        if (plain.compare(piece, j, j + W, i, i + W) === 0) return true;
      }
    }
  }
  return false;
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
