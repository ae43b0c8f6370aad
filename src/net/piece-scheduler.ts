/**
 * The piece scheduler of a fetch: pulls the pieces an import needs from every holder at once,
 * each piece verified (by the import) before it is written. A holder that sends bad bytes,
 * stalls or vanishes is dropped and its unfinished work goes back to the queue for the others
 * (a stream the transport cut is asked for again, twice at most); one that could not be
 * reached is tried again when a finder names it a few seconds later, twice at most. Used by
 * `fetchContent`, the streamer's imports, shard imports and the replicate server.
 */
import type { PeerId } from '@libp2p/interface';
import { type ImportSession, PieceMismatchError } from '../content/index.ts';
import { sleep, WireStreamClosedError } from '../wire/index.ts';
import { FetchError } from './errors.ts';
import type { FetchNode, FetchOptions } from './fetch.ts';
import {
  fetchHolding,
  fetchPieces,
  type Holding,
  PeerSentBadDataError,
  ShardNotFoundError,
} from './shard/index.ts';

/** Times one holder is asked again after the transport cut its stream, per fetch. */
const STREAM_RETRIES = 2;
/** Wait before asking again, times the attempt: a closing connection must leave first. */
const RETRY_BACKOFF_MS = 250;
/**
 * A holder that could not be reached (its dial or its `Holds` failed, or the transport kept
 * cutting its streams) sits out this long, then joins again when a finder names it: a dial
 * that hung once (two crossing WebRTC dials) usually works the next time.
 */
const REJOIN_AFTER_MS = 5_000;
/** Times one holder is tried per fetch, its first join included. */
const MAX_TRIES = 3;

interface Range {
  shard: number;
  first: number;
  count: number;
}

/** A range being fetched from one holder. */
interface Request extends Range {
  holder: string;
  /** The next piece it will send. */
  next: number;
  /** Aborts its stream: others wrote every piece it had left. */
  cancel: AbortController;
  /** An end-game duplicate of its rest is under way elsewhere. */
  twinned: boolean;
}

/** Groups the pieces an import needs into requests of up to `size` consecutive pieces. */
function planRanges(
  needed: ReadonlyArray<{ shard: number; piece: number }>,
  size: number,
): Range[] {
  const ranges: Range[] = [];
  for (const { shard, piece } of needed) {
    const last = ranges.at(-1);
    if (last && last.shard === shard && last.first + last.count === piece && last.count < size) {
      last.count++;
    } else {
      ranges.push({ shard, first: piece, count: 1 });
    }
  }
  return ranges;
}

export interface SchedulerEvents {
  /** A holder joined; or one dropped as unreachable answered when tried again. */
  joined(peerId: string): void;
  state(peerId: string, state: 'active' | 'idle'): void;
  bytes(peerId: string, bytes: number): void;
  dropped(peerId: string, error: unknown): void;
}

const REDISCOVER_MS = 2_000;

/**
 * Fetches `needed` pieces into an import. One worker per holder first asks what the holder
 * has of the blob (`Holds`: all of it, or some shards), then pulls ranges of pieces it can
 * serve from a shared queue. A failed range goes back to the front of the queue minus the
 * pieces already written; idle workers wait for such work until every piece is in or no
 * worker can do anything more.
 *
 * rs-4-7 blobs spread over peers one shard each: when no live holder has a shard that ranges
 * in the queue are waiting for, those ranges move to another shard that one has (any 4 shards
 * of a stripe rebuild it; the import takes parity pieces and rebuilds the data at commit).
 */
export class PieceScheduler {
  readonly #queue: Range[];
  readonly #written = new Set<string>();
  /** Pieces whose write is under way: a duplicate's copy must not start a second. */
  readonly #writing = new Set<string>();
  readonly #active = new Set<Request>();
  readonly #joined = new Set<string>();
  /** Holders that could not be reached: when, and how many times they were tried. */
  readonly #unreachable = new Map<string, { at: number; tries: number }>();
  /** Workers started: a join (or a rejoin) is something new for a stuck fetch to wait on. */
  #started = 0;
  /** Aborted once every piece is in: a holder still being asked what it has is not waited for. */
  readonly #over = new AbortController();
  readonly #workers = new Set<Promise<void>>();
  /** What each live worker's holder has; `undefined` while it is being asked. */
  readonly #live = new Map<string, Holding | undefined>();
  /** rs-4-7: every `shard/piece` asked for, so no stripe gets the same shard twice. */
  readonly #planned: Set<string>;
  readonly #known: Map<string, Holding>;
  #inFlight = 0;
  #failure: unknown;
  #wake: () => void = () => {};
  #changed: Promise<void> = Promise.resolve();

