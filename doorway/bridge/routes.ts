/**
 * `GET`/`HEAD /store/{hash}` and `/api/blob/{hash}` (the Rust doorway's routes): anyone may ask,
 * only commons items are answered. Served from `kept` (what the doorway keeps for others) when
 * it holds the item, else from the cache, else pulled from the peers that hold it.
 */
import type { ServerResponse } from 'node:http';
import {
  type ContentHash,
  type ContentStore,
  InvalidHashError,
  MAX_IMPORT_PIECE_SIZE,
  parseContentHash,
  type RemoteManifest,
} from '../../src/content/index.ts';
import { AllHoldersFailedError, type FetchNode, type HolderFinder } from '../../src/net/index.ts';
import { isSealed } from '../../src/reach/index.ts';
import { errorMessage } from '../../src/wire/index.ts';
import type { Logger } from '../log.ts';
import type { Route, RouteContext } from '../routes.ts';
import type { ContentCache } from './cache.ts';
import { BridgeBusyError, NotServedError } from './errors.ts';
import { Misses, type MissRead } from './misses.ts';
import { CORS_HEADERS, type ItemSource, respond, sendProblem } from './respond.ts';
import type { ShardHolderSource } from './shard-holders.ts';

export interface BridgeInit {
  /** Copies of commons items the doorway keeps for others: served when it holds the item. */
  kept: ContentStore;
  /** What the doorway fetched for HTTP clients (pulls are imported into `cache.store`). */
  cache: ContentCache;
  /** The doorway peer's node and holder finder (`peer.node`, `peer.finder`), for misses. */
  node: FetchNode;
  finder: HolderFinder;
  log: Logger;
  /** Finding holders and the manifest of a miss; beyond it, 404. Default 5 s. */
  openTimeoutMs?: number;
  /** Items pulled from peers at once; beyond it, 503. Default 16. */
  maxOpenStreams?: number;
  /** How long a partly pulled item nobody reads is kept for its next reader. Default 30 s. */
  idleMs?: number;
  /** Per-piece (and dial) timeout of pulls from holders. Default 20 s. */
  pieceTimeoutMs?: number;
  /**
   * Responses being sent at once (each holds about two pieces in memory); beyond it, 503.
   * Default 256.
   */
  maxResponses?: number;
  /** Holders that speak only the shard protocol (Rust nodes), asked first for a miss. */
  shardHolders?: ShardHolderSource;
  /**
   * Responses one client (an IP address; an IPv6 /64) may have under way at once; beyond it,
   * 429, so that no one client takes every place of `maxResponses`. Default 32 (a browser
   * opens 6 connections to a host); 0: no per-client bound.
   */
  maxResponsesPerClient?: number;
}

export interface Bridge {
  /** Mount with the doorway's other routes (`dispatch`). */
  routes: Route[];
  /** Items being pulled from peers (or kept for their next reader) right now. */
  openStreams(): number;
  /** Verified bytes pulled from peers since start. */
  pulledBytes(): number;
  /**
   * Opens a pull of a commons item into the cache, sharing the HTTP readers' slots (libp2p
   * pull-through, doorway/federation): the reach is checked on the holder's manifest first.
   */
  pull(hash: ContentHash, signal: AbortSignal): Promise<MissRead>;
  /** Ends every pull (what it wrote is discarded). The stores stay open: they are the caller's. */
  close(): Promise<void>;
}

/** A hash in any accepted form is at most this long (`sha256-` + 64 hex); longer is not parsed. */
const MAX_HASH_CHARS = 80;
/**
 * Pieces above this are not served: a response holds about two in memory. Default pieces are
 * 1 MiB; the store accepts up to `MAX_IMPORT_PIECE_SIZE`.
 */
export const MAX_SERVED_PIECE_BYTES = Math.min(16 * 1024 * 1024, MAX_IMPORT_PIECE_SIZE);

/**
 * Who a request comes from, for the per-client bound: its IPv4 address (also when mapped into
 * IPv6), or the /64 of an IPv6 address (one subscriber's usual share).
 */
