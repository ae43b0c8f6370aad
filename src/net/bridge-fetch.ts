/**
 * The fallback when no holder can be reached directly (a hard NAT; a holder whose only link
 * is its doorway): the doorway's HTTP bridge (`GET /store/{hash}`) pulls the pieces from the
 * holders connected to it, verifying each, and streams the blob here. The bridge serves only
 * commons items, so that is what this can fetch. Nothing is stored unless the bytes hash to
 * `hash` again here.
 */
import {
  type ContentStore,
  createIncrementalHasher,
  dispositionName,
  parseContentHash,
  type StoredManifest,
} from '../content/index.ts';
import { throwIfAborted } from '../wire/index.ts';
import { FetchError, NoHoldersError } from './errors.ts';
import type { FetchOptions } from './fetch.ts';
import { RateMeter, secondsLeft } from './rate.ts';

/** Held in memory until verified, so bounded: larger items come from their holders directly. */
export const MAX_BRIDGE_FETCH_BYTES = 1024 * 2 ** 20;

/** Fetches commons `hash` through the doorway at `origin` into `store`. */
export async function fetchThroughDoorway(
  origin: string,
  store: ContentStore,
  input: string,
  options: FetchOptions = {},
): Promise<StoredManifest> {
  const hash = parseContentHash(input);
  const { signal } = options;
  const meter = new RateMeter();
  let response: Response;
  try {
    response = await fetch(new URL(`/store/${hash}`, origin), {
      ...(signal ? { signal } : {}),
      cache: 'no-store',
    });
  } catch (error) {
    throwIfAborted(signal);
    throw new FetchError(`The doorway at ${origin} could not be asked for ${hash}.`, {
      cause: error,
    });
  }
  if (response.status === 404) throw new NoHoldersError(hash);
  if (!response.ok || !response.body) {
    throw new FetchError(
      `The doorway at ${origin} answered ${response.status} for ${hash}: try again later.`,
    );
  }
  const totalBytes = Number(response.headers.get('Content-Length') ?? 0);
  if (totalBytes > MAX_BRIDGE_FETCH_BYTES) {
    await response.body.cancel();
    throw new FetchError(
      `${hash} is too large (${totalBytes} bytes) to fetch through the doorway: it needs a direct connection to a holder.`,
    );
  }
  const doorway = { peerId: origin, direct: false, bytes: 0, state: 'active' as const };
  const report = (phase: 'pieces' | 'verifying' | 'done', bytesDone: number) => {
    const rate = meter.rate();
    const left = secondsLeft(bytesDone, totalBytes, rate);
    options.onProgress?.({
      hash,
      phase,
      bytesDone,
      totalBytes,
      rate,
      ...(left === undefined ? {} : { secondsLeft: left }),
      peers: [{ ...doorway, bytes: bytesDone }],
    });
  };
  // Hashed as it arrives, kept aside, stored only once it proves to be `hash`.
  const hasher = createIncrementalHasher();
  const chunks: Uint8Array[] = [];
  let received = 0;
  try {
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      await hasher.update(chunk);
      chunks.push(chunk);
      received += chunk.byteLength;
      meter.add(chunk.byteLength);
      if (received > MAX_BRIDGE_FETCH_BYTES) throw new Error('more bytes than announced');
      report('pieces', received);
    }
  } catch (error) {
    hasher.cancel();
    throwIfAborted(signal);
    throw new FetchError(`The doorway's transfer of ${hash} broke off: try again.`, {
      cause: error,
    });
  }
  report('verifying', received);
  const got = await hasher.digest();
  if (got !== hash) {
    throw new FetchError(`The doorway sent bytes that are not ${hash} (they hash to ${got}).`);
  }
  const name = dispositionName(response.headers.get('Content-Disposition'));
  const mime = response.headers.get('Content-Type') ?? undefined;
  const stored = await store.put(new Blob(chunks as BlobPart[]), {
    reach: 'commons',
    ...(name ? { name } : {}),
    ...(mime ? { mime } : {}),
    ...(signal ? { signal } : {}),
  });
  report('done', received);
  return stored;
}
