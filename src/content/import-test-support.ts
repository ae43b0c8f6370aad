/**
 * What the IndexedDB store tests share: stores that are closed after each test, raw access to
 * their databases, a source/destination pair. Re-exports the backend-free helpers.
 */
import 'fake-indexeddb/auto';
import { openDB } from 'idb';
import { afterEach } from 'vitest';
import {
  type ContentStore,
  type ContentStoreOptions,
  DB_VERSION,
  type ImportSession,
  openContentStore,
  type StoredManifest,
} from './index.ts';
import { PIECE, type Piece, remote, SMALL } from './test-helpers.ts';

export * from './test-helpers.ts';

/** Deterministic Fisher–Yates. */
export function shuffle<T>(items: readonly T[], seed = 7): T[] {
  const out = [...items];
  let x = seed;
  for (let i = out.length - 1; i > 0; i--) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    const j = x % (i + 1);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

let dbCounter = 0;
export const stores: ContentStore[] = [];
/** A fresh store (own database) with the small test sizes; closed after the test. */
export async function open(extra: ContentStoreOptions = {}): Promise<ContentStore> {
  const store = await openContentStore({
    dbName: `content-test-${++dbCounter}-${Date.now()}`,
    thresholds: SMALL,
    chunkSize: PIECE,
    pieceSize: PIECE,
    locks: null,
    ...extra,
  });
  stores.push(store);
  return store;
}
afterEach(() => {
  for (const s of stores.splice(0)) s.close();
});

/** A second connection to a store's database, as a test (or the e2e tamperer) would use. */
export async function raw(name: string) {
  // biome-ignore lint/suspicious/noExplicitAny: schema-free access to the same database
  return openDB<any>(name, DB_VERSION);
}

const TABLES = ['manifests', 'pieces', 'pending'] as const;
type Table = (typeof TABLES)[number];
/** The tables counted with the holdings (partial shard imports) too. */
export const WITH_HOLDINGS = [...TABLES, 'holdings'] as const;

/** Rows per table of a store's database (by default those a put or import writes). */
export async function counts<T extends string = Table>(
  name: string,
  tables: readonly T[] = TABLES as readonly Table[] as readonly T[],
): Promise<Record<T, number>> {
  const db = await raw(name);
  const r = {} as Record<T, number>;
  for (const t of tables) r[t] = await db.count(t);
  db.close();
  return r;
}
export const EMPTY = { manifests: 0, pieces: 0, pending: 0 };

/**
 * Pieces a copy imported from peers stores: every piece, but of rs-4-7 the data shards only
 * (its parity is derived) and the `parityCame` parity pieces that arrived.
 */
export function importedPieces(m: StoredManifest, parityCame = 0): number {
  if (m.encoding !== 'rs-4-7') return m.piece_hashes.flat().length;
  return m.piece_hashes.slice(0, m.data_shards).flat().length + parityCame;
}

/** What a peer would send: every needed piece, read (verified) from the source store. */
export async function piecesFrom(src: ContentStore, m: StoredManifest, session: ImportSession) {
  const out: Piece[] = [];
  for (const { shard, piece } of session.needed) {
    out.push({ shard, piece, bytes: await src.readPiece(m.blob_hash, shard, piece) });
  }
  return out;
}

/** A source store with `data` in it, and an empty destination store. */
export async function pair(data: Uint8Array, srcOpts: ContentStoreOptions = {}) {
  const src = await open(srcOpts);
  const dst = await open();
  const m = await src.put(data, { name: 'x.bin', mime: 'application/x-test', authorId: 'agent' });
  return { src, dst, m };
}

export async function writeAll(session: ImportSession, pieces: readonly Piece[]) {
  for (const p of pieces) await session.writePiece(p.shard, p.piece, p.bytes);
}

/** {@link pair}, with an import of `data` begun on the destination and the pieces it needs. */
export async function importing(data: Uint8Array) {
  const { src, dst, m } = await pair(data);
  const session = await dst.beginImport(remote(m));
  const pieces = await piecesFrom(src, m, session);
  return { src, dst, m, session, pieces };
}
