const MiB = 1024 * 1024;

/** Random bytes: Chromium compresses IndexedDB values, so anything else would flatter the store. */
export function randomBytes(size: number): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(size);
  // getRandomValues fills at most 64 KiB per call.
  for (let offset = 0; offset < size; offset += 65536) {
    crypto.getRandomValues(bytes.subarray(offset, Math.min(size, offset + 65536)));
  }
  return bytes;
}

/** A random Blob built from 1 MiB parts, so the page never holds it whole. */
export function randomBlob(size: number): Blob {
  const parts: Uint8Array[] = [];
  for (let offset = 0; offset < size; offset += MiB) {
    parts.push(randomBytes(Math.min(MiB, size - offset)));
  }
  return new Blob(parts as BlobPart[]);
}
