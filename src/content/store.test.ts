import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import { encode as rsEncode } from '../erasure/index.ts';
import { fakeLockManager } from '../test-support/locks.ts';
import {
  bytes,
  counts,
  KiB,
  open,
  PIECE,
  raw,
  readAll,
  SMALL,
  same,
  sha,
  stores,
} from './import-test-support.ts';
import {
  type ContentChange,
  ContentError,
  type ContentStore,
  CorruptPieceError,
  cidOf,
  InvalidHashError,
  NotFoundError,
  openContentStore,
  type PutProgress,
  StorageQuotaError,
  type StoredManifest,
  toShardManifest,
} from './index.ts';

async function flipByte(store: ContentStore, m: StoredManifest, shard: number, piece: number) {
  const db = await raw(store.dbName);
  const key = [m.storage_key, shard, piece];
  const v = new Uint8Array((await db.get('pieces', key)) as ArrayBuffer);
  v[v.length >> 1] = (v[v.length >> 1] as number) ^ 0x01;
  await db.put('pieces', v.buffer, key);
  db.close();
}
async function deleteShards(store: ContentStore, m: StoredManifest, shards: number[]) {
  const db = await raw(store.dbName);
  for (const s of shards) {
    await db.delete('pieces', IDBKeyRange.bound([m.storage_key, s], [m.storage_key, s, []]));
  }
  db.close();
}

describe('round trips', () => {
  const sizes: [number, string][] = [
    [0, 'none'],
    [1, 'none'],
    [PIECE - 1, 'none'],
    [PIECE, 'none'],
    [PIECE + 1, 'none'],
    [SMALL.chunkedAbove, 'none'],
    [SMALL.chunkedAbove + 1, 'chunked'],
    [5 * PIECE + 3, 'chunked'],
    [SMALL.rsAbove, 'chunked'],
    [SMALL.rsAbove + 1, 'rs-4-7'],
    [16 * PIECE + 4 * 3 + 1, 'rs-4-7'], // padding in the last data shard
    [20 * PIECE, 'rs-4-7'], // shards a whole number of pieces
  ];
  it.each(sizes)('%i bytes → %s, byte-identical', async (size, encoding) => {
    const store = await open();
    const data = bytes(size);
    const m = await store.put(data, { name: 'x.bin', mime: 'application/x-test' });
    expect(m.encoding).toBe(encoding);
    expect(m.blob_hash).toBe(sha(data));
    expect(m.blob_cid).toBe(cidOf(m.blob_hash));
    expect(m.total_size).toBe(size);
    expect(m.mime_type).toBe('application/x-test');
    expect(m.name).toBe('x.bin');
    expect(m.reach).toBe('commons');
    expect(m.piece_size).toBe(PIECE);
    same(await readAll(store.get(m.blob_hash)), data);
    const blob = await store.getBlob(m.blob_hash);
    expect(blob.type).toBe('application/x-test');
    same(new Uint8Array(await blob.arrayBuffer()), data);
  });

  it('accepts Blob and ReadableStream sources and reports progress', async () => {
    const store = await open();
    const data = bytes(200 * KiB + 7);
    const phases = new Set<string>();
    let last: PutProgress | undefined;
    const stream = new Blob([data as Uint8Array<ArrayBuffer>]).stream();
    const m = await store.put(stream, {
      onProgress: (p) => {
        phases.add(p.phase);
        last = p;
      },
    });
    expect(phases).toContain('buffering');
    expect(phases).toContain('writing');
    expect(last).toMatchObject({ phase: 'done', bytesDone: data.length, totalBytes: data.length });
    const fromBlob = await store.put(
      new Blob([data as Uint8Array<ArrayBuffer>], { type: 'text/x' }),
    );
    expect(fromBlob.blob_hash).toBe(m.blob_hash);
    expect(m.mime_type).toBe('application/octet-stream');
  });

  it('reports get progress and honours abort on get', async () => {
    const store = await open();
    const data = bytes(100 * KiB);
    const m = await store.put(data);
    const seen: number[] = [];
    await readAll(store.get(m.blob_hash, { onProgress: (p) => seen.push(p.bytesDone) }));
    expect(seen.at(-1)).toBe(data.length);
    const ac = new AbortController();
    const reader = store.get(m.blob_hash, { signal: ac.signal }).getReader();
    await reader.read();
    ac.abort(new Error('stop'));
    await expect(
      (async () => {
        for (;;) if ((await reader.read()).done) return;
      })(),
    ).rejects.toThrow('stop');
  });
});

