/**
 * Fetch by hash: find who holds a blob, take its manifest from one holder, then pull pieces
 * from every holder at once (`PieceScheduler`, piece-scheduler.ts), each piece verified before
 * it is written. The blob becomes visible only after the store has checked the whole of it
 * against its hash. Finders of holders live in finders.ts.
 */
import type { PeerId } from '@libp2p/interface';
import {
  type ContentStore,
  isKept,
  parseContentHash,
  type StoredManifest,
} from '../content/index.ts';
import { errorMessage, logger } from '../wire/index.ts';
import { AllHoldersFailedError, FetchError, NoHoldersError } from './errors.ts';
import { PieceScheduler } from './piece-scheduler.ts';
import { RateMeter, secondsLeft } from './rate.ts';
import type { SearchProgress, SearchReport } from './search.ts';
import {
  fetchManifest,
  type Libp2pDialLike,
  type RemoteManifest,
  ShardNotFoundError,
} from './shard/index.ts';

const log = logger('net:fetch');

export interface FindOptions {
  signal: AbortSignal;
  /** Told what each source answered, for live feedback ("asked 3 peers"). */
  onSearch?: SearchReport;
  /**
   * Holders the caller has already (and found wanting): an answer naming only these is no
   * news, so a finder that composes a fast source and a slow one waits for the slow one.
   */
  known?: ReadonlySet<string>;
}

/** Whether `peers` names a holder not in `known`. */
export function namesNew(peers: readonly PeerId[], known?: ReadonlySet<string>): boolean {
  return peers.some((peer) => !known?.has(peer.toString()));
}

/** Where holders of a hash come from: connected peers now; the trust layer's index later. */
export interface HolderFinder {
  findHolders(hash: string, options: FindOptions): Promise<PeerId[]>;
}

export interface FetchPeerProgress {
  peerId: string;
  direct: boolean;
  bytes: number;
  state: 'active' | 'idle' | 'dropped';
  /** Why it was dropped. */
  reason?: string;
}

export interface FetchProgress {
  hash: string;
  phase: 'finding' | 'manifest' | 'pieces' | 'verifying' | 'done';
  bytesDone: number;
  totalBytes: number;
  /** Bytes per second now: over the last few seconds ({@link RateMeter}). */
  rate: number;
  /** Seconds left at the current rate, when that can be told. */
  secondsLeft?: number;
  peers: FetchPeerProgress[];
  /** Whom the search for holders asked so far (set by the peer service). */
  search?: SearchProgress;
}

export interface FetchOptions {
  signal?: AbortSignal;
  onProgress?: (progress: FetchProgress) => void;
  /** Pieces asked for in one request. Default 4. */
  piecesPerRequest?: number;
  /** Per-piece (and dial) timeout. Default 20 s. */
  timeoutMs?: number;
  /** Told what each source of holders answered while looking for them. */
  onSearch?: SearchReport;
  /** How long a holder that could not be reached sits out before it is tried again. Default 5 s. */
  rejoinAfterMs?: number;
}

/** What a fetch needs of the node: dialling, and whether a peer's connection is direct. */
export interface FetchNode {
  libp2p: Libp2pDialLike;
  isDirectPeer(peerId: string): boolean;
  /** Calls `listener` with each peer whose last connection closed, until `signal` aborts. */
  onPeerGone?(listener: (peerId: string) => void, signal: AbortSignal): void;
}

export async function fetchContent(
  node: FetchNode,
  store: ContentStore,
  finder: HolderFinder,
  input: string,
  options: FetchOptions = {},
): Promise<StoredManifest> {
  // Lookups still under way when the fetch ends (a slow source's dials) end with it, and say
  // nothing more about a fetch that is over.
  const scope = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, scope.signal]) : scope.signal;
  try {
    return await fetchInScope(node, store, finder, parseContentHash(input), { ...options, signal });
  } finally {
    scope.abort(new FetchError('the fetch is over'));
  }
}