  readonly #needed: number;

  constructor(
    private readonly session: Pick<ImportSession, 'manifest' | 'writePiece' | 'has'>,
    needed: ReadonlyArray<{ shard: number; piece: number }>,
    private readonly node: FetchNode,
    private readonly signal: AbortSignal,
    private readonly options: FetchOptions & {
      /** Holdings learned earlier (reused, and filled in): each holder is asked only once. */
      holdings?: Map<string, Holding>;
      /** rs-4-7: fetch other shards in place of lost ones (default true; not for shard imports). */
      substitute?: boolean;
    },
    private readonly events: SchedulerEvents,
  ) {
    this.#queue = planRanges(needed, options.piecesPerRequest ?? 4);
    this.#needed = needed.length;
    this.#planned = new Set(needed.map((r) => `${r.shard}/${r.piece}`));
    this.#known = options.holdings ?? new Map();
    this.#notify();
  }

  /** Every piece this scheduler was given is written. */
  get done(): boolean {
    return this.#written.size === this.#needed;
  }

  /**
   * Runs until every piece is in, or the holders can do no more. `findMore` is asked every
   * few seconds for holders that came online meanwhile (given no `known`: a quick answer);
   * when the holders at hand are stuck it is asked once more with those it has as `known`,
   * so that it waits for its slow sources (dials still under way) before the fetch gives up.
   */
  async run(
    holders: PeerId[],
    findMore: (known?: ReadonlySet<string>) => Promise<PeerId[]>,
  ): Promise<void> {
    for (const peer of holders) this.#join(peer);
    const finished = new AbortController();
    const discovery = (async () => {
      while (!finished.signal.aborted && !this.signal.aborted) {
        await sleep(REDISCOVER_MS, finished.signal);
        if (finished.signal.aborted) return;
        for (const peer of await findMore().catch(() => [])) this.#join(peer);
      }
    })();
    for (;;) {
      while (this.#workers.size > 0) await Promise.allSettled([...this.#workers]);
      if (this.done || this.signal.aborted || this.#failure !== undefined) break;
      const before = this.#started;
      for (const peer of await findMore(this.#joined).catch(() => [])) this.#join(peer);
      // Nobody new (here or from the periodic round meanwhile): this is as far as it goes.
      if (this.#started === before) break;
    }
    finished.abort();
    await discovery;
    if (this.signal.aborted) throw this.signal.reason;
    if (this.#failure !== undefined) throw this.#failure;
  }

  #notify(): void {
    this.#wake();
    this.#changed = new Promise<void>((resolve) => {
      this.#wake = resolve;
    });
  }

  #join(peer: PeerId): void {
    const id = peer.toString();
    if (this.done) return;
    const again = this.#joined.has(id);
    if (again) {
      // Only a holder that could not be reached comes back, after a while, a few times.
      const away = this.#unreachable.get(id);
      const wait = this.options.rejoinAfterMs ?? REJOIN_AFTER_MS;
      if (!away || away.tries >= MAX_TRIES || Date.now() - away.at < wait) return;
      away.at = Number.POSITIVE_INFINITY;
    } else {
      this.#joined.add(id);
      this.events.joined(id);
    }
    this.#started++;
    this.#live.set(id, this.#known.get(id));
    const worker = this.#work(peer, again)
      .catch((error: unknown) => {
        this.#failure ??= error;
      })
      .finally(() => {
        this.#live.delete(id);
        this.#notify();
      });
    this.#workers.add(worker);
    void worker.finally(() => this.#workers.delete(worker));
  }

  /** Drops a holder; one that could not be reached may join again later (see {@link #join}). */
  #drop(id: string, error: unknown, unreachable: boolean): void {
    if (unreachable) {
      const tries = (this.#unreachable.get(id)?.tries ?? 0) + 1;
      this.#unreachable.set(id, { at: Date.now(), tries });
    } else this.#unreachable.delete(id);
    this.events.dropped(id, error);
  }

  /** Whether a live holder has (or may have: still asking) this shard. */
  #someoneServes(shard: number): boolean {
    for (const holding of this.#live.values()) {
      if (holding === undefined || serves(holding, shard)) return true;
    }
    return false;
  }

  /**
   * rs-4-7: moves each queued piece of a shard no live holder has to the same piece (stripe)
   * of another shard that one has, not asked for nor written yet. True if it moved any.
   */
  #substitute(): boolean {
    const m = this.session.manifest;
    if (m.encoding !== 'rs-4-7' || this.options.substitute === false) return false;
    let moved = false;
    const pieces: { shard: number; piece: number }[] = [];
    for (const r of this.#queue) {
      const lost = !this.#someoneServes(r.shard);
      for (let piece = r.first; piece < r.first + r.count; piece++) {
        const spare = lost
          ? Array.from({ length: m.total_shards }, (_, s) => s).find(
              (s) =>
                !this.#planned.has(`${s}/${piece}`) &&
                !this.session.has(s, piece) &&
                this.#someoneServes(s),
            )
          : undefined;
        if (spare === undefined) pieces.push({ shard: r.shard, piece });
        else {
          this.#planned.add(`${spare}/${piece}`);
          pieces.push({ shard: spare, piece });
          moved = true;
        }
      }
    }
    if (moved) {
      this.#queue.splice(
        0,
        this.#queue.length,
        ...planRanges(pieces, this.options.piecesPerRequest ?? 4),
      );
    }
    return moved;
  }

