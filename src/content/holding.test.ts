import 'fake-indexeddb/auto';
import { openDB } from 'idb';
import { describe, expect, it } from 'vitest';
import { pseudoRandomBytes } from '../test-support/bytes.ts';
import {
  counts,
  EMPTY,
  importedPieces,
  open,
  PIECE,
  piecesOf,
  readAll,
  remote,
  SMALL,
  sha,
  stores,
  WITH_HOLDINGS,
} from './import-test-support.ts';
import {
  type ContentChange,
  ImportIncompleteError,
  InvalidManifestError,
  ManifestMismatchError,
  NotFoundError,
  openContentStore,
  StorageQuotaError,
} from './index.ts';

/** A database with no rows at all, holdings included. */
const NOTHING_HELD = { ...EMPTY, holdings: 0 };

/** rs-4-7 of 17 pieces per shard, the last one short. */
const SIZE = 4 * 16 * PIECE + 4 * 1000 + 3;

async function source(size = SIZE) {
  const src = await open();
  const data = pseudoRandomBytes(size, 3);
  const m = await src.put(data, { name: 'x.bin' });
  expect(m.encoding).toBe('rs-4-7');
  return { src, data, m };
}

/** All 35 ways to pick 4 of the 7 shards. */
function fourOfSeven(): number[][] {
  const out: number[][] = [];
  const pick = (from: number, chosen: number[]) => {
    if (chosen.length === 4) out.push(chosen);
    else for (let s = from; s < 7; s++) pick(s + 1, [...chosen, s]);
  };
  pick(0, []);
  return out;
}

describe('an rs-4-7 blob imported from any 4 of its shards', () => {
  it.each(fourOfSeven().map((s) => [s.join(',')]))(
    'shards %s → the same blob, every shard rebuilt and checked',
    async (list) => {
      const shards = list.split(',').map(Number);
      const { src, data, m } = await source();
      const dst = await open();
      const session = await dst.beginImport(remote(m));
      for (const p of await piecesOf(src, m, shards)) {
        await session.writePiece(p.shard, p.piece, p.bytes);
      }
      expect(session.complete).toBe(true);
      expect(session.missing()).toEqual([]);
      const got = await session.commit();
      expect(got.blob_hash).toBe(m.blob_hash);
      expect(sha(await readAll(dst.get(m.blob_hash)))).toBe(sha(data));
      const report = await dst.repair(m.blob_hash);
      expect(report.repaired).toEqual([]);
      expect(report.unrecoverable).toEqual([]);
      // The data is stored, with the parity pieces that came; the rest of the parity is
      // derived. Every piece of every shard reads back verified and equal to the source's.
      const perShard = (m.piece_hashes[0] as string[]).length;
      const parityCame = shards.filter((s) => s >= m.data_shards).length * perShard;
      expect((await counts(dst.dbName, WITH_HOLDINGS)).pieces).toBe(importedPieces(m, parityCame));
      for (let s = 0; s < m.total_shards; s++) {
        for (let p = 0; p < perShard; p++) {
          expect(await dst.readPiece(m.blob_hash, s, p)).toEqual(
            await src.readPiece(m.blob_hash, s, p),
          );
        }
      }
    },
  );

  it('each stripe from different shards: complete once every stripe has 4', async () => {
    const { src, data, m } = await source();
    const dst = await open();
    const session = await dst.beginImport(remote(m));
    const stripes = (m.piece_hashes[0] as string[]).length;
    for (let j = 0; j < stripes; j++) {
      const four = fourOfSeven()[(j * 11) % 35] as number[];
      for (const s of four.slice(0, 3)) {
        await session.writePiece(s, j, await src.readPiece(m.blob_hash, s, j));
      }
    }
    expect(session.complete).toBe(false);
    // The data pieces of every stripe still short are what is missing.
    expect(session.missing().length).toBeGreaterThan(0);
    expect(session.missing().every((r) => r.shard < 4)).toBe(true);
    await expect(session.commit()).rejects.toBeInstanceOf(ImportIncompleteError);
    for (let j = 0; j < stripes; j++) {
      const s = (fourOfSeven()[(j * 11) % 35] as number[])[3] as number;
      await session.writePiece(s, j, await src.readPiece(m.blob_hash, s, j));
    }
    expect(session.complete).toBe(true);
    await session.commit();
    expect(sha(await readAll(dst.get(m.blob_hash)))).toBe(sha(data));
  });

  it('parity that rebuilds other data than the manifest says → ManifestMismatchError, nothing kept', async () => {
    const { src, m } = await source();
    const dst = await open();
    // A liar's manifest: parity shard 4 piece 0 is garbage, and its hash says so, so the
    // piece verifies on its own; only the rebuilt data piece can tell.
    const lie = remote(m);
    const garbage = pseudoRandomBytes(PIECE, 99);
    (lie.piece_hashes[4] as string[])[0] = sha(garbage);
    const session = await dst.beginImport(lie);
    await session.writePiece(4, 0, garbage);
    for (const p of await piecesOf(src, m, [1, 2, 3])) {
      await session.writePiece(p.shard, p.piece, p.bytes);
    }
    for (const p of await piecesOf(src, m, [0])) {
      if (p.piece > 0) await session.writePiece(p.shard, p.piece, p.bytes);
    }
    const error = await session.commit().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ManifestMismatchError);
    expect(error).toMatchObject({ field: 'piece_hashes', shardIndex: 0, pieceIndex: 0 });
    expect(await counts(dst.dbName, WITH_HOLDINGS)).toEqual(NOTHING_HELD);
  });
});

