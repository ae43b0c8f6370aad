/**
 * What `/content/<hash>` answers when it has no bytes to give, in the words the app's fetch
 * panel uses: a person meets these by opening a link, so they say what happened and what to do,
 * never which codec or timeout. Plain text, or JSON for a caller that asks for it (`Accept:
 * application/json` without `text/html`, e.g. a script's `fetch`).
 */
import { InvalidHashError, parseContentHash } from '../src/content/index.ts';
import { clip } from '../src/wire/index.ts';

/** Longer paths are refused before decoding: a content address is under 80 characters. */
const MAX_PATH = 300;

const BROKEN_LINK =
  'This link is broken: it does not name an item the app could look for. ' +
  'Copy the whole link again from whoever shared it.';

export function problem(request: Request, status: number, message: string): Response {
  const accept = request.headers.get('Accept') ?? '';
  const json = accept.includes('application/json') && !accept.includes('text/html');
  return new Response(json ? JSON.stringify({ status, message }) : `${message}\n`, {
    status,
    headers: {
      'Content-Type': json ? 'application/json' : 'text/plain; charset=utf-8',
      'Cache-Control': 'no-store',
      'X-Content-Type-Options': 'nosniff',
    },
  });
}

/**
 * The hash `/content/<hash>` names, or the 400 to answer at once: a malformed link can never
 * work, so it is not searched for.
 */
export function contentHashOf(request: Request, url: URL): string | Response {
  const raw = url.pathname.slice('/content/'.length);
  if (raw.length > MAX_PATH) return problem(request, 400, BROKEN_LINK);
  let decoded: string;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    // A stray `%` (URIError): as broken as any other address.
    return problem(request, 400, BROKEN_LINK);
  }
  try {
    return parseContentHash(decoded);
  } catch (error) {
    if (!(error instanceof InvalidHashError)) throw error;
    const shown = decoded === '' ? 'nothing' : `"${clip(decoded, 80)}"`;
    return problem(request, 400, `${BROKEN_LINK} (It names ${shown}.)`);
  }
}

/**
 * The answer when the app's tab could not open `hash` from peers: 404 when nobody holds it
 * (the tab's search says whom it asked) or no tab of the app is open to ask; 502 otherwise.
 */
export function openFailed(request: Request, error: unknown): Response {
  if (request.signal.aborted) {
    // Nobody reads this answer (the page went away); it only ends the request quietly.
    return problem(request, 503, 'The request was cancelled.');
  }
  const name = (error as Error | undefined)?.name;
  const message = error instanceof Error ? error.message : String(error);
  if (name === 'NoHoldersError' || name === 'NoWindowError') {
    return problem(request, 404, `This item could not be found. ${message}`);
  }
  return problem(request, 502, `This item could not be fetched: ${message}`);
}
