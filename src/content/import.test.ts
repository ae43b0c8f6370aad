import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import { encode as rsEncode, StripeEncoder } from '../erasure/index.ts';
import {
  bytes,
  counts,
  EMPTY,
  importedPieces,
  importing,
  KiB,
  open,
  PIECE,
  type Piece,
  pair,
  piecesFrom,
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
  cidOf,
  ImportClosedError,
  ImportIncompleteError,
  InvalidManifestError,
  ManifestMismatchError,
  PieceMismatchError,
  type RemoteManifest,
} from './index.ts';

describe('import round trips', () => {
  const cases: [number, string, ContentStoreOptions][] = [
    [0, 'none', {}],
    [1, 'none', {}],
    [3 * PIECE + 5, 'none', {}],
    [5 * PIECE + 3, 'chunked', {}],
    [SMALL.rsAbove, 'chunked', { chunkSize: 3 * PIECE }], // multi-piece chunks, short last one
    [SMALL.rsAbove + 1, 'rs-4-7', {}], // tiny tail: shard 3 is mostly padding
    [16 * PIECE + 13, 'rs-4-7', {}],
    [20 * PIECE, 'rs-4-7', { pieceSize: 4 * KiB }], // the remote piece size is kept
  ];
  it.each(cases)(
    '%i bytes, %s: shuffled pieces → identical blob and manifest',
    async (size, encoding, srcOpts) => {
      const data = bytes(size);
      const { src, dst, m } = await pair(data, srcOpts);
      expect(m.encoding).toBe(encoding);
      const events: ContentChange[] = [];
      dst.addEventListener('change', (e) => events.push(e.detail));

      const session = await dst.beginImport(remote(m));
      expect(session.alreadyStored).toBe(false);
      const all = m.piece_hashes.flatMap((row, s) => row.map((_, p) => ({ shard: s, piece: p })));
      if (encoding === 'rs-4-7') {
        expect(session.needed).toEqual(all.filter((r) => r.shard < 4));
      } else {
        expect(session.needed).toEqual(all);
      }
      expect(session.complete).toBe(size === 0);
      expect((await counts(dst.dbName)).pending).toBe(1);

      const pieces = shuffle(await piecesFrom(src, m, session), size);
      // Half one by one, the rest concurrently (several peers at once), one piece twice.
      const half = pieces.length >> 1;
      await writeAll(session, pieces.slice(0, half));
      await Promise.all(
        [...pieces.slice(half), ...pieces.slice(0, 1)].map((p) =>
          session.writePiece(p.shard, p.piece, p.bytes),
        ),
      );
      expect(session.complete).toBe(true);
      expect(session.missing()).toEqual([]);
      expect(await dst.has(m.blob_hash)).toBe(false); // nothing visible before commit

      const progress: number[] = [];
      const got = await session.commit({ onProgress: (p) => progress.push(p.bytesDone) });
      expect(progress.at(-1)).toBe(size);
      expect(progress).toEqual([...progress].sort((a, b) => a - b));

      const { storage_key, verified_at, origin, parity, ...rest } = got;
      const { storage_key: srcKey, verified_at: _v, origin: srcOrigin, ...srcRest } = m;
      expect(rest).toEqual(srcRest);
      // A copy from peers keeps rs-4-7 parity derived; the author's keeps it stored.
      expect([m.parity, parity]).toEqual([
        undefined,
        encoding === 'rs-4-7' ? 'derived' : undefined,
      ]);
      // Each store records why it holds the blob: added there, fetched here.
      expect([srcOrigin?.how, origin?.how]).toEqual(['added', 'fetched']);
      expect(storage_key).not.toBe(srcKey);
      expect(Date.parse(verified_at as string)).toBeGreaterThanOrEqual(Date.parse(m.created_at));
      expect(await dst.manifest(m.blob_hash)).toEqual(got);
      expect(events.map((e) => [e.kind, e.hash, e.remote])).toEqual([
        ['added', m.blob_hash, false],
      ]);

      same(await readAll(dst.get(m.blob_hash)), data);
      if (encoding === 'rs-4-7') {
        // The parity, not stored, is computed when read and equals the source's.
        for (let s = 4; s < 7; s++) {
          for (let p = 0; p < (m.piece_hashes[s] as string[]).length; p++) {
            same(await dst.readPiece(m.blob_hash, s, p), await src.readPiece(m.blob_hash, s, p));
          }
        }
        expect((await dst.repair(m.blob_hash)).repaired).toEqual([]);
      }
      expect(await counts(dst.dbName)).toEqual({
        manifests: 1,
        pieces: importedPieces(m),
        pending: 0,
      });
      // Committing again returns the same result; abort after commit changes nothing.
      expect(await session.commit()).toEqual(got);
      await session.abort();
      expect(await dst.has(m.blob_hash)).toBe(true);
    },
  );
});

