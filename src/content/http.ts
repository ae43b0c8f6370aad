/**
 * Serving content over HTTP: what the service worker's `/content/` route and the doorway's
 * `/store/` bridge both read from a request or write into a response. Pure functions, no I/O.
 */

/** A single byte range of a resource, `end` exclusive. */
export interface ByteRange {
  start: number;
  end: number;
}

/**
 * Reads an HTTP `Range` header (RFC 9110 §14) against a resource of `size` bytes:
 * - `undefined`: no range, or one we may ignore (another unit, several ranges, bad syntax) —
 *   the whole resource is sent with 200;
 * - `'unsatisfiable'`: a valid range that lies outside the resource — 416;
 * - a range — 206.
 */
export function parseRange(
  header: string | null,
  size: number,
): ByteRange | 'unsatisfiable' | undefined {
  if (header === null) return undefined;
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match) return undefined;
  const [, first = '', last = ''] = match;
  if (first === '' && last === '') return undefined;
  if (first === '') {
    // Suffix range: the last N bytes.
    const length = Number(last);
    if (length === 0) return 'unsatisfiable';
    return { start: Math.max(size - length, 0), end: size };
  }
  const start = Number(first);
  const end = last === '' ? size : Math.min(Number(last) + 1, size);
  if (last !== '' && Number(last) < start) return undefined;
  if (start >= size) return 'unsatisfiable';
  return { start, end };
}

/** RFC 6266 `Content-Disposition` for any name: a plain ASCII fallback and the UTF-8 `filename*`. */
export function contentDisposition(kind: 'inline' | 'attachment', name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]|["\\]/g, '_');
  // RFC 8187 allows fewer characters unescaped than encodeURIComponent leaves: `'` would end
  // the charset part early.
  const encoded = encodeURIComponent(name).replace(
    /['()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
  return `${kind}; filename="${ascii}"; filename*=UTF-8''${encoded}`;
}

/** The file name a `Content-Disposition` header gives (RFC 6266 `filename*` first). */
export function dispositionName(header: string | null): string | undefined {
  if (!header) return undefined;
  const extended = /filename\*\s*=\s*UTF-8''([^;]+)/i.exec(header);
  if (extended?.[1]) {
    try {
      return decodeURIComponent(extended[1].trim());
    } catch {
      // fall through to the plain name
    }
  }
  return /filename\s*=\s*"([^"]*)"/i.exec(header)?.[1];
}