  /**
   * Takes the queued range at `at`; near the end (less left than a full request for each
   * live holder) only a fair share of it, so the last pieces spread over every holder
   * instead of waiting on one.
   */
  #take(at: number): Range {
    const [range] = this.#queue.splice(at, 1) as [Range];
    const queued = this.#queue.reduce((sum, r) => sum + r.count, range.count);
    const share = Math.max(1, Math.ceil(queued / Math.max(1, this.#live.size)));
    if (range.count <= share) return range;
    this.#queue.unshift({ ...range, first: range.first + share, count: range.count - share });
    return { ...range, count: share };
  }

  /**
   * End-game: with nothing queued this holder can serve, the unwritten rest of a request
   * under way at another holder (the one with the most left), asked of this one too. The
   * first copy of each piece is written; when a request's pieces are all in it is cancelled.
   * One duplicate per request at most, so a slow end costs at most twice its bytes.
   */
  #twin(id: string, holding: Holding): Range | undefined {
    let best: { request: Request; first: number; count: number } | undefined;
    for (const request of this.#active) {
      if (request.holder === id || request.twinned || !serves(holding, request.shard)) continue;
      let first = request.next;
      const end = request.first + request.count;
      while (first < end && this.#written.has(`${request.shard}/${first}`)) first++;
      if (first < end && (!best || end - first > best.count))
        best = { request, first, count: end - first };
    }
    if (!best) return undefined;
    best.request.twinned = true;
    return { shard: best.request.shard, first: best.first, count: best.count };
  }

  /** Cancels each request (but `except`) whose every remaining piece another one wrote. */
  #cancelCovered(except: Request): void {
    for (const request of this.#active) {
      if (request === except) continue;
      let piece = request.next;
      const end = request.first + request.count;
      while (piece < end && this.#written.has(`${request.shard}/${piece}`)) piece++;
      if (piece === end)
        request.cancel.abort(new FetchError('another holder sent these pieces first'));
    }
  }

  /**
   * Asks `peer` for `range` and writes what comes, each piece once. Answers the error that
   * ended it early (its unwritten pieces, unless another request has them, back in the
   * queue), or undefined when it completed or was cancelled because others completed it.
   */
  async #request(peer: PeerId, range: Range): Promise<unknown> {
    const id = peer.toString();
    const m = this.session.manifest;
    const request: Request = {
      ...range,
      next: range.first,
      holder: id,
      cancel: new AbortController(),
      twinned: false,
    };
    this.#active.add(request);
    this.#inFlight++;
    this.events.state(id, 'active');
    try {
      for await (const piece of fetchPieces(this.node.libp2p, peer, m, range, {
        signal: AbortSignal.any([this.signal, request.cancel.signal]),
        timeoutMs: this.options.timeoutMs ?? 20_000,
        // writePiece hashes each piece (its own copy) before it is written: once is enough.
        verify: false,
      })) {
        const key = `${piece.shard}/${piece.piece}`;
        // A duplicate's copy of a piece already written (or being written) is dropped here.
        if (this.#written.has(key) || this.#writing.has(key)) {
          request.next = piece.piece + 1;
          continue;
        }
        this.#writing.add(key);
        try {
          await this.session.writePiece(piece.shard, piece.piece, piece.bytes);
        } catch (error) {
          // The bytes did not match the manifest: the holder sent them.
          if (!(error instanceof PieceMismatchError)) throw error;
          throw new PeerSentBadDataError(id, m.blob_hash, error.message, piece.shard, piece.piece);
        } finally {
          this.#writing.delete(key);
        }
        // Only now: a piece that failed its check goes back to the queue with the rest.
        request.next = piece.piece + 1;
        this.#written.add(key);
        if (this.done) this.#over.abort(new FetchError('every piece is in'));
        this.events.bytes(id, piece.bytes.byteLength);
        this.#cancelCovered(request);
      }
      if (request.next < range.first + range.count)
        throw new FetchError('ended the transfer early');
      return undefined;
    } catch (error) {
      if (this.signal.aborted) throw this.signal.reason;
      if (request.cancel.signal.aborted) return undefined;
      this.#requeue(request);
      return error;
    } finally {
      this.#active.delete(request);
      this.#inFlight--;
      this.events.state(id, 'idle');
      this.#notify();
    }
  }

  /** Puts back the pieces of a failed request no one wrote and no other request is fetching. */
  #requeue(failed: Request): void {
    const rest: { shard: number; piece: number }[] = [];
    for (let piece = failed.next; piece < failed.first + failed.count; piece++) {
      const key = `${failed.shard}/${piece}`;
      if (this.#written.has(key) || this.#writing.has(key)) continue;
      const covered = [...this.#active].some(
        (r) =>
          r !== failed && r.shard === failed.shard && r.next <= piece && piece < r.first + r.count,
      );
      if (!covered) rest.push({ shard: failed.shard, piece });
    }
    this.#queue.unshift(...planRanges(rest, this.options.piecesPerRequest ?? 4));
  }

  /** `again`: a holder dropped as unreachable, tried again; it is back once it answers. */
  async #work(peer: PeerId, again: boolean): Promise<void> {
    const id = peer.toString();
    const m = this.session.manifest;
    let holding = this.#known.get(id);
    if (holding === undefined) {
      try {
        holding = await fetchHolding(this.node.libp2p, peer, m.blob_hash, {
          signal: AbortSignal.any([this.signal, this.#over.signal]),
          timeoutMs: this.options.timeoutMs ?? 20_000,
          totalShards: m.total_shards,
        });
      } catch (error) {
        if (this.signal.aborted) throw this.signal.reason;
        if (this.#over.signal.aborted) return;
        // It answered (it does not hold it, or it lied): that is final for this fetch.
        const answered =
          error instanceof ShardNotFoundError || error instanceof PeerSentBadDataError;
        this.#drop(id, error, !answered);
        return;
      }
      this.#known.set(id, holding);
      this.#live.set(id, holding);
      this.#notify();
    }
    if (again) this.events.joined(id);
    let streamRetries = 0;
    for (;;) {
      if (this.signal.aborted) throw this.signal.reason;
      const at = this.#queue.findIndex((r) => serves(holding, r.shard));
      let range = at === -1 ? undefined : this.#take(at);
      if (range === undefined) {
        if (this.#queue.length === 0 && this.#inFlight === 0) return;
        if (this.#substitute()) {
          this.#notify();
          continue;
        }
        range = this.#twin(id, holding);
      }
      if (range === undefined) {
        // Stuck: nothing in flight could requeue work, nobody is still saying what it has,
        // and no live holder has what the queue waits for.
        const asking = [...this.#live.values()].some((h) => h === undefined);
        const servable = this.#queue.some((r) => this.#someoneServes(r.shard));
        if (this.#inFlight === 0 && !asking && !servable) return;
        await this.#changed;
        continue;
      }
      const error = await this.#request(peer, range);
      if (error === undefined) continue;
      // A stream or connection cut under us (libp2p closing one of two connections made
      // at once, a WebRTC connection replaced) says nothing about the holder: ask it again,
      // a few times, once the connection had time to go. Bad bytes, refusals and stalls
      // drop it, as does a failed dial.
      if (!(transportCut(error) && streamRetries++ < STREAM_RETRIES)) {
        this.#drop(id, error, transportCut(error));
        return;
      }
      await sleep(RETRY_BACKOFF_MS * streamRetries, this.signal);
    }
  }
}

/** The transport, not the holder, ended the exchange: the stream or its connection closed. */
function transportCut(error: unknown): boolean {
  return (
    error instanceof WireStreamClosedError ||
    (error instanceof Error && error.name === 'ConnectionClosedError')
  );
}

function serves(holding: Holding, shard: number): boolean {
  return holding === 'all' || holding.includes(shard);
}
