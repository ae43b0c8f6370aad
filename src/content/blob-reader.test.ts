import { describe, expect, it } from 'vitest';
import { forEachSlice, readSliceInto } from './blob-reader.ts';

function data(n: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 7 + (i >> 9)) & 0xff;
  return out;
}

describe('blob reader', () => {
  const bytes = data(300_001);
  const blob = new Blob([bytes]);

  it('reads a slice into the buffer it is given (same memory, the old handle detached)', async () => {
    const buf = new ArrayBuffer(100_000);
    const got = await readSliceInto(blob, 1234, 101_234, buf);
    expect(got).toEqual(bytes.subarray(1234, 101_234));
    // Node's Blob.stream() is a byte stream, as Chromium's: the buffer was read into.
    expect(buf.byteLength).toBe(0);
    expect(got.buffer.byteLength).toBe(100_000);
    // A shorter slice (a tail) still fills from the start of the buffer.
    const tail = await readSliceInto(blob, 250_000, 400_000, got.buffer);
    expect(tail).toEqual(bytes.subarray(250_000));
  });

  it('falls back to a new buffer for a slice that does not fit', async () => {
    const buf = new ArrayBuffer(10);
    const got = await readSliceInto(blob, 0, 11, buf);
    expect(got).toEqual(bytes.subarray(0, 11));
    expect(buf.byteLength).toBe(10);
  });

  it('walks a Blob by slices, in order', async () => {
    const seen: number[] = [];
    const out = new Uint8Array(bytes.length);
    let off = 0;
    await forEachSlice(blob, 64 * 1024, (slice, end) => {
      out.set(slice, off);
      off += slice.byteLength;
      seen.push(end);
      return true;
    });
    expect(out).toEqual(bytes);
    expect(seen.at(-1)).toBe(bytes.length);
    expect(seen.length).toBe(Math.ceil(bytes.length / (64 * 1024)));
  });

  it('stops when told to, and handles an empty Blob', async () => {
    let calls = 0;
    await forEachSlice(blob, 1000, () => {
      calls++;
      return calls < 3;
    });
    expect(calls).toBe(3);
    await forEachSlice(new Blob([]), 1000, () => {
      throw new Error('no slices expected');
    });
  });
});
