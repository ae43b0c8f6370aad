/**
 * Reading a Blob into buffers we already own.
 *
 * `blob.slice().arrayBuffer()` allocates a fresh ArrayBuffer per read. Dropped, each is
 * garbage that V8 frees only at its next GC, and V8 collects an isolate with a small JS heap
 * lazily: reading a 1 GiB File by 1 MiB slices left ~400 MiB of dead buffers resident in
 * the page, and the hash workers (~2.75 GiB of dropped buffers per 1 GiB rs-4-7 put) held
 * ~150–200 MiB each. A BYOB reader fills a buffer we pass in and hands the same memory
 * back, so a few buffers are reused for a whole blob. Engines whose `Blob.stream()` is not
 * a byte stream fall back to `arrayBuffer()` (correct, with the GC-bound memory above).
 */

let byobWorks: boolean | undefined;

/**
 * Readers with a read in flight. Chromium may garbage-collect a Blob stream whose only
 * references are the reader held by a suspended async function and the pending read: the
 * read then never settles (measured: a put hung, its 4 slice reads pending, after a few
 * GiB). Holding them here until the read is done prevents that.
 */
const reading = new Set<ReadableStreamBYOBReader>();

function byobReader(blob: Blob): ReadableStreamBYOBReader | undefined {
  if (byobWorks === false || typeof blob.stream !== 'function') return undefined;
  try {
    const reader = blob.stream().getReader({ mode: 'byob' });
    byobWorks = true;
    return reader;
  } catch {
    // TypeError: not a byte stream in this engine.
    byobWorks = false;
    return undefined;
  }
}

/** Fills `buf` from `reader` with up to `want` bytes; returns the bytes read, over the (same memory) buffer. */
async function fill(
  reader: ReadableStreamBYOBReader,
  buf: ArrayBuffer,
  want: number,
): Promise<Uint8Array<ArrayBuffer>> {
  let off = 0;
  reading.add(reader);
  try {
    while (off < want) {
      const { value, done } = await reader.read(new Uint8Array(buf, off, want - off));
      // The reader detaches the view's buffer and returns the memory in a new one.
      if (value) buf = value.buffer as ArrayBuffer;
      if (done || !value) break;
      off += value.byteLength;
    }
  } finally {
    reading.delete(reader);
  }
  return new Uint8Array(buf, 0, off);
}

/**
 * The bytes `[start, end)` of `blob`, read into `buf` (which must hold them) when the engine
 * can; otherwise into a new buffer. The result views `buf`'s memory (`buf` itself is
 * detached) or the new buffer.
 */
export async function readSliceInto(
  blob: Blob,
  start: number,
  end: number,
  buf: ArrayBuffer,
): Promise<Uint8Array<ArrayBuffer>> {
  const slice = blob.slice(start, end);
  if (slice.size <= buf.byteLength && slice.size > 0) {
    const reader = byobReader(slice);
    if (reader) {
      try {
        const bytes = await fill(reader, buf, slice.size);
        if (bytes.byteLength !== slice.size) {
          throw new Error(`read ${bytes.byteLength} of ${slice.size} bytes of a Blob slice`);
        }
        return bytes;
      } finally {
        // Done with this slice: close its stream now rather than when it is collected.
        reader.cancel().catch(() => {});
        reader.releaseLock();
      }
    }
  }
  return new Uint8Array(await slice.arrayBuffer());
}

/**
 * Calls `onSlice` with consecutive slices of `blob` (each `sliceSize` bytes, the last
 * shorter) and the offset where each ends, reusing two buffers for the whole Blob (the next
 * slice is requested before `onSlice` runs). The view is only valid during the call.
 * `onSlice` returning `false` stops the walk.
 */
export async function forEachSlice(
  blob: Blob,
  sliceSize: number,
  onSlice: (bytes: Uint8Array, end: number) => boolean | undefined,
): Promise<void> {
  const size = blob.size;
  const reader = size > 0 ? byobReader(blob) : undefined;
  if (!reader) {
    for (let off = 0; off < size; off += sliceSize) {
      const end = Math.min(size, off + sliceSize);
      const bytes = new Uint8Array(await blob.slice(off, end).arrayBuffer());
      if (onSlice(bytes, end) === false) return;
    }
    return;
  }
  let off = 0;
  let next: Promise<Uint8Array<ArrayBuffer>> | undefined;
  try {
    const first = Math.min(sliceSize, size);
    let spare = new ArrayBuffer(first);
    next = fill(reader, new ArrayBuffer(first), first);
    while (off < size) {
      const bytes = await (next as Promise<Uint8Array<ArrayBuffer>>);
      next = undefined;
      if (bytes.byteLength === 0) throw new Error(`a Blob stream ended at ${off} of ${size} bytes`);
      off += bytes.byteLength;
      const want = Math.min(sliceSize, size - off);
      // Ask for the next slice first, so the browser streams it while this one is used.
      if (want > 0) next = fill(reader, spare, want);
      if (onSlice(bytes, off) === false) return;
      spare = bytes.buffer;
    }
  } finally {
    next?.catch(() => {});
    // Stopped early or failed: let the rest of the stream go.
    if (off < size) reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}