export function clientOf(address: string | undefined): string {
  if (!address) return 'unknown';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1] as string;
  if (!address.includes(':')) return address;
  const [head = '', tail = ''] = address.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === '' ? [] : tail.split(':');
  const groups = address.includes('::')
    ? [...left, ...Array(8 - left.length - right.length).fill('0'), ...right]
    : left;
  return `${groups
    .slice(0, 4)
    .map((g) => Number.parseInt(g || '0', 16).toString(16))
    .join(':')}::/64`;
}

/** Throws {@link NotServedError} unless anyone may receive the item, in the clear. */
export function checkServable(manifest: RemoteManifest): void {
  const hash = manifest.blob_hash;
  if (manifest.reach !== 'commons') {
    throw new NotServedError(hash, `its reach is ${manifest.reach}, not commons`);
  }
  if (isSealed(manifest)) throw new NotServedError(hash, 'it is sealed');
  if (manifest.piece_size > MAX_SERVED_PIECE_BYTES) {
    throw new NotServedError(hash, `its pieces of ${manifest.piece_size} bytes are too big`);
  }
}

/**
 * The status and message of an error from finding or reading an item. Another error's own
 * message stays in the log: it may name the doorway's files.
 */
function failure(error: unknown): { status: number; message: string } {
  if (error instanceof NotServedError) return { status: 404, message: error.message };
  if (error instanceof AllHoldersFailedError) return { status: 502, message: error.message };
  return { status: 502, message: 'Reading the item failed here; try again later.' };
}

