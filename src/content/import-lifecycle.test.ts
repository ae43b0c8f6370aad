import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import { fakeLockManager } from '../test-support/locks.ts';
import {
  bytes,
  counts,
  EMPTY,
  importing,
  open,
  PIECE,
  type Piece,
  pair,
  piecesFrom,
  piecesOf,
  readAll,
  remote,
  same,
  stores,
  writeAll,
} from './import-test-support.ts';
import {
  type ContentChange,
  ImportClosedError,
  openContentStore,
  StorageQuotaError,
} from './index.ts';

describe('abort and cleanup', () => {
  it('abort() mid-way deletes everything; the session is closed afterwards', async () => {
    const { dst, m, session, pieces } = await importing(bytes(16 * PIECE + 13));
    await writeAll(session, pieces.slice(0, 7));
    // A write racing the abort must not leave an orphan piece.
    const racing = session.writePiece(
      (pieces[8] as Piece).shard,
      (pieces[8] as Piece).piece,
      (pieces[8] as Piece).bytes,
    );
    quietly(racing);
    await session.abort();
    await racing.catch(() => {});
    expect(await counts(dst.dbName)).toEqual(EMPTY);
    await session.abort();
    await expect(session.writePiece(0, 0, (pieces[0] as Piece).bytes)).rejects.toBeInstanceOf(
      ImportClosedError,
    );
    await expect(session.commit()).rejects.toBeInstanceOf(ImportClosedError);
    expect(await dst.has(m.blob_hash)).toBe(false);
  });

  it('the beginImport signal aborts the import, with its reason', async () => {
    const { src, dst, m } = await pair(bytes(5 * PIECE + 3));
    const ac = new AbortController();
    const session = await dst.beginImport(remote(m), { signal: ac.signal });
    const pieces = await piecesFrom(src, m, session);
    await writeAll(session, pieces.slice(0, 3));
    const reason = new Error('peer went away');
    ac.abort(reason);
    await session.abort(); // waits for the signal-triggered cleanup
    await expect(
      session.writePiece((pieces[4] as Piece).shard, 0, (pieces[4] as Piece).bytes),
    ).rejects.toBe(reason);
    expect(await counts(dst.dbName)).toEqual(EMPTY);
    await expect(dst.beginImport(remote(m), { signal: ac.signal })).rejects.toBe(reason);
    expect(await counts(dst.dbName)).toEqual(EMPTY);
  });

  it.each([
    ['none', 3 * PIECE + 5],
    ['rs-4-7', 16 * PIECE + 13],
  ])('aborting the commit (%s) rejects with the reason and keeps nothing', async (_e, size) => {
    const { dst, m, session, pieces } = await importing(bytes(size));
    await writeAll(session, pieces);
    const ac = new AbortController();
    const reason = new Error('stop');
    const commit = session.commit({
      signal: ac.signal,
      onProgress: (p) => {
        if (p.bytesDone > 0) ac.abort(reason);
      },
    });
    await expect(commit).rejects.toBe(reason);
    expect(await counts(dst.dbName)).toEqual(EMPTY);
    expect(await dst.has(m.blob_hash)).toBe(false);
  });

  it('abort() during commit stops it', async () => {
    const { dst, session, pieces } = await importing(bytes(16 * PIECE + 13));
    await writeAll(session, pieces);
    let aborting: Promise<void> | undefined;
    const commit = session.commit({
      onProgress: (p) => {
        if (p.bytesDone > 0) aborting ??= session.abort();
      },
    });
    await expect(commit).rejects.toMatchObject({ name: 'AbortError' });
    await aborting;
    expect(await counts(dst.dbName)).toEqual(EMPTY);
  });

  it('a tab closed mid-import is swept on the next open (no Web Locks)', async () => {
    const { src, m } = await pair(bytes(16 * PIECE + 13));
    const a = await open();
    const session = await a.beginImport(remote(m));
    await writeAll(session, (await piecesFrom(src, m, session)).slice(0, 5));
    const b = await openContentStore({ dbName: a.dbName, locks: null });
    stores.push(b);
    expect(await counts(a.dbName)).toMatchObject({ pieces: 5, pending: 1 }); // owner alive
    a.close();
    await expect(session.writePiece(0, 0, new Uint8Array(PIECE))).rejects.toBeInstanceOf(
      ImportClosedError,
    );
    const c = await openContentStore({ dbName: a.dbName, locks: null });
    stores.push(c);
    expect(await counts(a.dbName)).toEqual(EMPTY);
  });

  it('with Web Locks: the import holds its lock, so sweep leaves it alone until it ends', async () => {
    const { locks, held } = fakeLockManager();
    const { src, m } = await pair(bytes(5 * PIECE + 3));
    const dst = await open({ locks });
    const session = await dst.beginImport(remote(m));
    expect([...held]).toEqual([expect.stringMatching(/^elohim-put-/)]);
    const pieces = await piecesFrom(src, m, session);
    await writeAll(session, pieces.slice(0, 2));
    expect(await dst.sweep()).toBe(0);
    expect(await counts(dst.dbName)).toMatchObject({ pieces: 2, pending: 1 });
    await writeAll(session, pieces.slice(2));
    await session.commit();
    expect(held.size).toBe(0);

    // Closing the store (the tab) releases the lock of an unfinished import; the next open sweeps.
    const other = await dst.beginImport(remote(await src.put(bytes(3 * PIECE))));
    await other.writePiece(0, 0, await src.readPiece(other.manifest.blob_hash, 0, 0));
    expect(held.size).toBe(1);
    dst.close();
    await new Promise((r) => setTimeout(r, 0)); // the lock manager settles asynchronously
    expect(held.size).toBe(0);
    const again = await openContentStore({ dbName: dst.dbName, locks });
    stores.push(again);
    expect(await counts(dst.dbName)).toMatchObject({ manifests: 1, pending: 0 });
  });
});