describe('manifest shapes (independent sha256)', () => {
  it('none: one shard, the blob itself', async () => {
    const store = await open();
    const data = bytes(3 * PIECE + 5);
    const m = await store.put(data);
    expect(m).toMatchObject({
      encoding: 'none',
      data_shards: 1,
      total_shards: 1,
      shard_size: data.length,
    });
    expect(m.shard_hashes).toEqual([sha(data)]);
    expect(m.piece_hashes).toEqual([
      [0, 1, 2, 3].map((p) => sha(data.subarray(p * PIECE, (p + 1) * PIECE))),
    ]);
    expect(m.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(m.verified_at).toBe(m.created_at);
    expect(m.author_id).toBeNull();
  });

  it('chunked: N sequential chunks of chunkSize, pieces within chunks', async () => {
    // chunk ≠ piece size exercises the per-chunk incremental hasher.
    const store = await open({ chunkSize: 2 * PIECE });
    const data = bytes(100 * KiB + 3);
    const m = await store.put(data);
    const n = Math.ceil(data.length / (2 * PIECE));
    expect(m).toMatchObject({
      encoding: 'chunked',
      data_shards: n,
      total_shards: n,
      shard_size: 2 * PIECE,
    });
    const chunks = Array.from({ length: n }, (_, i) =>
      data.subarray(i * 2 * PIECE, (i + 1) * 2 * PIECE),
    );
    expect(m.shard_hashes).toEqual(chunks.map(sha));
    expect(m.piece_hashes.map((p) => p.length)).toEqual(
      chunks.map((c) => Math.ceil(c.length / PIECE)),
    );
    expect(m.piece_hashes[n - 1]).toEqual(
      [sha((chunks[n - 1] as Uint8Array).subarray(0, PIECE))].slice(0, 1),
    );
    same(await readAll(store.get(m.blob_hash)), data);
  });

  it('rs-4-7: padded shards of ceil(len/4), hashes match a one-shot encode', async () => {
    const store = await open();
    const data = bytes(300 * KiB + 3);
    const m = await store.put(data);
    const ss = Math.ceil(data.length / 4);
    expect(m).toMatchObject({
      encoding: 'rs-4-7',
      data_shards: 4,
      total_shards: 7,
      shard_size: ss,
    });
    const padded = new Uint8Array(4 * ss);
    padded.set(data);
    for (let k = 0; k < 4; k++)
      expect(m.shard_hashes[k]).toBe(sha(padded.subarray(k * ss, (k + 1) * ss)));
    const shards = rsEncode(data);
    expect(m.shard_hashes).toEqual(shards.map(sha));
    const stripes = Math.ceil(ss / PIECE);
    expect(m.piece_hashes).toEqual(
      shards.map((s) =>
        Array.from({ length: stripes }, (_, j) => sha(s.subarray(j * PIECE, (j + 1) * PIECE))),
      ),
    );
    // piece-level access for the network layer: parity pieces too
    same(
      await store.readPiece(m.blob_hash, 6, stripes - 1),
      (shards[6] as Uint8Array).subarray((stripes - 1) * PIECE),
    );
    expect((await counts(store.dbName)).pieces).toBe(7 * stripes);
  });
});

describe('catalogue', () => {
  it('has / manifest / list (newest first) / remove / stats / events', async () => {
    const store = await open();
    const events: string[] = [];
    store.addEventListener('change', ({ detail: e }: CustomEvent<ContentChange>) =>
      events.push(`${e.kind}:${e.remote}`),
    );
    const a = await store.put(bytes(10, 1));
    await new Promise((r) => setTimeout(r, 3));
    const b = await store.put(bytes(100 * KiB, 2));
    await new Promise((r) => setTimeout(r, 3));
    const c = await store.put(bytes(300 * KiB, 3));
    expect(await store.has(a.blob_hash)).toBe(true);
    expect(await store.has(cidOf(b.blob_hash))).toBe(true);
    expect(await store.has(sha(bytes(11)))).toBe(false);
    expect((await store.manifest(c.blob_hash.slice(7)))?.encoding).toBe('rs-4-7');
    expect((await store.list()).map((m) => m.blob_hash)).toEqual([c, b, a].map((m) => m.blob_hash));
    expect(await store.stats()).toEqual({
      items: 3,
      logicalBytes: 10 + 100 * KiB + 300 * KiB,
      storedBytes: 10 + 100 * KiB + 7 * c.shard_size,
      pendingPuts: 0,
      heldBlobs: 0,
      heldBytes: 0,
    });
    expect(await store.remove(b.blob_hash)).toBe(true);
    expect(await store.remove(b.blob_hash)).toBe(false);
    expect(await store.has(b.blob_hash)).toBe(false);
    await expect(readAll(store.get(b.blob_hash))).rejects.toBeInstanceOf(NotFoundError);
    await expect(store.getBlob(b.blob_hash)).rejects.toBeInstanceOf(NotFoundError);
    expect((await store.stats()).items).toBe(2);
    const piecesLeft = (await counts(store.dbName)).pieces;
    expect(piecesLeft).toBe(1 + 7 * Math.ceil(c.shard_size / PIECE));
    expect(events).toEqual(['added:false', 'added:false', 'added:false', 'removed:false']);
  });

  it('dedupes: a second put of the same bytes keeps one copy', async () => {
    const store = await open();
    const data = bytes(120 * KiB);
    const first = await store.put(data, { name: 'a' });
    const before = await counts(store.dbName);
    const [x, y] = await Promise.all([
      store.put(data, { name: 'b' }),
      store.put(data, { name: 'c' }),
    ]);
    expect(x).toEqual(first);
    expect(y).toEqual(first);
    expect(await counts(store.dbName)).toEqual(before);
    expect((await store.list()).length).toBe(1);
  });

  it('notifies other store instances (tabs) of changes', async () => {
    const a = await open();
    const b = await openContentStore({ dbName: a.dbName, thresholds: SMALL, locks: null });
    stores.push(b);
    const got = new Promise<ContentChange>((resolve) =>
      b.addEventListener('change', (e) => resolve(e.detail)),
    );
    const m = await a.put(bytes(5));
    const e = await got;
    expect([e.kind, e.hash, e.remote]).toEqual(['added', m.blob_hash, true]);
  });
});

describe('atomicity', () => {
  it('abort mid-put leaves no manifest, no pending and no pieces', async () => {
    for (const size of [200 * KiB, 600 * KiB]) {
      const store = await open();
      const ac = new AbortController();
      const reason = new Error('user cancelled');
      let aborted = false;
      const put = store.put(bytes(size), {
        signal: ac.signal,
        onProgress: (p) => {
          if (p.phase === 'writing' && p.bytesDone > 0 && !aborted) {
            aborted = true;
            ac.abort(reason);
          }
        },
      });
      await expect(put).rejects.toBe(reason);
      expect(aborted).toBe(true);
      expect(await counts(store.dbName)).toEqual({ manifests: 0, pieces: 0, pending: 0 });
    }
  });

  it('an already-aborted signal rejects with an AbortError', async () => {
    const store = await open();
    await expect(store.put(bytes(10), { signal: AbortSignal.abort() })).rejects.toMatchObject({
      name: 'AbortError',
    });
    expect(await counts(store.dbName)).toEqual({ manifests: 0, pieces: 0, pending: 0 });
  });

  it.each([
    ['thrown by put()', 'sync'],
    ['aborting the transaction, as Chromium does', 'async'],
  ])('a quota error mid-write (%s) becomes StorageQuotaError, no orphans', async (_label, mode) => {
    const proto = IDBObjectStore.prototype;
    const original = proto.put;
    for (const size of [200 * KiB, 600 * KiB]) {
      const store = await open();
      let n = 0;
      proto.put = function (this: IDBObjectStore, ...args: Parameters<IDBObjectStore['put']>) {
        if (this.name === 'pieces' && ++n > 12) {
          if (mode === 'sync') {
            throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
          }
          const tx = this.transaction as unknown as { _abort(name: string): void };
          const req = original.apply(this, args);
          queueMicrotask(() => tx._abort('QuotaExceededError'));
          return req;
        }
        return original.apply(this, args);
      };
      try {
        const err = await store.put(bytes(size)).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(StorageQuotaError);
        expect((err as Error).message).toMatch(/persistent storage/);
      } finally {
        proto.put = original;
      }
      expect(n).toBeGreaterThan(12);
      expect(await counts(store.dbName)).toEqual({ manifests: 0, pieces: 0, pending: 0 });
      // the store still works afterwards
      const m = await store.put(bytes(1000));
      expect(await store.has(m.blob_hash)).toBe(true);
    }
  });

  it('sweeps a put interrupted by a closed tab on the next open (no Web Locks)', async () => {
    const a = await open();
    // A Blob whose reads stall after some pieces were written: the "tab" then dies.
    let stalled!: () => void;
    const stall = new Promise<void>((r) => (stalled = r));
    class StallingBlob extends Blob {
      override slice(start?: number, end?: number, type?: string): Blob {
        if ((start ?? 0) >= 128 * KiB) {
          stalled();
          return { arrayBuffer: () => new Promise(() => {}) } as unknown as Blob;
        }
        return super.slice(start, end, type);
      }
    }
    void a.put(new StallingBlob([bytes(200 * KiB) as Uint8Array<ArrayBuffer>])).catch(() => {});
    await stall;
    await new Promise((r) => setTimeout(r, 20));
    const before = await counts(a.dbName);
    expect(before.pending).toBe(1);
    expect(before.pieces).toBeGreaterThan(0);
    // A second live instance must not touch it…
    const b = await openContentStore({ dbName: a.dbName, locks: null });
    stores.push(b);
    expect((await counts(a.dbName)).pending).toBe(1);
    a.close(); // …but once its owner is gone, the next open sweeps it.
    const c = await openContentStore({ dbName: a.dbName, locks: null });
    stores.push(c);
    expect(await counts(a.dbName)).toEqual({ manifests: 0, pieces: 0, pending: 0 });
  });

  it('with Web Locks, sweeps only pendings whose lock is free', async () => {
    const { locks, held } = fakeLockManager();
    const store = await open({ locks });
    const m = await store.put(bytes(100 * KiB)); // a normal put takes and releases its lock
    const db = await raw(store.dbName);
    for (const id of ['dead', 'alive']) {
      await db.put('pending', {
        id,
        owner: 'x',
        started_at: new Date().toISOString(),
        total_size: 1,
      });
      await db.put('pieces', new ArrayBuffer(4), [id, 0, 0]);
    }
    db.close();
    held.add('elohim-put-alive');
    expect(await store.sweep()).toBe(1);
    const after = await raw(store.dbName);
    expect(await after.getAllKeys('pending')).toEqual(['alive']);
    expect(await after.count('pieces', IDBKeyRange.bound(['dead'], ['dead', []]))).toBe(0);
    expect(await after.count('pieces', IDBKeyRange.bound(['alive'], ['alive', []]))).toBe(1);
    after.close();
    same(await readAll(store.get(m.blob_hash)), bytes(100 * KiB));
  });
});

describe('verified reads', () => {
  it.each([
    ['none', 40 * KiB],
    ['chunked', 100 * KiB],
  ])('%s: a flipped byte → CorruptPieceError naming the piece', async (_enc, size) => {
    const store = await open();
    const m = await store.put(bytes(size));
    const shard = m.encoding === 'none' ? 0 : 2;
    const piece = m.encoding === 'none' ? 1 : 0;
    await flipByte(store, m, shard, piece);
    const err = await readAll(store.get(m.blob_hash)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CorruptPieceError);
    expect(err).toMatchObject({
      hash: m.blob_hash,
      shardIndex: shard,
      pieceIndex: piece,
      reason: 'mismatch',
    });
    await expect(store.readPiece(m.blob_hash, shard, piece)).rejects.toBeInstanceOf(
      CorruptPieceError,
    );
    // getBlob must surface the typed error, not a generic stream failure.
    await expect(store.getBlob(m.blob_hash)).rejects.toMatchObject({
      name: 'CorruptPieceError',
      shardIndex: shard,
      pieceIndex: piece,
    });
    const report = await store.repair(m.blob_hash);
    expect(report.unrecoverable).toEqual([{ shard, piece }]);
  });

  it('none: a stream stops before emitting the corrupt piece', async () => {
    const store = await open();
    const data = bytes(40 * KiB);
    const m = await store.put(data);
    await flipByte(store, m, 0, 1);
    const reader = store.get(m.blob_hash).getReader();
    const first = await reader.read();
    same(first.value as Uint8Array, data.subarray(0, PIECE));
    await expect(reader.read()).rejects.toBeInstanceOf(CorruptPieceError);
  });

  it('rs-4-7: corrupt pieces are rebuilt transparently, and repair rewrites them', async () => {
    const store = await open();
    const data = bytes(300 * KiB + 1);
    const m = await store.put(data);
    await flipByte(store, m, 1, 2);
    await flipByte(store, m, 5, 2);
    await flipByte(store, m, 3, 0);
    let rebuilt = 0;
    same(
      await readAll(store.get(m.blob_hash, { onProgress: (p) => (rebuilt = p.rebuiltPieces) })),
      data,
    );
    expect(rebuilt).toBe(2); // data pieces (1,2) and (3,0); parity is not read when data verifies
    same(
      await store.readPiece(m.blob_hash, 5, 2),
      (rsEncode(data)[5] as Uint8Array).subarray(2 * PIECE, 3 * PIECE),
    );
    const report = await store.repair(m.blob_hash);
    expect(report.repaired).toEqual(
      expect.arrayContaining([
        { shard: 1, piece: 2 },
        { shard: 5, piece: 2 },
        { shard: 3, piece: 0 },
      ]),
    );
    expect(report.unrecoverable).toEqual([]);
    expect((await store.repair(m.blob_hash)).repaired).toEqual([]);
  });

  it('rs-4-7: any 3 of 7 shards lost still reads; 4 lost → typed error', async () => {
    const store = await open();
    const data = bytes(300 * KiB + 2);
    const m = await store.put(data);
    await deleteShards(store, m, [0, 2, 5]);
    same(await readAll(store.get(m.blob_hash)), data);
    same(new Uint8Array(await (await store.getBlob(m.blob_hash)).arrayBuffer()), data);
    await flipByte(store, m, 6, 1); // a 4th bad piece in stripe 1 only
    const err = await readAll(store.get(m.blob_hash)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CorruptPieceError);
    expect(err).toMatchObject({ shardIndex: 0, pieceIndex: 1, reason: 'unrecoverable' });
    await deleteShards(store, m, [3]);
    await expect(readAll(store.get(m.blob_hash))).rejects.toBeInstanceOf(CorruptPieceError);
    const report = await store.repair(m.blob_hash);
    expect(report.repaired).toEqual([]);
    expect(report.unrecoverable.length).toBeGreaterThan(0);
  });
});

describe('API edges', () => {
  it('toShardManifest gives exactly the Rust fields', async () => {
    const store = await open();
    const m = await store.put(bytes(100), { reach: 'neighborhood', authorId: 'uhCAk' });
    const rust = toShardManifest(m);
    expect(Object.keys(rust).sort()).toEqual(
      [
        'blob_cid',
        'blob_hash',
        'total_size',
        'mime_type',
        'encoding',
        'data_shards',
        'total_shards',
        'shard_size',
        'shard_hashes',
        'reach',
        'author_id',
        'created_at',
        'verified_at',
      ].sort(),
    );
    expect(rust).toMatchObject({ reach: 'neighborhood', author_id: 'uhCAk' });
  });

  it('rejects bad input with typed errors', async () => {
    const store = await open();
    await expect(store.put(bytes(1), { reach: 'everyone' as never })).rejects.toBeInstanceOf(
      ContentError,
    );
    await expect(store.has('nope')).rejects.toBeInstanceOf(InvalidHashError);
    const m = await store.put(bytes(1000));
    await expect(store.readPiece(m.blob_hash, 1, 0)).rejects.toBeInstanceOf(RangeError);
    await expect(store.readPiece(m.blob_hash, 0, 1)).rejects.toBeInstanceOf(RangeError);
    await expect(store.readPiece(sha(bytes(7)), 0, 0)).rejects.toBeInstanceOf(NotFoundError);
    await expect(
      openContentStore({ thresholds: { chunkedAbove: 10, rsAbove: 5 } }),
    ).rejects.toBeInstanceOf(ContentError);
    store.close();
    await expect(store.list()).rejects.toThrow(/closed/);
  });

  it('aborting while a stream is being buffered cancels it and stores nothing', async () => {
    const store = await open();
    const ac = new AbortController();
    let cancelled = false;
    const stream = new ReadableStream<Uint8Array>({
      pull(c) {
        c.enqueue(bytes(1000));
        if (!ac.signal.aborted) setTimeout(() => ac.abort(), 5);
        return new Promise((r) => setTimeout(r, 1));
      },
      cancel() {
        cancelled = true;
      },
    });
    await expect(store.put(stream, { signal: ac.signal })).rejects.toMatchObject({
      name: 'AbortError',
    });
    expect(cancelled).toBe(true);
    expect(await counts(store.dbName)).toEqual({ manifests: 0, pieces: 0, pending: 0 });
  });
});