describe('bad pieces', () => {
  it('wrong bytes → PieceMismatchError, nothing written, the import goes on', async () => {
    const { dst, session, pieces } = await importing(bytes(16 * PIECE + 13));
    const first = pieces[0] as Piece;
    const flipped = first.bytes.slice();
    flipped[5] = (flipped[5] as number) ^ 1;
    const e1 = await session.writePiece(0, 0, flipped).catch((e: unknown) => e);
    expect(e1).toBeInstanceOf(PieceMismatchError);
    expect(e1).toMatchObject({ shardIndex: 0, pieceIndex: 0, reason: 'hash' });
    expect((e1 as Error).message).toMatch(/drop it/);
    const e2 = await session.writePiece(0, 0, first.bytes.subarray(1)).catch((e: unknown) => e);
    expect(e2).toMatchObject({ name: 'PieceMismatchError', reason: 'length' });
    // Bytes of another piece are wrong for this one.
    const other = pieces[1] as Piece;
    await expect(session.writePiece(0, 0, other.bytes)).rejects.toBeInstanceOf(PieceMismatchError);
    // Parity pieces are taken, but verified like any other; unknown pieces are range errors.
    await expect(session.writePiece(4, 0, first.bytes)).rejects.toBeInstanceOf(PieceMismatchError);
    await expect(session.writePiece(0, 99, first.bytes)).rejects.toBeInstanceOf(RangeError);
    await expect(session.writePiece(7, 0, first.bytes)).rejects.toBeInstanceOf(RangeError);
    expect((await counts(dst.dbName)).pieces).toBe(0);
    expect(session.missing()).toHaveLength(session.needed.length);

    // A view into a bigger buffer (as a network frame would give) is fine.
    const framed = new Uint8Array(first.bytes.length + 10);
    framed.set(first.bytes, 7);
    await session.writePiece(0, 0, framed.subarray(7, 7 + first.bytes.length));
    framed.fill(0); // the caller may reuse its buffer right away
    await writeAll(session, pieces.slice(1));
    const got = await session.commit();
    same(await readAll(dst.get(got.blob_hash)), bytes(16 * PIECE + 13));
  });

  it('committing before every needed piece is written → ImportIncompleteError, import stays open', async () => {
    const { dst, m, session, pieces } = await importing(bytes(5 * PIECE + 3));
    await writeAll(session, pieces.slice(2));
    const err = await session.commit().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ImportIncompleteError);
    expect((err as ImportIncompleteError).missing).toEqual([
      { shard: 0, piece: 0 },
      { shard: 1, piece: 0 },
    ]);
    expect(session.missing()).toEqual((err as ImportIncompleteError).missing);
    await writeAll(session, pieces.slice(0, 2));
    await session.commit();
    expect(await dst.has(m.blob_hash)).toBe(true);
  });
});