export function bridgeRoutes(init: BridgeInit): Bridge {
  const { kept, cache, log } = init;
  const openTimeoutMs = init.openTimeoutMs ?? 5_000;
  const maxResponses = init.maxResponses ?? 256;
  const perClient = init.maxResponsesPerClient ?? 32;
  let active = 0;
  /** Responses under way per client; an entry goes with its last response (bounded by `active`). */
  const byClient = new Map<string, number>();
  const misses = new Misses({
    node: init.node,
    finder: init.finder,
    store: cache.store,
    check: checkServable,
    openTimeoutMs,
    maxOpen: init.maxOpenStreams ?? 16,
    idleMs: init.idleMs ?? 30_000,
    ...(init.pieceTimeoutMs === undefined ? {} : { pieceTimeoutMs: init.pieceTimeoutMs }),
    ...(init.shardHolders ? { shardHolders: init.shardHolders } : {}),
  });

  /** The item's source: kept, cached or pulled. `release` when the response is done. */
  async function locate(
    hash: ContentHash,
    signal: AbortSignal,
  ): Promise<ItemSource & { release: () => void }> {
    // Stored items are read 3 pieces ahead while few responses run (a cached read then keeps
    // pace with a static file), 1 beyond: the buffers stay within 2 pieces per response at most
    // once many clients read.
    const bufferPieces = active <= 16 ? 3 : 1;
    const keptManifest = await kept.manifest(hash);
    if (keptManifest) {
      checkServable(keptManifest);
      return {
        manifest: keptManifest,
        read: (range, s) => kept.get(hash, { ...range, bufferPieces, signal: s }),
        release: () => {},
      };
    }
    const unpin = cache.acquire(hash);
    const cached = unpin && (await cache.store.manifest(hash).catch(() => undefined));
    if (unpin && cached) {
      try {
        checkServable(cached);
      } catch (error) {
        unpin();
        throw error;
      }
      return {
        manifest: cached,
        read: (range, s) => cache.store.get(hash, { ...range, bufferPieces, signal: s }),
        release: unpin,
      };
    }
    unpin?.();
    // Pinned from the start: a pull that completes mid-read commits into the cache, and must
    // stay there until this reader is done.
    const unpinPulled = cache.pin(hash);
    try {
      const miss = await misses.open(hash, signal);
      try {
        // A pull that committed meanwhile answers with the cache's manifest, unchecked so far.
        checkServable(miss.manifest);
      } catch (error) {
        miss.release();
        throw error;
      }
      return {
        manifest: miss.manifest,
        read: (range, s) =>
          cache.store.readPartial(miss.manifest, { ...range, signal: s, ensure: miss.ensure }),
        release: () => {
          miss.release();
          unpinPulled();
        },
      };
    } catch (error) {
      unpinPulled();
      throw error;
    }
  }

  async function serve({ req, res, params }: RouteContext): Promise<void> {
    if (active >= maxResponses) {
      sendProblem(res, 503, `The doorway is sending ${active} items at once: try again shortly.`, {
        'Retry-After': '1',
      });
      return;
    }
    const client = clientOf(req.socket.remoteAddress);
    const mine = byClient.get(client) ?? 0;
    if (perClient > 0 && mine >= perClient) {
      sendProblem(
        res,
        429,
        `This address already has ${mine} items coming from the doorway at once: wait for one to finish.`,
        { 'Retry-After': '1' },
      );
      return;
    }
    active++;
    byClient.set(client, mine + 1);
    res.once('close', () => {
      active--;
      const left = (byClient.get(client) ?? 1) - 1;
      if (left > 0) byClient.set(client, left);
      else byClient.delete(client);
    });
    const raw = params.hash ?? '';
    if (raw.length > MAX_HASH_CHARS) {
      sendProblem(
        res,
        400,
        `A content hash is sha256-<64 hex> or 64 hex; this is ${raw.length} characters.`,
      );
      return;
    }
    let hash: ContentHash;
    try {
      hash = parseContentHash(raw);
    } catch (error) {
      if (!(error instanceof InvalidHashError)) throw error;
      sendProblem(res, 400, error.message);
      return;
    }
    // The client going away stops finding, pulling and reading for it.
    const controller = new AbortController();
    res.once('close', () => {
      if (!res.writableFinished) controller.abort(new Error('The HTTP client went away.'));
    });
    let source: Awaited<ReturnType<typeof locate>>;
    try {
      source = await locate(hash, controller.signal);
    } catch (error) {
      if (controller.signal.aborted) return;
      answerFailure(res, hash, error);
      return;
    }
    try {
      await respond(req, res, hash, source, controller.signal, (error) => {
        log.info(`${req.method} ${hash} failed before its first byte: ${errorMessage(error)}`);
        return failure(error);
      });
    } catch (error) {
      // The response is cut: the client sees a short body, never a wrong byte.
      res.destroy();
      if (!controller.signal.aborted) log.info(`${req.method} ${hash} cut: ${errorMessage(error)}`);
    } finally {
      source.release();
    }
  }

  function answerFailure(res: ServerResponse, hash: string, error: unknown): void {
    if (error instanceof BridgeBusyError) {
      sendProblem(res, 503, error.message, { 'Retry-After': String(error.retryAfterS) });
      return;
    }
    if (error instanceof NotServedError) {
      log.debug(`not serving ${hash}: ${error.reason}`);
    } else if (!(error instanceof AllHoldersFailedError)) {
      throw error;
    }
    const { status, message } = failure(error);
    sendProblem(res, status, message);
  }

  /** CORS preflight: a page elsewhere may send `Range` and conditions. */
  const preflight = ({ res }: RouteContext) => {
    res.writeHead(204, {
      ...CORS_HEADERS,
      'Access-Control-Allow-Methods': 'GET, HEAD',
      'Access-Control-Allow-Headers': 'Range, If-None-Match, If-Range',
      'Access-Control-Max-Age': '86400',
    });
    res.end();
  };

  // Anything under these prefixes is ours: `/store/a/b` is a bad hash, not the app.
  const routes: Route[] = [/^\/store\/(?<hash>.*)$/, /^\/api\/blob\/(?<hash>.*)$/].flatMap(
    (path): Route[] => [
      { method: 'GET', path, handle: serve },
      { method: 'OPTIONS', path, handle: preflight },
    ],
  );
  return {
    routes,
    openStreams: () => misses.size,
    pulledBytes: () => misses.pulledBytes,
    pull: (hash, signal) => misses.open(hash, signal),
    close: async () => misses.close(),
  };
}