function quietly(p: Promise<unknown>): void {
  p.catch(() => {});
}

describe('quota', () => {
  /** Piece writes (of shard `shard` only, when given) fail with a quota error after `after`. */
  function failPiecePuts(after: number, shard?: number) {
    const proto = IDBObjectStore.prototype;
    const original = proto.put;
    let n = 0;
    proto.put = function (this: IDBObjectStore, ...args: Parameters<IDBObjectStore['put']>) {
      const key = args[1] as [string, number, number] | undefined;
      if (shard !== undefined && key?.[1] !== shard) return original.apply(this, args);
      if (this.name === 'pieces' && ++n > after) {
        throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
      }
      return original.apply(this, args);
    };
    return () => {
      proto.put = original;
    };
  }

  it('a quota error in writePiece → StorageQuotaError, the import is discarded', async () => {
    const { dst, session, pieces } = await importing(bytes(5 * PIECE + 3));
    const restore = failPiecePuts(3);
    try {
      await writeAll(session, pieces.slice(0, 3));
      const err = await session
        .writePiece((pieces[3] as Piece).shard, 0, (pieces[3] as Piece).bytes)
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StorageQuotaError);
    } finally {
      restore();
    }
    expect(await counts(dst.dbName)).toEqual(EMPTY);
    await expect(
      session.writePiece((pieces[4] as Piece).shard, 0, (pieces[4] as Piece).bytes),
    ).rejects.toBeInstanceOf(ImportClosedError);
  });

  it('a quota error while writing rs data rebuilt from parity → StorageQuotaError, nothing left', async () => {
    const { src, dst, m } = await pair(bytes(16 * PIECE + 13));
    const session = await dst.beginImport(remote(m));
    // Shard 0 does not come: each of its pieces is rebuilt from parity shard 4 and written.
    const restore = failPiecePuts(0, 0);
    try {
      const outcome = await writeAll(session, await piecesOf(src, m, [1, 2, 3, 4]))
        .then(() => session.commit())
        .catch((e: unknown) => e);
      expect(outcome).toBeInstanceOf(StorageQuotaError);
    } finally {
      restore();
    }
    expect(await counts(dst.dbName)).toEqual(EMPTY);
  });
});

describe('dedupe', () => {
  it('a blob already stored: nothing needed, commit returns the stored manifest', async () => {
    const data = bytes(5 * PIECE + 3);
    const { dst, m } = await pair(data);
    const mine = await dst.put(data);
    const events: ContentChange[] = [];
    dst.addEventListener('change', (e) => events.push(e.detail));
    const session = await dst.beginImport(remote(m));
    expect(session.alreadyStored).toBe(true);
    expect(session.needed).toEqual([]);
    expect(session.complete).toBe(true);
    expect(await session.commit()).toEqual(mine);
    expect(events).toEqual([]);
    expect((await counts(dst.dbName)).pending).toBe(0);
  });

  it("a blob stored while the import ran: the import's pieces are dropped at commit", async () => {
    const data = bytes(16 * PIECE + 13);
    const { dst, m, session, pieces } = await importing(data);
    await writeAll(session, pieces);
    const mine = await dst.put(data);
    const events: ContentChange[] = [];
    dst.addEventListener('change', (e) => events.push(e.detail));
    expect(await session.commit()).toEqual(mine);
    expect(events).toEqual([]);
    expect(await counts(dst.dbName)).toEqual({
      manifests: 1,
      pieces: m.piece_hashes.flat().length,
      pending: 0,
    });
    same(await readAll(dst.get(m.blob_hash)), data);
  });
});