describe('a lying manifest', () => {
  const otherHash = sha(new Uint8Array([1, 2, 3]));
  type Lie = (r: RemoteManifest) => void;
  /** Claims another blob (hash and CID agree, so only the bytes can tell). */
  const otherBlob: Lie = (r) => {
    r.blob_hash = otherHash as RemoteManifest['blob_hash'];
    r.blob_cid = cidOf(otherHash);
  };
  const lies: [string, number, ContentStoreOptions, Lie, string][] = [
    [
      'none: blob hash (and shard 0)',
      3 * PIECE + 5,
      {},
      (r) => {
        otherBlob(r);
        r.shard_hashes = [otherHash];
      },
      'blob_hash',
    ],
    ['chunked: blob hash', 5 * PIECE + 3, {}, otherBlob, 'blob_hash'],
    [
      'chunked: a multi-piece shard hash',
      SMALL.rsAbove,
      { chunkSize: 3 * PIECE },
      (r) => {
        r.shard_hashes[1] = otherHash;
      },
      'shard_hashes',
    ],
    ['rs-4-7: blob hash', 16 * PIECE + 13, {}, otherBlob, 'blob_hash'],
    [
      'rs-4-7: a parity piece hash',
      16 * PIECE + 13,
      {},
      (r) => {
        (r.piece_hashes[5] as string[])[2] = otherHash;
      },
      'piece_hashes',
    ],
    [
      'rs-4-7: a parity shard hash',
      16 * PIECE + 13,
      {},
      (r) => {
        r.shard_hashes[6] = otherHash;
      },
      'shard_hashes',
    ],
    [
      'rs-4-7: a data shard hash',
      16 * PIECE + 13,
      {},
      (r) => {
        r.shard_hashes[2] = otherHash;
      },
      'shard_hashes',
    ],
  ];
  it.each(lies)('%s → ManifestMismatchError, nothing left', async (_l, size, opts, lie, field) => {
    const { src, dst, m } = await pair(bytes(size), opts);
    const r = remote(m);
    lie(r);
    const events: ContentChange[] = [];
    dst.addEventListener('change', (e) => events.push(e.detail));
    const session = await dst.beginImport(r);
    await writeAll(session, shuffle(await piecesFrom(src, m, session)));
    expect((await counts(dst.dbName)).pieces).toBeGreaterThan(0);
    const err = await session.commit().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ManifestMismatchError);
    expect(err).toMatchObject({ field });
    expect((err as Error).message).toMatch(/drop it/);
    expect(await counts(dst.dbName)).toEqual(EMPTY);
    expect(await dst.has(r.blob_hash)).toBe(false);
    expect(events).toEqual([]);
    await expect(session.commit()).rejects.toBeInstanceOf(ImportClosedError);
    await expect(session.writePiece(0, 0, new Uint8Array(1))).rejects.toBeInstanceOf(
      ImportClosedError,
    );
    await session.abort(); // idempotent
  });

  it('rs-4-7: non-zero padding with self-consistent hashes → ManifestMismatchError', async () => {
    const size = 16 * PIECE + 13; // shard 3 ends with 3 bytes of padding
    const data = bytes(size);
    const { dst, m } = await pair(data);
    const ss = m.shard_size;
    const shards = rsEncode(data);
    (shards[3] as Uint8Array)[ss - 1] = 7;
    const enc = new StripeEncoder(ss);
    for (let k = 0; k < 4; k++) (enc.data[k] as Uint8Array).set(shards[k] as Uint8Array);
    enc.encode(ss);
    for (let k = 0; k < 3; k++) shards[4 + k] = (enc.parity[k] as Uint8Array).slice(0, ss);
    enc.dispose();
    const r = remote(m);
    r.shard_hashes = shards.map(sha);
    r.piece_hashes = shards.map((s) =>
      Array.from({ length: Math.ceil(ss / PIECE) }, (_, p) =>
        sha(s.subarray(p * PIECE, (p + 1) * PIECE)),
      ),
    );
    const session = await dst.beginImport(r);
    for (const { shard, piece } of session.needed) {
      const s = shards[shard] as Uint8Array;
      await session.writePiece(shard, piece, s.subarray(piece * PIECE, (piece + 1) * PIECE));
    }
    const err = await session.commit().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ManifestMismatchError);
    expect(err).toMatchObject({ field: 'padding', shardIndex: 3 });
    expect(await counts(dst.dbName)).toEqual(EMPTY);
  });
});

