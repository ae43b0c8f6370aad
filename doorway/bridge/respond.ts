/**
 * The HTTP side of one item: headers from its manifest, `If-None-Match`, `Range`, and its
 * verified bytes streamed into the response with back-pressure. Knows nothing of where the
 * bytes come from (`routes.ts` decides).
 */
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import {
  type ByteRange,
  type ContentHash,
  contentDisposition,
  parseRange,
  type StoredManifest,
} from '../../src/content/index.ts';
import { clip } from '../../src/wire/index.ts';

/** What `respond` reads an item with. */
export interface ItemSource {
  manifest: StoredManifest;
  /** The verified bytes of `range`; errors (a bad piece, the signal) end the stream. */
  read(range: ByteRange, signal: AbortSignal): ReadableStream<Uint8Array>;
}

/** Longer `Range` / `If-None-Match` values are not ours to parse (one range is a few dozen bytes). */
const MAX_CONDITION_CHARS = 1024;
/** A `Content-Disposition` name is cut here (the manifest's name comes from a peer). */
const MAX_NAME_CHARS = 255;
/** `type/subtype` and parameters, the characters RFC 9110 allows; anything else is not sent. */
const MEDIA_TYPE =
  /^[\w!#$&^.+-]+\/[\w!#$&^.+-]+(?:\s*;\s*[\w!#$&^.+-]+=(?:[\w!#$&^.+-]+|"[ !#-[\]-~]*"))*$/;

/** Every response about content, errors included: commons is public. */
export const CORS_HEADERS = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Expose-Headers':
    'Content-Range, Content-Length, ETag, Accept-Ranges, Content-Disposition',
} as const;

export const etagOf = (hash: ContentHash) => `"${hash}"`;

/** `If-None-Match`: `*` or a list of entity tags, compared weakly (RFC 9110 §13.1.2). */
export function matchesNoneMatch(header: string | undefined, etag: string): boolean {
  if (!header || header.length > MAX_CONDITION_CHARS) return false;
  return header
    .split(',')
    .map((tag) => tag.trim().replace(/^W\//, ''))
    .some((tag) => tag === '*' || tag === etag);
}

/**
 * The `Range` to honour: none when absent, absurdly long, or when `If-Range` names another
 * version (strong comparison; a date never matches, there is no Last-Modified).
 */
function rangeHeader(req: IncomingMessage, etag: string): string | null {
  const range = req.headers.range;
  if (!range || range.length > MAX_CONDITION_CHARS) return null;
  const ifRange = req.headers['if-range'];
  if (ifRange !== undefined && String(ifRange).trim() !== etag) return null;
  return range;
}

function itemHeaders(hash: ContentHash, m: StoredManifest): OutgoingHttpHeaders {
  const type = m.mime_type.length <= 200 && MEDIA_TYPE.test(m.mime_type) ? m.mime_type : '';
  return {
    ...CORS_HEADERS,
    'Content-Type': type || 'application/octet-stream',
    'Content-Disposition': contentDisposition('inline', clip(m.name || hash, MAX_NAME_CHARS)),
    ETag: etagOf(hash),
    // Content addressed: the bytes behind a hash never change.
    'Cache-Control': 'public, max-age=31536000, immutable',
    'Accept-Ranges': 'bytes',
    'X-Content-Type-Options': 'nosniff',
    // This origin also serves the app: an HTML or SVG item opened here must not run as it.
    'Content-Security-Policy': 'sandbox',
  };
}

export function sendProblem(
  res: ServerResponse,
  status: number,
  message: string,
  headers: OutgoingHttpHeaders = {},
): void {
  res.writeHead(status, {
    ...CORS_HEADERS,
    ...headers,
    'Content-Type': 'application/json',
    'Cache-Control': 'no-store',
  });
  res.end(JSON.stringify({ error: message }));
}

/**
 * Answers `req` for the item: 304, 416, or 200/206 with the bytes. The first chunk is read
 * before the status line, so a source that fails at once (a lying holder's first piece) gets
 * an error status; a later failure cuts the response (destroyed, never wrong bytes).
 * `failed` turns such an early error into a status and message.
 */
export async function respond(
  req: IncomingMessage,
  res: ServerResponse,
  hash: ContentHash,
  source: ItemSource,
  signal: AbortSignal,
  failed: (error: unknown) => { status: number; message: string },
): Promise<void> {
  const { manifest } = source;
  const headers = itemHeaders(hash, manifest);
  const etag = etagOf(hash);
  if (matchesNoneMatch(req.headers['if-none-match'], etag)) {
    const { 'Content-Type': _t, 'Content-Disposition': _d, ...kept } = headers;
    res.writeHead(304, kept);
    res.end();
    return;
  }
  const size = manifest.total_size;
  const range = parseRange(rangeHeader(req, etag), size);
  if (range === 'unsatisfiable') {
    sendProblem(res, 416, `The range is outside the item's ${size} bytes.`, {
      'Content-Range': `bytes */${size}`,
      'Accept-Ranges': 'bytes',
    });
    return;
  }
  const { start, end } = range ?? { start: 0, end: size };
  headers['Content-Length'] = String(end - start);
  if (range) headers['Content-Range'] = `bytes ${start}-${end - 1}/${size}`;
  const status = range ? 206 : 200;
  if (req.method === 'HEAD') {
    res.writeHead(status, headers);
    res.end();
    return;
  }
  const reader = source.read({ start, end }, signal).getReader();
  let first: ReadableStreamReadResult<Uint8Array>;
  try {
    first = await reader.read();
  } catch (error) {
    reader.releaseLock();
    if (signal.aborted) return;
    const { status: failure, message } = failed(error);
    sendProblem(res, failure, message);
    return;
  }
  res.writeHead(status, headers);
  await pipeline(chunks(first, reader), res);
}

/** The reader's chunks, `first` (already read) first; cancels the read when the pipe stops. */
async function* chunks(
  first: ReadableStreamReadResult<Uint8Array>,
  reader: ReadableStreamDefaultReader<Uint8Array>,
): AsyncGenerator<Uint8Array> {
  try {
    let next = first;
    while (!next.done) {
      yield next.value;
      next = await reader.read();
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
}