async function fetchInScope(
  node: FetchNode,
  store: ContentStore,
  finder: HolderFinder,
  hash: string,
  options: FetchOptions & { signal: AbortSignal },
): Promise<StoredManifest> {
  const { signal } = options;
  const existing = await store.manifest(hash);
  // Kept here for another peer: asked for now, it becomes the person's own.
  if (existing) return isKept(existing) ? ((await store.claim(hash)) ?? existing) : existing;

  const meter = new RateMeter();
  const peers = new Map<string, FetchPeerProgress>();
  let phase: FetchProgress['phase'] = 'finding';
  let totalBytes = 0;
  let bytesDone = 0;
  const report = () => {
    const rate = meter.rate();
    const left = secondsLeft(bytesDone, totalBytes, rate);
    options.onProgress?.({
      hash,
      phase,
      bytesDone,
      totalBytes,
      rate,
      ...(left === undefined ? {} : { secondsLeft: left }),
      peers: [...peers.values()].map((p) => ({ ...p })),
    });
  };
  report();

  const began = Date.now();
  const holders = await finder.findHolders(hash, { signal, onSearch: options.onSearch });
  log('found %d holders of %s in %d ms', holders.length, hash, Date.now() - began);
  if (holders.length === 0) throw new NoHoldersError(hash);
  for (const peer of holders) {
    const id = peer.toString();
    peers.set(id, { peerId: id, direct: node.isDirectPeer(id), bytes: 0, state: 'idle' });
  }
  const drop = (id: string, error: unknown) => {
    const peer = peers.get(id);
    if (peer) Object.assign(peer, { state: 'dropped', reason: errorMessage(error) });
    report();
  };
  // A holder with nothing left to send (the end-game) that goes offline shows as gone, not as
  // waiting: no request of its own would fail to say so.
  node.onPeerGone?.((id) => {
    if (peers.get(id)?.state === 'idle') drop(id, new FetchError('went offline'));
  }, signal);

  phase = 'manifest';
  report();
  const manifest = await findManifest(node, holders, hash, signal, options.timeoutMs, drop);
  if (!manifest)
    throw new AllHoldersFailedError(
      hash,
      [...peers.values()].map((p) => `${p.peerId}: ${p.reason}`),
    );
  totalBytes = manifest.total_size;

  const session = await store.beginImport(manifest, { signal });
  try {
    phase = 'pieces';
    report();
    const scheduler = new PieceScheduler(session, session.needed, node, signal, options, {
      joined: (id) => {
        const peer = peers.get(id);
        if (!peer) {
          peers.set(id, { peerId: id, direct: node.isDirectPeer(id), bytes: 0, state: 'idle' });
        } else if (peer.state === 'dropped') {
          // A holder that could not be reached, tried again.
          peer.state = 'idle';
          delete peer.reason;
          report();
        }
      },
      state: (id, state) => {
        const peer = peers.get(id);
        if (!peer || peer.state === 'dropped' || peer.state === state) return;
        peer.state = state;
        report();
      },
      bytes: (id, bytes) => {
        bytesDone += bytes;
        meter.add(bytes);
        const peer = peers.get(id);
        if (peer) {
          peer.bytes += bytes;
          // A relayed start often becomes direct a moment later (WebRTC through the relay).
          peer.direct = node.isDirectPeer(id);
        }
        report();
      },
      dropped: drop,
    });
    // Holders that connect after the fetch began join it: every source speeds it up.
    await scheduler.run(holders, (known) => finder.findHolders(hash, { signal, known }));
    if (!session.complete) {
      throw new AllHoldersFailedError(
        hash,
        [...peers.values()].filter((p) => p.reason).map((p) => `${p.peerId}: ${p.reason}`),
      );
    }
    phase = 'verifying';
    report();
    const stored = await session.commit({ signal });
    phase = 'done';
    bytesDone = totalBytes;
    report();
    return stored;
  } catch (error) {
    await session.abort();
    throw error;
  }
}

/**
 * How long one holder has to send the manifest before the next is asked too: a holder the
 * finder names but whose dial hangs (just gone, crossing dials) must not hold a fetch up for
 * its whole timeout, and holders that answer at once are asked one at a time.
 */
const MANIFEST_STAGGER_MS = 1_000;

/**
 * The first manifest for `hash` a holder sends, asking them in turn: the next one as soon as
 * the last failed, or when it has not answered within {@link MANIFEST_STAGGER_MS}. The first
 * answer wins and the other requests end (those holders are not dropped: they still serve
 * pieces). Holders that fail are reported to `drop`. When every holder answers NotFound (a
 * refusal looks the same) it throws {@link NoHoldersError}.
 */
export async function findManifest(
  node: FetchNode,
  holders: readonly PeerId[],
  hash: string,
  signal: AbortSignal,
  timeoutMs: number | undefined,
  drop: (peerId: string, error: unknown) => void,
): Promise<RemoteManifest | undefined> {
  const won = new AbortController();
  const scope = AbortSignal.any([signal, won.signal]);
  let manifest: RemoteManifest | undefined;
  let notFound = 0;
  const ask = async (peer: PeerId) => {
    try {
      const candidate = await fetchManifest(node.libp2p, peer, hash, {
        signal: scope,
        timeoutMs: timeoutMs ?? 20_000,
      });
      if (candidate.blob_hash !== hash)
        throw new FetchError(`sent the manifest of ${candidate.blob_hash}`);
      manifest ??= candidate;
      won.abort(new FetchError('another holder sent the manifest first'));
    } catch (error) {
      if (scope.aborted) return;
      if (error instanceof ShardNotFoundError) notFound++;
      drop(peer.toString(), error);
    }
  };
  const asked: Promise<void>[] = [];
  for (const peer of holders) {
    if (scope.aborted) break;
    const answer = ask(peer);
    asked.push(answer);
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      answer,
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, MANIFEST_STAGGER_MS);
      }),
    ]);
    clearTimeout(timer);
  }
  await Promise.all(asked);
  if (signal.aborted) throw signal.reason;
  if (manifest) return manifest;
  // Every holder said NotFound — they dropped it, or the item's reach does not include us,
  // which by design looks the same: nobody holds it for us.
  if (holders.length > 0 && notFound === holders.length) throw new NoHoldersError(hash);
  return undefined;
}