describe('reading an import before it commits (readPartial)', () => {
  it.each([
    [5 * PIECE + 3, 'chunked'],
    [16 * PIECE + 13, 'rs-4-7'],
  ])('%i bytes, %s: a range asks only for the pieces it covers, bytes are right', async (size) => {
    const data = bytes(size);
    const { src, dst, m } = await pair(data);
    const session = await dst.beginImport(remote(m));
    const asked: string[] = [];
    const ensure = async (refs: { shard: number; piece: number }[]) => {
      for (const { shard, piece } of refs) {
        asked.push(`${shard}/${piece}`);
        if (!session.has(shard, piece)) {
          await session.writePiece(shard, piece, await src.readPiece(m.blob_hash, shard, piece));
        }
      }
    };
    const start = size - PIECE + 1;
    const out = await readAll(
      dst.readPartial(session.partialManifest, { start, end: size, ensure, readAhead: 2 }),
    );
    same(out, data.subarray(start));
    // The last 16 KiB - 1 bytes touch at most 2 pieces, which is all that was asked for.
    expect(asked.length).toBeLessThanOrEqual(2);
    expect(session.missing().length).toBe(session.needed.length - asked.length);

    // Reading the whole blob fills in the rest, then the import commits as usual.
    same(await readAll(dst.readPartial(session.partialManifest, { ensure })), data);
    expect(session.complete).toBe(true);
    expect((await session.commit()).blob_hash).toBe(m.blob_hash);
  });

  it('a piece that does not verify fails the stream and is never returned', async () => {
    const data = bytes(3 * PIECE);
    const { src, dst, m } = await pair(data);
    const session = await dst.beginImport(remote(m));
    // A buggy ensure that claims success without writing: the read must not invent bytes.
    const stream = dst.readPartial(session.partialManifest, { ensure: async () => {} });
    await expect(readAll(stream)).rejects.toThrow(/missing|shard 0 piece 0/);
    await session.abort();
    expect(await src.has(m.blob_hash)).toBe(true);
  });

  it('goes on from the stored copy when another copy commits first and the import lets go of its pieces', async () => {
    const data = bytes(5 * PIECE + 3);
    const { src, dst, m } = await pair(data);
    const session = await dst.beginImport(remote(m));
    const fill = async (
      into: typeof session,
      refs: readonly { shard: number; piece: number }[],
    ) => {
      for (const { shard, piece } of refs) {
        if (!into.has(shard, piece)) {
          await into.writePiece(shard, piece, await src.readPiece(m.blob_hash, shard, piece));
        }
      }
    };
    const reader = dst
      .readPartial(session.partialManifest, { ensure: (refs) => fill(session, refs), readAhead: 1 })
      .getReader();
    const first = await reader.read();
    // A peer pushes the same blob meanwhile: another import, committed first. Then this import
    // completes and commits too, a duplicate, which deletes its own pieces.
    const pushed = await dst.beginImport(remote(m));
    await fill(pushed, pushed.missing());
    await pushed.commit();
    await fill(session, session.missing());
    await session.commit();
    const parts = [first.value as Uint8Array];
    for (let r = await reader.read(); !r.done; r = await reader.read()) parts.push(r.value);
    same(Buffer.concat(parts), data);
  });

  it('readPartialPiece returns a written piece, parity too, and refuses one not written', async () => {
    const data = bytes(16 * PIECE + 13);
    const { src, dst, m } = await pair(data);
    expect(m.encoding).toBe('rs-4-7');
    const session = await dst.beginImport(remote(m));
    const parity = m.data_shards;
    await session.writePiece(1, 2, await src.readPiece(m.blob_hash, 1, 2));
    await session.writePiece(parity, 0, await src.readPiece(m.blob_hash, parity, 0));
    const read = (shard: number, piece: number) =>
      dst.readPartialPiece(session.partialManifest, shard, piece);
    expect(await read(1, 2)).toEqual(await src.readPiece(m.blob_hash, 1, 2));
    expect(await read(parity, 0)).toEqual(await src.readPiece(m.blob_hash, parity, 0));
    await expect(read(0, 0)).rejects.toThrow();
    await expect(read(99, 0)).rejects.toThrow(RangeError);
    await session.abort();
  });
});
