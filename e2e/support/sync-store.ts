import { init, loadIncremental, toJS } from '@automerge/automerge';
import type { Page } from '@playwright/test';

/**
 * What the sync layer of a page stored, read straight from its IndexedDB: the automerge-repo
 * documents (`elohim-automerge` / `documents`, chunks keyed `[docId, kind, hash]`) and the
 * event log (`elohim-sync`). Mirrors the schemas of automerge-repo-storage-indexeddb and
 * src/sync/idb-event-log.ts.
 */

/** Every record of every store of `dbName`; byte values travel as base64. */
async function records(page: Page, dbName: string): Promise<Record<string, unknown[]>> {
  return page.evaluate(async (dbName) => {
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const request = indexedDB.open(dbName);
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
    const encode = (value: unknown): unknown => {
      if (value instanceof ArrayBuffer || ArrayBuffer.isView(value)) {
        const bytes =
          value instanceof ArrayBuffer
            ? new Uint8Array(value)
            : new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
        let text = '';
        for (let i = 0; i < bytes.length; i += 0x8000) {
          text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
        }
        return { base64: btoa(text) };
      }
      if (Array.isArray(value)) return value.map(encode);
      if (typeof value === 'object' && value !== null) {
        return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, encode(v)]));
      }
      return value;
    };
    const out: Record<string, unknown[]> = {};
    for (const name of db.objectStoreNames) {
      const rows = await new Promise<unknown[]>((resolve, reject) => {
        const request = db.transaction(name).objectStore(name).getAll();
        request.onsuccess = () => resolve(request.result);
        request.onerror = () => reject(request.error);
      });
      out[name] = rows.map(encode);
    }
    db.close();
    return out;
  }, dbName);
}

export interface StoredDocuments {
  /** The ids of the documents stored. */
  ids: string[];
  /** Every stored document, loaded from its chunks, as JSON. */
  text: string;
  /** The raw chunks (sync states included), for a byte search. */
  raw: Buffer[];
}

/** The automerge-repo documents in the page's storage. */
export async function storedDocuments(page: Page): Promise<StoredDocuments> {
  const rows = (await records(page, 'elohim-automerge')).documents ?? [];
  const chunks = new Map<string, Uint8Array[]>();
  const raw: Buffer[] = [];
  for (const row of rows as { key: string[]; binary: { base64: string } }[]) {
    const bytes = Buffer.from(row.binary.base64, 'base64');
    raw.push(bytes);
    const [id, kind] = row.key;
    if (!id || (kind !== 'snapshot' && kind !== 'incremental')) continue;
    chunks.set(id, [...(chunks.get(id) ?? []), bytes]);
  }
  const docs = [...chunks].map(([id, parts]) => {
    let doc = init<unknown>();
    for (const part of parts) doc = loadIncremental(doc, part);
    return { id, doc: toJS(doc) };
  });
  return { ids: [...chunks.keys()], text: JSON.stringify(docs), raw };
}

/** Everything in the page's event log (events received, documents named, cursors), as JSON. */
export async function storedEventLog(page: Page): Promise<string> {
  return JSON.stringify(await records(page, 'elohim-sync'));
}

/** The strings of `secrets` found in what the page's sync layer stored (none, hopefully). */
export async function secretsStored(page: Page, secrets: readonly string[]): Promise<string[]> {
  const docs = await storedDocuments(page);
  const log = await storedEventLog(page);
  return secrets.filter(
    (s) =>
      docs.ids.includes(s) ||
      docs.text.includes(s) ||
      log.includes(s) ||
      docs.raw.some((bytes) => bytes.includes(s)),
  );
}
