/**
 * The import's checks run while pieces arrive (import-check.ts): any arrival order commits the
 * same blob, a window too small for the order falls back to reading pieces back, a lying
 * manifest is caught with nothing visible, and the commit reads no piece on the in-order path.
 */
import 'fake-indexeddb/auto';
import { afterEach, describe, expect, it } from 'vitest';
import { type CheckContext, ImportCheck, Lane } from './import-check.ts';
import {
  bytes,
  counts,
  EMPTY,
  importedPieces,
  KiB,
  open,
  PIECE,
  type Piece,
  pair,
  piecesFrom,
  raw,
  readAll,
  remote,
  SMALL,
  same,
  sha,
  shuffle,
  writeAll,
} from './import-test-support.ts';
import {
  type ContentChange,
  type ContentStoreOptions,
  CorruptPieceError,
  cidOf,
  ImportPiecesLostError,
  ManifestMismatchError,
  type RemoteManifest,
  type StoredManifest,
} from './index.ts';

/** Counts reads of the `pieces` store (the backend's readPieces) while installed. */
function countPieceReads() {
  const proto = IDBObjectStore.prototype;
  const original = proto.get;
  const counter = { reads: 0, restore: () => {} };
  proto.get = function (this: IDBObjectStore, ...args: Parameters<IDBObjectStore['get']>) {
    if (this.name === 'pieces') counter.reads++;
    return original.apply(this, args);
  };
  counter.restore = () => {
    proto.get = original;
  };
  return counter;
}
let reads: ReturnType<typeof countPieceReads> | undefined;
afterEach(() => {
  reads?.restore();
  reads = undefined;
});

/** `pieces` as 3 holders would send them: ranges of 4 dealt round robin, the holders at once. */
async function fromThreeHolders(
  session: { writePiece(shard: number, piece: number, bytes: Uint8Array): Promise<void> },
  pieces: readonly Piece[],
) {
  const holders: Piece[][] = [[], [], []];
  for (let i = 0; i < pieces.length; i += 4) {
    (holders[(i / 4) % 3] as Piece[]).push(...pieces.slice(i, i + 4));
  }
  await Promise.all(holders.map((mine) => writeAll(session as never, mine)));
}

type Order = (pieces: Piece[]) => Piece[] | 'holders';
const orders: [string, Order][] = [
  ['in order', (p) => p],
  ['reversed', (p) => [...p].reverse()],
  ['random', (p) => shuffle(p, 11)],
  ['from 3 holders at once', () => 'holders'],
];
const sizes: [string, number, ContentStoreOptions][] = [
  ['none', 3 * PIECE + 5, {}],
  ['chunked, multi-piece chunks', SMALL.rsAbove, { chunkSize: 3 * PIECE }],
  ['rs-4-7', 40 * PIECE + 13, {}],
];

describe('pieces in any order', () => {
  for (const [encoding, size, srcOpts] of sizes) {
    for (const [order, arrange] of orders) {
      for (const window of [undefined, 4 * PIECE]) {
        it(`${encoding}, ${order}, window ${window ? '4 pieces' : 'default'} → the same blob`, async () => {
          const data = bytes(size);
          const { src, m } = await pair(data, srcOpts);
          const dst = await open({ tuning: { importWindowBytes: window } });
          const session = await dst.beginImport(remote(m));
          const pieces = await piecesFrom(src, m, session);
          const arranged = arrange(pieces);
          if (arranged === 'holders') await fromThreeHolders(session, pieces);
          else await writeAll(session, arranged);
          const got = await session.commit();
          expect(got.blob_hash).toBe(m.blob_hash);
          same(await readAll(dst.get(m.blob_hash)), data);
          expect((await dst.repair(m.blob_hash)).repaired).toEqual([]);
          expect(await counts(dst.dbName)).toEqual({
            manifests: 1,
            pieces: importedPieces(m),
            pending: 0,
          });
        });
      }
    }
  }
});