describe('shard holdings', () => {
  it('holds shards without the blob: served piece by piece, invisible to has/list/get', async () => {
    const { src, m } = await source();
    const dst = await open();
    const events: ContentChange[] = [];
    dst.addEventListener('change', (e) => events.push(e.detail));

    const session = await dst.beginShardImport(remote(m), [5]);
    expect(session.alreadyHeld).toBe(false);
    expect(session.needed).toHaveLength((m.piece_hashes[5] as string[]).length);
    expect(session.needed.every((r) => r.shard === 5)).toBe(true);
    await expect(session.writePiece(4, 0, new Uint8Array(PIECE))).rejects.toBeInstanceOf(
      RangeError,
    );
    for (const p of await piecesOf(src, m, [5]))
      await session.writePiece(p.shard, p.piece, p.bytes);
    expect(await dst.holding(m.blob_hash)).toBeUndefined(); // nothing visible before commit
    const holding = await session.commit();
    expect(holding?.shards.map((s) => s.index)).toEqual([5]);
    expect(holding?.manifest.shard_hashes).toEqual(m.shard_hashes);
    expect(events.map((e) => e.kind)).toEqual(['held']);

    expect(await dst.has(m.blob_hash)).toBe(false);
    expect(await dst.list()).toEqual([]);
    await expect(readAll(dst.get(m.blob_hash))).rejects.toBeInstanceOf(NotFoundError);
    expect(await dst.readPiece(m.blob_hash, 5, 2)).toEqual(await src.readPiece(m.blob_hash, 5, 2));
    await expect(dst.readPiece(m.blob_hash, 4, 0)).rejects.toBeInstanceOf(NotFoundError);
    await expect(dst.readPiece(m.blob_hash, 5, 999)).rejects.toBeInstanceOf(RangeError);
    const stats = await dst.stats();
    expect(stats).toMatchObject({ items: 0, heldBlobs: 1, heldBytes: m.shard_size });

    // A second shard joins the holding; a shard held already needs nothing.
    const more = await dst.beginShardImport(remote(m), [2, 5]);
    expect(more.shards).toEqual([2]);
    for (const p of await piecesOf(src, m, [2])) await more.writePiece(p.shard, p.piece, p.bytes);
    expect((await more.commit())?.shards.map((s) => s.index)).toEqual([2, 5]);
    expect((await dst.beginShardImport(remote(m), [5])).alreadyHeld).toBe(true);
    const perShard = (m.piece_hashes[0] as string[]).length;
    expect(await counts(dst.dbName, WITH_HOLDINGS)).toMatchObject({
      pieces: 2 * perShard,
      holdings: 1,
    });

    expect(await dst.dropShards(m.blob_hash, [5])).toEqual([5]);
    expect((await dst.holding(m.blob_hash))?.shards.map((s) => s.index)).toEqual([2]);
    expect(await counts(dst.dbName, WITH_HOLDINGS)).toMatchObject({
      pieces: perShard,
      holdings: 1,
    });
    expect(await dst.dropShards(m.blob_hash)).toEqual([2]);
    expect(await dst.holding(m.blob_hash)).toBeUndefined();
    expect(await counts(dst.dbName, WITH_HOLDINGS)).toEqual(NOTHING_HELD);
  });

  it('a shard that does not hash to the manifest → ManifestMismatchError, nothing kept', async () => {
    const { src, m } = await source();
    const dst = await open();
    const lie = remote(m);
    lie.shard_hashes[3] = sha(new Uint8Array([7]));
    const session = await dst.beginShardImport(lie, [3]);
    for (const p of await piecesOf(src, m, [3]))
      await session.writePiece(p.shard, p.piece, p.bytes);
    const error = await session.commit().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ManifestMismatchError);
    expect(error).toMatchObject({ field: 'shard_hashes', shardIndex: 3 });
    expect(await counts(dst.dbName, WITH_HOLDINGS)).toEqual(NOTHING_HELD);
  });

  it('refuses what it cannot hold: another layout of a held blob, other encodings, bad shard lists', async () => {
    const { src, m } = await source();
    const dst = await open();
    const session = await dst.beginShardImport(remote(m), [0]);
    for (const p of await piecesOf(src, m, [0]))
      await session.writePiece(p.shard, p.piece, p.bytes);
    await session.commit();
    const other = remote(m);
    (other.piece_hashes[1] as string[])[0] = sha(new Uint8Array([1]));
    await expect(dst.beginShardImport(other, [1])).rejects.toBeInstanceOf(InvalidManifestError);
    await expect(dst.beginShardImport(remote(m), [])).rejects.toBeInstanceOf(RangeError);
    await expect(dst.beginShardImport(remote(m), [7])).rejects.toBeInstanceOf(RangeError);
    const small = await src.put(pseudoRandomBytes(3 * PIECE, 4));
    await expect(dst.beginShardImport(remote(small), [0])).rejects.toThrow(
      /only rs-4-7 blobs are kept by shards/,
    );
  });

  it('the whole blob replaces a holding in the same commit; removing it removes its shards', async () => {
    const { src, data, m } = await source();
    const dst = await open();
    const shards = await dst.beginShardImport(remote(m), [1, 6]);
    for (const p of await piecesOf(src, m, [1, 6]))
      await shards.writePiece(p.shard, p.piece, p.bytes);
    await shards.commit();
    const kinds: string[] = [];
    dst.addEventListener('change', (e) => kinds.push(e.detail.kind));

    const whole = await dst.beginImport(remote(m));
    for (const p of await piecesOf(src, m, [0, 1, 2, 3])) {
      await whole.writePiece(p.shard, p.piece, p.bytes);
    }
    await whole.commit();
    expect(kinds).toEqual(['added', 'held']);
    expect(await dst.holding(m.blob_hash)).toBeUndefined();
    // The whole copy keeps its data (its parity is derived); the holding's pieces are gone.
    expect(await counts(dst.dbName, WITH_HOLDINGS)).toMatchObject({
      manifests: 1,
      pieces: importedPieces(m),
      holdings: 0,
    });
    expect(sha(await readAll(dst.get(m.blob_hash)))).toBe(sha(data));
    // Shards of a blob stored whole are held already.
    expect((await dst.beginShardImport(remote(m), [3])).alreadyHeld).toBe(true);

    const other = await source(SIZE + 5);
    const held = await dst.beginShardImport(remote(other.m), [2]);
    for (const p of await piecesOf(other.src, other.m, [2])) {
      await held.writePiece(p.shard, p.piece, p.bytes);
    }
    await held.commit();
    expect(await dst.remove(other.m.blob_hash)).toBe(false);
    expect(await dst.holding(other.m.blob_hash)).toBeUndefined();
  });

  it('abort and quota leave no pieces and no pending record', async () => {
    const { src, m } = await source();
    const dst = await open();
    const aborted = await dst.beginShardImport(remote(m), [4]);
    for (const p of (await piecesOf(src, m, [4])).slice(0, 3)) {
      await aborted.writePiece(p.shard, p.piece, p.bytes);
    }
    await aborted.abort();
    expect(await counts(dst.dbName, WITH_HOLDINGS)).toEqual(NOTHING_HELD);

    const proto = IDBObjectStore.prototype;
    const original = proto.put;
    let n = 0;
    proto.put = function (this: IDBObjectStore, ...args: Parameters<IDBObjectStore['put']>) {
      if (this.name === 'pieces' && ++n > 2) {
        throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
      }
      return original.apply(this, args);
    };
    try {
      const full = await dst.beginShardImport(remote(m), [4]);
      const pieces = await piecesOf(src, m, [4]);
      const error = await (async () => {
        for (const p of pieces) await full.writePiece(p.shard, p.piece, p.bytes);
      })().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StorageQuotaError);
    } finally {
      proto.put = original;
    }
    expect(await counts(dst.dbName, WITH_HOLDINGS)).toEqual(NOTHING_HELD);
  });
});

