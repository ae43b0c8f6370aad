import 'fake-indexeddb/auto';
import { randomBytes } from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import { KiB, open as openStore, PIECE, readAll } from './import-test-support.ts';

/** Chunked shards of two pieces, so ranges cross piece boundaries inside a shard as well as shard boundaries. */
const open = () => openStore({ chunkSize: 2 * PIECE });

describe('ranged reads', () => {
  it.each([
    ['none', 50 * KiB + 3],
    ['chunked', 200 * KiB + 7],
    ['rs-4-7', 700 * KiB + 11],
  ])('%s: any range returns exactly those bytes', async (encoding, size) => {
    const store = await open();
    const data = new Uint8Array(randomBytes(size));
    const m = await store.put(data);
    expect(m.encoding).toBe(encoding);
    const cases: [number, number][] = [
      [0, size],
      [0, 1],
      [size - 1, size],
      [PIECE - 1, PIECE + 1], // across a piece boundary
      [m.shard_size - 5, m.shard_size + 5], // across a shard boundary (rs, chunked)
      [size - 10_000, size], // a seek near the end
      [1234, 1234], // empty
    ];
    for (const [start, end] of cases) {
      const got = await readAll(store.get(m.blob_hash, { start, end }));
      expect(got, `${start}-${end}`).toEqual(data.slice(start, end));
    }
  });

  it('reports progress for the range, not the whole blob', async () => {
    const store = await open();
    const size = 700 * KiB;
    const m = await store.put(new Uint8Array(randomBytes(size)));
    let progress = { bytesDone: 0, totalBytes: 0 };
    await readAll(
      store.get(m.blob_hash, {
        start: size - 100,
        end: size,
        onProgress: (p) => {
          progress = p;
        },
      }),
    );
    expect(progress).toMatchObject({ bytesDone: 100, totalBytes: 100 });
  });

  it('refuses a range that is not inside the blob', async () => {
    const store = await open();
    const m = await store.put(new Uint8Array(randomBytes(1000)));
    await expect(readAll(store.get(m.blob_hash, { start: 10, end: 5 }))).rejects.toThrow(
      RangeError,
    );
    await expect(readAll(store.get(m.blob_hash, { start: -1 }))).rejects.toThrow(RangeError);
  });

  it('holds bufferPieces verified pieces ahead of a reader that has not read yet', async () => {
    const store = await open();
    const m = await store.put(new Uint8Array(randomBytes(10 * PIECE)));
    const ahead = { one: 0, three: 0 };
    // Neither stream is read: what each holds is what it pulled on its own.
    const one = store.get(m.blob_hash, { onProgress: (p) => (ahead.one = p.bytesDone) });
    const three = store.get(m.blob_hash, {
      bufferPieces: 3,
      onProgress: (p) => (ahead.three = p.bytesDone),
    });
    await vi.waitFor(() => expect(ahead.three).toBe(3 * PIECE), { timeout: 10_000 });
    // The default stream had the same time and stopped after one piece.
    expect(ahead.one).toBe(PIECE);
    await one.cancel();
    await three.cancel();
  });

  it('cancelling a partial read withdraws what it asked for ahead', async () => {
    const store = await open();
    const m = await store.put(new Uint8Array(randomBytes(10 * PIECE)));
    const signals: AbortSignal[] = [];
    const stream = store.readPartial(m, {
      readAhead: 4,
      ensure: async (_pieces, signal) => {
        if (signal) signals.push(signal);
      },
    });
    const reader = stream.getReader();
    await reader.read();
    // The read-ahead asked.
    await vi.waitFor(() => expect(signals.length).toBeGreaterThan(1), { timeout: 10_000 });
    expect(signals.some((s) => s.aborted)).toBe(false);
    await reader.cancel(new Error('seeked away'));
    expect(signals.every((s) => s.aborted)).toBe(true);
  });
});
