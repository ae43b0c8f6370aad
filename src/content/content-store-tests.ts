/**
 * The acceptance suite every content store backend passes (IndexedDB, filesystem): what a
 * `ContentStore` promises whatever holds its bytes. Each backend's test file calls
 * {@link runContentStoreTests} with a harness that opens its store and damages a piece the
 * way a disk or another program could.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { pseudoRandomBytes } from '../test-support/bytes.ts';
import {
  type ContentChange,
  type ContentStore,
  type ContentStoreOptions,
  CorruptPieceError,
  ImportClosedError,
  type ImportSession,
  isKept,
  ManifestMismatchError,
  NotFoundError,
  PieceMismatchError,
  type PieceRef,
  type StoredManifest,
} from './index.ts';
import { KiB, PIECE, piecesOf, readAll, remote, SMALL, sha } from './test-helpers.ts';

export interface StoreHarness {
  /** Opens the store under test; every call of one harness opens the same storage. */
  open(options?: Partial<ContentStoreOptions>): Promise<ContentStore>;
  /** Replaces the stored bytes of one piece of a committed blob. */
  corruptPiece(m: StoredManifest, shard: number, piece: number, bytes: Uint8Array): Promise<void>;
  /** Removes the storage (after the stores are closed). */
  cleanup(): Promise<void>;
}

export const TEST_OPTIONS: Partial<ContentStoreOptions> = {
  thresholds: SMALL,
  chunkSize: PIECE,
  pieceSize: PIECE,
};

/** Writes `refs` (default: every needed piece) of an import, each read verified from `src`. */
async function copyPieces(
  src: ContentStore,
  m: StoredManifest,
  session: { needed: ReadonlyArray<PieceRef>; writePiece: ImportSession['writePiece'] },
  refs: readonly PieceRef[] = session.needed,
): Promise<void> {
  for (const r of refs) {
    await session.writePiece(r.shard, r.piece, await src.readPiece(m.blob_hash, r.shard, r.piece));
  }
}