describe('a database of the version before holdings', () => {
  it('opens upgraded in place: its blobs stay, holdings work', async () => {
    const { src, data, m } = await source();
    const name = `holding-upgrade-${Date.now()}`;
    // Version 1 as it was: manifests, pieces and pending, no holdings.
    const old = await openDB(name, 1, {
      upgrade(db) {
        db.createObjectStore('manifests', { keyPath: 'blob_hash' }).createIndex(
          'by_created_at',
          'created_at',
        );
        db.createObjectStore('pieces');
        db.createObjectStore('pending', { keyPath: 'id' });
      },
    });
    await old.put('manifests', m);
    for (const [shard, row] of m.piece_hashes.entries()) {
      for (let piece = 0; piece < row.length; piece++) {
        const bytes = await src.readPiece(m.blob_hash, shard, piece);
        await old.put('pieces', bytes.slice().buffer, [m.storage_key, shard, piece]);
      }
    }
    old.close();

    const store = await openContentStore({
      dbName: name,
      thresholds: SMALL,
      pieceSize: PIECE,
      locks: null,
    });
    stores.push(store);
    expect((await store.list()).map((x) => x.blob_hash)).toEqual([m.blob_hash]);
    expect(sha(await readAll(store.get(m.blob_hash)))).toBe(sha(data));
    expect(await store.holdings()).toEqual([]);
  });
});