describe('the commit reads no piece on the in-order path', () => {
  it.each(sizes)('%s', async (_e, size, srcOpts) => {
    const data = bytes(size);
    const { src, m } = await pair(data, srcOpts);
    const dst = await open();
    const session = await dst.beginImport(remote(m));
    const pieces = await piecesFrom(src, m, session);
    reads = countPieceReads();
    await writeAll(session, pieces);
    const during = reads.reads;
    const progress: number[] = [];
    await session.commit({ onProgress: (p) => progress.push(p.bytesDone) });
    expect(reads.reads - during).toBe(0);
    // Nothing was read back while the pieces came either: the window held what was early.
    expect(during).toBe(0);
    expect(progress.at(-1)).toBe(size);
    reads.restore();
    same(await readAll(dst.get(m.blob_hash)), data);
  });
});

describe('a window too small for the order', () => {
  it('reads the pieces it could not keep back, verified; a piece damaged meanwhile is caught', async () => {
    const data = bytes(5 * PIECE + 3);
    const { src, m } = await pair(data);
    const dst = await open({ tuning: { importWindowBytes: 2 * PIECE } });
    const session = await dst.beginImport(remote(m));
    const pieces = await piecesFrom(src, m, session);
    // Reversed: the lane waits for piece 0, keeping only the next 2; the rest is read back.
    await writeAll(session, [...pieces].reverse().slice(0, -1));
    const db = await raw(dst.dbName);
    const keys = (await db.getAllKeys('pieces')) as [string, number, number][];
    const victim = keys.find((k) => k[1] === 4) as [string, number, number];
    await db.put('pieces', new Uint8Array(PIECE).buffer, victim);
    db.close();
    const events: ContentChange[] = [];
    dst.addEventListener('change', (e) => events.push(e.detail));
    await writeAll(session, pieces.slice(0, 1));
    const error = await session.commit().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CorruptPieceError);
    expect(error).toMatchObject({ shardIndex: 4, pieceIndex: 0, reason: 'mismatch' });
    expect(await counts(dst.dbName)).toEqual(EMPTY);
    expect(events).toEqual([]);
  });

  it('reversed with a 2-piece window: pieces are read back, the blob is right', async () => {
    const data = bytes(40 * PIECE + 13);
    const { src, m } = await pair(data);
    const dst = await open({ tuning: { importWindowBytes: 2 * PIECE } });
    const session = await dst.beginImport(remote(m));
    const pieces = await piecesFrom(src, m, session);
    reads = countPieceReads();
    await writeAll(session, pieces.reverse());
    await session.commit();
    expect(reads.reads).toBeGreaterThan(0);
    reads.restore();
    same(await readAll(dst.get(m.blob_hash)), data);
  });

  it('keeps at most `lookahead` pieces ahead of its position, whatever comes first', async () => {
    const m = { blob_hash: 'sha256-x', piece_size: PIECE } as unknown as StoredManifest;
    const check = new ImportCheck({} as CheckContext, m, 'min');
    const refs = Array.from({ length: 10 }, (_, p) => ({ shard: 0, piece: p }));
    const lane = new Lane(check, {
      refs,
      lookahead: 3,
      feed: async () => {},
      end: async () => {},
      cancel: () => {},
    });
    const kept = [...refs]
      .reverse()
      .map((r) => lane.offer(`0/${r.piece}`, r, new Uint8Array(1)) && r.piece);
    expect(kept.filter((p) => p !== false)).toEqual([2, 1, 0]);
  });
});