export function runContentStoreTests(name: string, makeHarness: () => Promise<StoreHarness>) {
  describe(`ContentStore acceptance: ${name}`, () => {
    const opened: ContentStore[] = [];
    const harnesses: StoreHarness[] = [];
    afterEach(async () => {
      for (const s of opened.splice(0)) s.close();
      for (const h of harnesses.splice(0)) await h.cleanup();
    });
    async function setup() {
      const h = await makeHarness();
      harnesses.push(h);
      const open = async (extra: Partial<ContentStoreOptions> = {}) => {
        const store = await h.open({ ...TEST_OPTIONS, ...extra });
        opened.push(store);
        return store;
      };
      return { h, open, store: await open() };
    }

    it.each([
      ['none', 40 * KiB],
      ['chunked', 200 * KiB + 123],
      ['rs-4-7', 600 * KiB + 7],
      ['none', 0],
    ])(
      'put %s of %i bytes → get returns the same bytes, list/has/manifest see it',
      async (encoding, size) => {
        const { store } = await setup();
        const data = pseudoRandomBytes(size);
        const m = await store.put(data, { name: 'a.bin', mime: 'application/x-test' });
        expect(m.encoding).toBe(encoding);
        expect(m.blob_hash).toBe(sha(data));
        expect(sha(await readAll(store.get(m.blob_hash)))).toBe(sha(data));
        expect(await store.has(m.blob_hash)).toBe(true);
        expect(await store.manifest(m.blob_hash)).toEqual(m);
        expect((await store.list()).map((x) => x.blob_hash)).toEqual([m.blob_hash]);
        if (size > 2) {
          const blob = await store.getBlob(m.blob_hash, { start: 1, end: size - 1 });
          expect(sha(new Uint8Array(await blob.arrayBuffer()))).toBe(
            sha(data.subarray(1, size - 1)),
          );
        }
      },
    );

    it('the same bytes twice → one blob (dedupe), list newest first, stats count them', async () => {
      const { store } = await setup();
      const a = await store.put(pseudoRandomBytes(30 * KiB, 1));
      const again = await store.put(pseudoRandomBytes(30 * KiB, 1));
      expect(again).toEqual(a);
      const b = await store.put(pseudoRandomBytes(100 * KiB, 2));
      expect((await store.list()).map((m) => m.blob_hash).sort()).toEqual(
        [a.blob_hash, b.blob_hash].sort(),
      );
      const stats = await store.stats();
      expect(stats).toMatchObject({
        items: 2,
        logicalBytes: 130 * KiB,
        storedBytes: 130 * KiB,
        pendingPuts: 0,
        heldBlobs: 0,
      });
    });

    it('an aborted put leaves nothing', async () => {
      const { store } = await setup();
      const ac = new AbortController();
      const reason = new Error('stop');
      const put = store.put(pseudoRandomBytes(600 * KiB), {
        signal: ac.signal,
        onProgress: (p) => {
          if (p.bytesDone > 0) ac.abort(reason);
        },
      });
      await expect(put).rejects.toBe(reason);
      expect(await store.list()).toEqual([]);
      expect((await store.stats()).pendingPuts).toBe(0);
    });

    it('a corrupt piece of a none blob → CorruptPieceError, no wrong byte read', async () => {
      const { h, store } = await setup();
      const m = await store.put(pseudoRandomBytes(40 * KiB));
      await h.corruptPiece(m, 0, 1, pseudoRandomBytes(PIECE, 99));
      const err = await readAll(store.get(m.blob_hash)).catch((e) => e);
      expect(err).toBeInstanceOf(CorruptPieceError);
      expect(err).toMatchObject({ shardIndex: 0, pieceIndex: 1, reason: 'mismatch' });
      await expect(store.readPiece(m.blob_hash, 0, 1)).rejects.toBeInstanceOf(CorruptPieceError);
      expect((await store.repair(m.blob_hash)).unrecoverable).toEqual([{ shard: 0, piece: 1 }]);
    });

    it('a corrupt rs-4-7 piece is rebuilt on read, and repair rewrites it', async () => {
      const { h, store } = await setup();
      const data = pseudoRandomBytes(600 * KiB);
      const m = await store.put(data);
      await h.corruptPiece(m, 2, 3, new Uint8Array(PIECE));
      let rebuilt = 0;
      const got = await readAll(
        store.get(m.blob_hash, { onProgress: (p) => (rebuilt = p.rebuiltPieces) }),
      );
      expect(sha(got)).toBe(m.blob_hash);
      expect(rebuilt).toBe(1);
      const report = await store.repair(m.blob_hash);
      expect(report.repaired).toEqual([{ shard: 2, piece: 3 }]);
      expect((await store.repair(m.blob_hash)).repaired).toEqual([]);
    });

    it('remove → gone, pieces too; change events carry {kind, hash, remote}', async () => {
      const { store } = await setup();
      const events: ContentChange[] = [];
      store.addEventListener('change', (e) => events.push(e.detail));
      const m = await store.put(pseudoRandomBytes(200 * KiB));
      expect(await store.remove(m.blob_hash)).toBe(true);
      expect(await store.remove(m.blob_hash)).toBe(false);
      expect(await store.has(m.blob_hash)).toBe(false);
      await expect(readAll(store.get(m.blob_hash))).rejects.toBeInstanceOf(NotFoundError);
      expect((await store.stats()).storedBytes).toBe(0);
      expect(events).toEqual([
        { kind: 'added', hash: m.blob_hash, remote: false },
        { kind: 'removed', hash: m.blob_hash, remote: false },
      ]);
    });

    it('an import from pieces in any order commits the blob', async () => {
      const { store: src } = await setup();
      const { store: dst } = await setup();
      for (const size of [40 * KiB, 200 * KiB, 600 * KiB]) {
        const data = pseudoRandomBytes(size, 7);
        const m = await src.put(data);
        const session = await dst.beginImport(remote(m));
        await copyPieces(src, m, session, [...session.needed].reverse());
        const got = await session.commit();
        expect(got.blob_hash).toBe(m.blob_hash);
        expect(sha(await readAll(dst.get(m.blob_hash)))).toBe(sha(data));
      }
      expect((await dst.stats()).pendingPuts).toBe(0);
    });

    it('an import: wrong bytes are refused, a lying manifest is caught, nothing is kept', async () => {
      const { store: src } = await setup();
      const { store: dst } = await setup();
      const m = await src.put(pseudoRandomBytes(40 * KiB, 8));
      const session = await dst.beginImport(remote(m));
      await expect(session.writePiece(0, 0, pseudoRandomBytes(PIECE, 1))).rejects.toBeInstanceOf(
        PieceMismatchError,
      );
      // A manifest whose pieces are another blob's: the pieces verify, the blob hash does not.
      const other = await src.put(pseudoRandomBytes(40 * KiB, 9));
      const liar = { ...remote(other), blob_hash: m.blob_hash, blob_cid: m.blob_cid };
      liar.shard_hashes = [m.blob_hash];
      const lie = await dst.beginImport(liar);
      await copyPieces(src, other, lie);
      await expect(lie.commit()).rejects.toBeInstanceOf(ManifestMismatchError);
      await expect(lie.writePiece(0, 0, new Uint8Array(1))).rejects.toBeInstanceOf(
        ImportClosedError,
      );
      await session.abort();
      expect(await dst.list()).toEqual([]);
      expect((await dst.stats()).pendingPuts).toBe(0);
    });

    it('holdings: some shards kept, served verified, dropped; invisible to has/list', async () => {
      const { store: src } = await setup();
      const { store: dst } = await setup();
      const m = await src.put(pseudoRandomBytes(600 * KiB, 11));
      const session = await dst.beginShardImport(remote(m), [1, 5]);
      for (const p of await piecesOf(src, m, [1, 5]))
        await session.writePiece(p.shard, p.piece, p.bytes);
      const holding = await session.commit();
      expect(holding?.shards.map((s) => s.index)).toEqual([1, 5]);
      expect(await dst.has(m.blob_hash)).toBe(false);
      expect(await dst.list()).toEqual([]);
      expect((await dst.holdings()).map((x) => x.blob_hash)).toEqual([m.blob_hash]);
      expect(await dst.readPiece(m.blob_hash, 5, 0)).toEqual(
        await src.readPiece(m.blob_hash, 5, 0),
      );
      await expect(dst.readPiece(m.blob_hash, 2, 0)).rejects.toBeInstanceOf(NotFoundError);
      expect(await dst.stats()).toMatchObject({ heldBlobs: 1, heldBytes: 2 * m.shard_size });
      expect(await dst.dropShards(m.blob_hash, [1])).toEqual([1]);
      expect((await dst.holding(m.blob_hash))?.shards.map((s) => s.index)).toEqual([5]);
      expect(await dst.dropShards(m.blob_hash)).toEqual([5]);
      expect(await dst.holding(m.blob_hash)).toBeUndefined();
      expect((await dst.stats()).storedBytes).toBe(0);
    });

    it('a whole blob committed where shards were held replaces the holding', async () => {
      const { store: src } = await setup();
      const { store: dst } = await setup();
      const m = await src.put(pseudoRandomBytes(600 * KiB, 12));
      const shards = await dst.beginShardImport(remote(m), [0]);
      for (const p of await piecesOf(src, m, [0]))
        await shards.writePiece(p.shard, p.piece, p.bytes);
      await shards.commit();
      const whole = await dst.beginImport(remote(m));
      await copyPieces(src, m, whole);
      await whole.commit();
      expect(await dst.holding(m.blob_hash)).toBeUndefined();
      expect(await dst.stats()).toMatchObject({
        items: 1,
        heldBlobs: 0,
        storedBytes: 4 * m.shard_size,
      });
    });

    it('an rs-4-7 copy from peers keeps its data only: parity is computed and verified when read', async () => {
      const { store: src } = await setup();
      const { h, store: dst } = await setup();
      const data = pseudoRandomBytes(600 * KiB, 13);
      const m = await src.put(data);
      expect(m.parity).toBeUndefined();
      const session = await dst.beginImport(remote(m));
      await copyPieces(src, m, session);
      const got = await session.commit();
      expect(got.parity).toBe('derived');
      // A 600 KiB item takes its 4 data shards here, not 7 shards' worth.
      expect((await dst.stats()).storedBytes).toBe(4 * m.shard_size);
      expect((await src.stats()).storedBytes).toBe(7 * m.shard_size);
      // Every parity piece a peer may ask for is the author's, byte for byte.
      for (let s = m.data_shards; s < m.total_shards; s++) {
        for (let p = 0; p < (m.piece_hashes[s] as string[]).length; p++) {
          expect(await dst.readPiece(m.blob_hash, s, p)).toEqual(
            await src.readPiece(m.blob_hash, s, p),
          );
        }
      }
      // Missing parity is not damage: nothing to repair.
      expect(await dst.repair(m.blob_hash)).toMatchObject({ repaired: [], unrecoverable: [] });
      // A damaged data piece has no local parity to come back from: said, never read wrong.
      await h.corruptPiece(got, 1, 2, new Uint8Array(PIECE));
      const err = await readAll(dst.get(m.blob_hash)).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(CorruptPieceError);
      expect((await dst.repair(m.blob_hash)).unrecoverable).toEqual([{ shard: 1, piece: 2 }]);
      await expect(dst.readPiece(m.blob_hash, 4, 2)).rejects.toBeInstanceOf(CorruptPieceError);
    });

    it('a copy kept for a peer says so; fetched or added here, it becomes the person’s own', async () => {
      const { store: src } = await setup();
      const { store: dst } = await setup();
      const a = await src.put(pseudoRandomBytes(40 * KiB, 21));
      const b = await src.put(pseudoRandomBytes(200 * KiB, 22));
      expect(a.origin).toMatchObject({ how: 'added' });
      for (const m of [a, b]) {
        const kept = await dst.beginImport(remote(m), { keptFor: 'peer-a' });
        await copyPieces(src, m, kept);
        const got = await kept.commit();
        expect(got.origin).toMatchObject({ how: 'kept', for: 'peer-a' });
        expect(isKept(got)).toBe(true);
      }
      const changes: ContentChange[] = [];
      dst.addEventListener('change', (e) => changes.push(e.detail));
      // Fetched by the person: nothing to copy, but it is theirs now.
      const fetched = await dst.beginImport(remote(a));
      expect(fetched.alreadyStored).toBe(true);
      expect((await fetched.commit()).origin).toMatchObject({ how: 'fetched' });
      // Added by the person: the same.
      expect((await dst.put(pseudoRandomBytes(200 * KiB, 22))).origin).toMatchObject({
        how: 'added',
      });
      expect(changes.map((c) => `${c.kind} ${c.hash}`)).toEqual([
        `added ${a.blob_hash}`,
        `added ${b.blob_hash}`,
      ]);
      // Letting go of what is kept for others leaves them.
      expect(await dst.release(a.blob_hash)).toBe(false);
      expect(await dst.release(b.blob_hash)).toBe(false);
      expect((await dst.list()).every((m) => !isKept(m))).toBe(true);
      expect(await dst.claim(a.blob_hash)).toBeUndefined();
    });

    it('release lets go of a kept copy and kept shards, never of the person’s own', async () => {
      const { store: src } = await setup();
      const { store: dst } = await setup();
      const whole = await src.put(pseudoRandomBytes(40 * KiB, 23));
      const big = await src.put(pseudoRandomBytes(600 * KiB, 24));
      const kept = await dst.beginImport(remote(whole), { keptFor: 'peer-a' });
      await copyPieces(src, whole, kept);
      await kept.commit();
      const shards = await dst.beginShardImport(remote(big), [2]);
      for (const p of await piecesOf(src, big, [2]))
        await shards.writePiece(p.shard, p.piece, p.bytes);
      await shards.commit();
      const own = await dst.put(pseudoRandomBytes(30 * KiB, 25));
      expect(await dst.release(whole.blob_hash)).toBe(true);
      expect(await dst.release(big.blob_hash)).toBe(true);
      expect(await dst.release(own.blob_hash)).toBe(false);
      expect((await dst.list()).map((m) => m.blob_hash)).toEqual([own.blob_hash]);
      expect(await dst.holdings()).toEqual([]);
      expect((await dst.stats()).storedBytes).toBe(own.total_size);
      // The claim of a copy kept for others is a fetch: its bytes stay, it is no longer kept.
      const again = await dst.beginImport(remote(whole), { keptFor: 'peer-b' });
      await copyPieces(src, whole, again);
      await again.commit();
      expect(await dst.claim(whole.blob_hash)).toMatchObject({ origin: { how: 'fetched' } });
      expect(await dst.release(whole.blob_hash)).toBe(false);
      expect(await dst.has(whole.blob_hash)).toBe(true);
    });

    it('an import left open by a closed store is swept, a live one is not', async () => {
      const { store: src } = await setup();
      const { open, store: first } = await setup();
      const m = await src.put(pseudoRandomBytes(200 * KiB, 13));
      const session = await first.beginImport(remote(m));
      await copyPieces(src, m, session, session.needed.slice(0, 1));
      // A second store on the same storage: its sweep on open leaves the live import alone.
      const second = await open();
      expect(await second.sweep()).toBe(0);
      expect((await second.stats()).pendingPuts).toBe(1);
      first.close();
      expect(await second.sweep()).toBe(1);
      expect(await second.stats()).toMatchObject({ pendingPuts: 0, items: 0, storedBytes: 0 });
      // The same blob imports again from scratch.
      const again = await second.beginImport(remote(m));
      await copyPieces(src, m, again);
      await again.commit();
      expect(sha(await readAll(second.get(m.blob_hash)))).toBe(m.blob_hash);
    });
  });
}