describe('invalid manifests', () => {
  type Edit = (r: Record<string, unknown>) => void;
  const edits: [string, Edit, RegExp][] = [
    ['format 2', (r) => (r.format = 2), /format 2 is not 1/],
    ['unknown encoding', (r) => (r.encoding = 'rs-10-4'), /unknown encoding/],
    ['negative size', (r) => (r.total_size = -1), /total_size is not a non-negative integer/],
    ['fractional size', (r) => (r.total_size = 1.5), /total_size/],
    ['piece_size 0', (r) => (r.piece_size = 0), /piece_size is 0/],
    ['huge piece_size', (r) => (r.piece_size = 2 ** 30), /piece_size .* above/],
    ['bad blob_hash', (r) => (r.blob_hash = 'sha256-XYZ'), /blob_hash is not sha256-/],
    ['uppercase hash', (r) => (r.blob_hash = (r.blob_hash as string).toUpperCase()), /blob_hash/],
    ['wrong blob_cid', (r) => (r.blob_cid = cidOf(sha(new Uint8Array(1)))), /blob_cid/],
    ['unknown reach', (r) => (r.reach = 'everyone'), /unknown reach/],
    ['bad created_at', (r) => (r.created_at = 'yesterday'), /created_at/],
    ['missing mime_type', (r) => delete r.mime_type, /mime_type is not a string/],
    ['rs shard_size', (r) => (r.shard_size = (r.shard_size as number) + 1), /ceil\(total_size/],
    ['rs total_shards', (r) => (r.total_shards = 6), /4 data and 7 total/],
    ['total_size vs shards', (r) => (r.total_size = 2 * (r.total_size as number)), /shard_size/],
    [
      'short piece_hashes row',
      (r) => (r.piece_hashes as string[][])[2]?.pop(),
      /piece_hashes\[2\] must list 5/,
    ],
    [
      'piece_hashes rows',
      (r) => (r.piece_hashes as string[][]).pop(),
      /piece_hashes must have 7 row/,
    ],
    ['shard_hashes count', (r) => (r.shard_hashes as string[]).pop(), /shard_hashes must list 7/],
    [
      'bad piece hash',
      (r) => ((r.piece_hashes as string[][])[1] as string[]).splice(0, 1, 'nope'),
      /piece_hashes\[1\]\[0\]/,
    ],
  ];
  it.each(edits)('%s → InvalidManifestError', async (_l, edit, message) => {
    const { dst, m } = await pair(bytes(16 * PIECE + 13));
    const r = remote(m) as unknown as Record<string, unknown>;
    edit(r);
    const err = await dst.beginImport(r as unknown as RemoteManifest).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidManifestError);
    expect((err as Error).message).toMatch(message);
    expect((err as Error).message).toMatch(/Drop that peer/);
    expect(await counts(dst.dbName)).toEqual(EMPTY);
  });

  it('rejects non-objects and encoding-specific inconsistencies', async () => {
    const dst = await open();
    for (const v of [null, 42, 'manifest', []]) {
      await expect(dst.beginImport(v as unknown as RemoteManifest)).rejects.toBeInstanceOf(
        InvalidManifestError,
      );
    }
    const src = await open();
    const none = remote(await src.put(bytes(3 * PIECE)));
    await expect(
      dst.beginImport({ ...none, shard_hashes: [sha(new Uint8Array(2))] }),
    ).rejects.toThrow(/shard_hashes\[0\] == blob_hash/);
    await expect(dst.beginImport({ ...none, shard_size: 1 })).rejects.toThrow(
      /shard_size == total_size/,
    );
    const chunked = remote(await src.put(bytes(5 * PIECE + 3)));
    const lying = structuredClone(chunked);
    lying.shard_hashes[0] = sha(new Uint8Array(3));
    await expect(dst.beginImport(lying)).rejects.toThrow(/shard 0 is one piece/);
    await expect(dst.beginImport({ ...chunked, data_shards: 5 })).rejects.toThrow(/makes 6 shards/);
    const empty = remote(await src.put(new Uint8Array(0)));
    await expect(
      dst.beginImport({
        ...empty,
        blob_hash: none.blob_hash,
        blob_cid: none.blob_cid,
        shard_hashes: [none.blob_hash],
      }),
    ).rejects.toThrow(/sha256 of nothing/);
    expect(await counts(dst.dbName)).toEqual(EMPTY);
  });
});
