import 'fake-indexeddb/auto';
import { createHash } from 'node:crypto';
import { openDB } from 'idb';
import { afterEach, describe, expect, it } from 'vitest';
import { encode as rsEncode, StripeEncoder } from '../erasure/index.ts';
import { pseudoRandomBytes } from '../test-support/bytes.ts';
import { fakeLockManager } from '../test-support/locks.ts';
import {
  type ContentChange,
  type ContentStore,
  type ContentStoreOptions,
  cidOf,
  DB_VERSION,
  ImportClosedError,
  ImportIncompleteError,
  type ImportSession,
  InvalidManifestError,
  ManifestMismatchError,
  openContentStore,
  PieceMismatchError,
  type RemoteManifest,
  StorageQuotaError,
  type StoredManifest,
} from './index.ts';

const KiB = 1024;
const PIECE = 16 * KiB;
const SMALL = { chunkedAbove: 64 * KiB, rsAbove: 256 * KiB };

const sha = (b: Uint8Array) => `sha256-${createHash('sha256').update(b).digest('hex')}`;

const bytes = pseudoRandomBytes;

/** Deterministic Fisher–Yates. */
function shuffle<T>(items: readonly T[], seed = 7): T[] {
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
const stores: ContentStore[] = [];
async function open(extra: ContentStoreOptions = {}): Promise<ContentStore> {
  const store = await openContentStore({
    dbName: `import-test-${++dbCounter}-${Date.now()}`,
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

async function counts(name: string) {
  // biome-ignore lint/suspicious/noExplicitAny: schema-free access to the same database
  const db = await openDB<any>(name, DB_VERSION);
  const r = {
    manifests: await db.count('manifests'),
    pieces: await db.count('pieces'),
    pending: await db.count('pending'),
  };
  db.close();
  return r;
}
const EMPTY = { manifests: 0, pieces: 0, pending: 0 };

function same(actual: Uint8Array, expected: Uint8Array): void {
  expect(actual.length).toBe(expected.length);
  expect(Buffer.compare(actual, expected)).toBe(0);
}
async function readAll(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

function remote(m: StoredManifest): RemoteManifest {
  const { storage_key: _k, ...rest } = m;
  return structuredClone(rest);
}

interface Piece {
  shard: number;
  piece: number;
  bytes: Uint8Array;
}

/** What a peer would send: every needed piece, read (verified) from the source store. */
async function piecesFrom(src: ContentStore, m: StoredManifest, session: ImportSession) {
  const out: Piece[] = [];
  for (const { shard, piece } of session.needed) {
    out.push({ shard, piece, bytes: await src.readPiece(m.blob_hash, shard, piece) });
  }
  return out;
}

/** A source store with `data` in it, and an empty destination store. */
async function pair(data: Uint8Array, srcOpts: ContentStoreOptions = {}) {
  const src = await open(srcOpts);
  const dst = await open();
  const m = await src.put(data, { name: 'x.bin', mime: 'application/x-test', authorId: 'agent' });
  return { src, dst, m };
}

async function writeAll(session: ImportSession, pieces: readonly Piece[]) {
  for (const p of pieces) await session.writePiece(p.shard, p.piece, p.bytes);
}

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

      const { storage_key, verified_at, ...rest } = got;
      const { storage_key: srcKey, verified_at: _v, ...srcRest } = m;
      expect(rest).toEqual(srcRest);
      expect(storage_key).not.toBe(srcKey);
      expect(Date.parse(verified_at as string)).toBeGreaterThanOrEqual(Date.parse(m.created_at));
      expect(await dst.manifest(m.blob_hash)).toEqual(got);
      expect(events.map((e) => [e.kind, e.hash, e.remote])).toEqual([
        ['added', m.blob_hash, false],
      ]);

      same(await readAll(dst.get(m.blob_hash)), data);
      if (encoding === 'rs-4-7') {
        // The parity was recomputed locally and equals the source's.
        for (let s = 4; s < 7; s++) {
          for (let p = 0; p < (m.piece_hashes[s] as string[]).length; p++) {
            same(await dst.readPiece(m.blob_hash, s, p), await src.readPiece(m.blob_hash, s, p));
          }
        }
        expect((await dst.repair(m.blob_hash)).repaired).toEqual([]);
      }
      const stored = m.piece_hashes.flat().length;
      expect(await counts(dst.dbName)).toEqual({ manifests: 1, pieces: stored, pending: 0 });
      // Committing again returns the same result; abort after commit changes nothing.
      expect(await session.commit()).toEqual(got);
      await session.abort();
      expect(await dst.has(m.blob_hash)).toBe(true);
    },
  );
});

describe('bad pieces', () => {
  it('wrong bytes → PieceMismatchError, nothing written, the import goes on', async () => {
    const { src, dst, m } = await pair(bytes(16 * PIECE + 13));
    const session = await dst.beginImport(remote(m));
    const pieces = await piecesFrom(src, m, session);
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
    const { src, dst, m } = await pair(bytes(5 * PIECE + 3));
    const session = await dst.beginImport(remote(m));
    const pieces = await piecesFrom(src, m, session);
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
  const lies: [string, number, ContentStoreOptions, Lie, string][] = [
    [
      'none: blob hash (and shard 0)',
      3 * PIECE + 5,
      {},
      (r) => {
        r.blob_hash = otherHash as RemoteManifest['blob_hash'];
        r.blob_cid = cidOf(otherHash);
        r.shard_hashes = [otherHash];
      },
      'blob_hash',
    ],
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
      'chunked: a multi-piece shard hash',
      SMALL.rsAbove,
      { chunkSize: 3 * PIECE },
      (r) => {
        r.shard_hashes[1] = otherHash;
      },
      'shard_hashes',
    ],
    [
      'rs-4-7: blob hash',
      16 * PIECE + 13,
      {},
      (r) => {
        r.blob_hash = otherHash as RemoteManifest['blob_hash'];
        r.blob_cid = cidOf(otherHash);
      },
      'blob_hash',
    ],
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

describe('abort and cleanup', () => {
  it('abort() mid-way deletes everything; the session is closed afterwards', async () => {
    const { src, dst, m } = await pair(bytes(16 * PIECE + 13));
    const session = await dst.beginImport(remote(m));
    const pieces = await piecesFrom(src, m, session);
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
    const { src, dst, m } = await pair(bytes(size));
    const session = await dst.beginImport(remote(m));
    await writeAll(session, await piecesFrom(src, m, session));
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
    const { src, dst, m } = await pair(bytes(16 * PIECE + 13));
    const session = await dst.beginImport(remote(m));
    await writeAll(session, await piecesFrom(src, m, session));
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
  function failPiecePuts(after: number) {
    const proto = IDBObjectStore.prototype;
    const original = proto.put;
    let n = 0;
    proto.put = function (this: IDBObjectStore, ...args: Parameters<IDBObjectStore['put']>) {
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
    const { src, dst, m } = await pair(bytes(5 * PIECE + 3));
    const session = await dst.beginImport(remote(m));
    const pieces = await piecesFrom(src, m, session);
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

  it('a quota error while writing rs parity at commit → StorageQuotaError, nothing left', async () => {
    const { src, dst, m } = await pair(bytes(16 * PIECE + 13));
    const session = await dst.beginImport(remote(m));
    await writeAll(session, await piecesFrom(src, m, session));
    const restore = failPiecePuts(4);
    try {
      await expect(session.commit()).rejects.toBeInstanceOf(StorageQuotaError);
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
    const { src, dst, m } = await pair(data);
    const session = await dst.beginImport(remote(m));
    await writeAll(session, await piecesFrom(src, m, session));
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
});