describe('a lying manifest is caught while the pieces come', () => {
  const otherHash = sha(new Uint8Array([1, 2, 3]));
  const lies: [string, number, ContentStoreOptions, (r: RemoteManifest) => void, string][] = [
    [
      'chunked: blob hash',
      5 * PIECE + 3,
      {},
      (r) => {
        r.blob_hash = otherHash as RemoteManifest['blob_hash'];
        r.blob_cid = cidOf(otherHash);
      },
      'blob_hash',
    ],
    [
      'chunked: a shard hash',
      SMALL.rsAbove,
      { chunkSize: 3 * PIECE },
      (r) => {
        r.shard_hashes[1] = otherHash;
      },
      'shard_hashes',
    ],
    [
      'rs-4-7: a parity piece',
      40 * PIECE + 13,
      {},
      (r) => {
        (r.piece_hashes[6] as string[])[3] = otherHash;
      },
      'piece_hashes',
    ],
    [
      'rs-4-7: a data shard hash',
      40 * PIECE + 13,
      {},
      (r) => {
        r.shard_hashes[1] = otherHash;
      },
      'shard_hashes',
    ],
  ];
  it.each(lies)(
    '%s → ManifestMismatchError, nothing visible, nothing read at commit',
    async (_l, size, opts, lie, field) => {
      const { src, dst, m } = await pair(bytes(size), opts);
      const r = remote(m);
      lie(r);
      const session = await dst.beginImport(r);
      await writeAll(session, await piecesFrom(src, m, session));
      reads = countPieceReads();
      const error = await session.commit().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ManifestMismatchError);
      expect(error).toMatchObject({ field });
      expect(reads.reads).toBe(0);
      expect(await counts(dst.dbName)).toEqual(EMPTY);
      expect(await dst.has(r.blob_hash)).toBe(false);
    },
  );
  // Non-zero rs-4-7 padding: import.test.ts ('a lying manifest'), caught by the blob lane.
});

describe('abort and lost pieces', () => {
  it.each(sizes)('%s: abort with the checks running keeps nothing', async (_e, size, opts) => {
    const { src, m } = await pair(bytes(size), opts);
    const dst = await open({ tuning: { importWindowBytes: 2 * PIECE } });
    const session = await dst.beginImport(remote(m));
    const pieces = await piecesFrom(src, m, session);
    // Concurrent writes, then an abort while they and the checks are still going.
    const writing = Promise.allSettled(
      pieces.slice(0, -1).map((p) => session.writePiece(p.shard, p.piece, p.bytes)),
    );
    await session.writePiece((pieces[0] as Piece).shard, 0, (pieces[0] as Piece).bytes);
    await session.abort();
    await writing;
    expect(await counts(dst.dbName)).toEqual(EMPTY);
    expect(await dst.has(m.blob_hash)).toBe(false);
  });

  it('a piece removed before the commit → ImportPiecesLostError, nothing visible', async () => {
    const { src, m } = await pair(bytes(40 * PIECE + 13));
    const dst = await open();
    const session = await dst.beginImport(remote(m));
    await writeAll(session, await piecesFrom(src, m, session));
    const db = await raw(dst.dbName);
    const [first] = (await db.getAllKeys('pieces')) as [string, number, number][];
    await db.delete('pieces', first as [string, number, number]);
    db.close();
    const error = await session.commit().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ImportPiecesLostError);
    expect(error).toMatchObject({ expected: importedPieces(m) });
    expect((error as Error).message).toMatch(/begin the import again/);
    expect(await counts(dst.dbName)).toEqual(EMPTY);
    expect(await dst.has(m.blob_hash)).toBe(false);
  });

  it('rs-4-7 from parity shards, the window small: stripes rebuilt as they complete', async () => {
    const data = bytes(16 * PIECE + 4 * KiB);
    const { src, m } = await pair(data);
    const dst = await open({ tuning: { importWindowBytes: 4 * PIECE } });
    const session = await dst.beginImport(remote(m));
    const stripes = (m.piece_hashes[0] as string[]).length;
    // Stripe by stripe, each from another 4 of the 7 shards.
    for (let j = 0; j < stripes; j++) {
      for (const s of [
        [0, 4, 5, 6],
        [1, 2, 5, 6],
        [3, 4, 5, 6],
        [0, 1, 2, 6],
      ][j % 4] as number[]) {
        await session.writePiece(s, j, await src.readPiece(m.blob_hash, s, j));
      }
    }
    await session.commit();
    same(await readAll(dst.get(m.blob_hash)), data);
    expect((await dst.repair(m.blob_hash)).repaired).toEqual([]);
  });
});
