import { openDB } from 'idb';
import {
  type ContentStore,
  type ContentStoreOptions,
  DB_VERSION,
  openContentStore,
} from '../content/index.ts';

const KiB = 1024;
let opened = 0;

/**
 * A content store on fake-indexeddb for network tests: a fresh database named after `prefix`,
 * chunked above 64 KiB and rs above 256 KiB in 16 KiB chunks and pieces, hashed in-thread, with
 * neither Web Locks nor BroadcastChannel (a test runs in one "tab"). `options` overrides any of it.
 */
export function openTestStore(
  prefix: string,
  options: ContentStoreOptions = {},
): Promise<ContentStore> {
  return openContentStore({
    dbName: `${prefix}-${++opened}-${Date.now()}`,
    thresholds: { chunkedAbove: 64 * KiB, rsAbove: 256 * KiB },
    chunkSize: 16 * KiB,
    pieceSize: 16 * KiB,
    locks: null,
    hashing: 'inline',
    broadcast: false,
    ...options,
  });
}

/** How many records each of `stores` in the store's database holds, read straight from IndexedDB. */
export async function recordCounts<const S extends string>(
  store: ContentStore,
  stores: readonly S[],
): Promise<Record<S, number>> {
  // biome-ignore lint/suspicious/noExplicitAny: schema-free access to the same database
  const db = await openDB<any>(store.dbName, DB_VERSION);
  try {
    const counts = {} as Record<S, number>;
    for (const name of stores) counts[name] = await db.count(name);
    return counts;
  } finally {
    db.close();
  }
}
