/**
 * Streaming a blob that only peers hold: the service worker serves `/content/<hash>` ranges
 * (a `<video>` seeking, say) by asking this tab for just the pieces each range needs.
 *
 *   const streamer = new ContentStreamer(node, store, finder);
 *   const m = await streamer.open(hash, { signal });           // manifest, import begun
 *   await streamer.ensure(hash, [{ shard, piece }], { signal }); // those pieces written
 *   store.readPartial(m, { ensure: … })                          // verified bytes
 *
 * Pieces land in an ordinary import (verified against the manifest before they are written),
 * so once every piece has been streamed the import commits and the blob joins the library.
 * Until then the import is a put in progress: closing the tab discards it on the next open.
 *
 * `accept` sees a holder's manifest before the import begins and may refuse it (the doorway
 * serves commons only): a refused item is never asked a piece of and leaves nothing in the
 * store. `discard(hash)` ends one stream (pieces written so far go with it).
 *
 * An rs-4-7 blob may be held only as shards spread over peers: a data piece whose shard no
 * holder has is read by rebuilding its stripe, so for those stripes all 4 data pieces are
 * asked for, and the scheduler fetches parity in place of the shards nobody has.
 */
import type { PeerId } from '@libp2p/interface';
import {
  type ContentStore,
  type ImportSession,
  type PieceRef,
  parseContentHash,
  type StoredManifest,
} from '../content/index.ts';
import { errorMessage, withSignal } from '../wire/index.ts';
import { AllHoldersFailedError, NoHoldersError } from './errors.ts';
import { type FetchNode, findManifest, type HolderFinder } from './fetch.ts';
import { PieceScheduler } from './piece-scheduler.ts';
import type { SearchReport } from './search.ts';
import type { Holding, RemoteManifest } from './shard/index.ts';
import { type Census, census } from './shards.ts';

export interface StreamStats {
  /** Blob bytes fetched from peers for this stream so far. */
  bytesFetched: number;
  totalBytes: number;
}

/** One `ensure`'s fetch of the pieces nobody was fetching yet. */
interface Batch {
  done: Promise<void>;
  /** Stops this fetch alone (the stream goes on). */
  controller: AbortController;
  /** Ranges waiting for it: at 0 before it is done, nobody needs it and it stops. */
  waiters: number;
  keys: string[];
}

interface Stream {
  session: ImportSession;
  holders: PeerId[];
  /** `shard/piece` → its fetch, shared by every range that needs it. */
  inFlight: Map<string, Batch>;
  /** Aborts the fetches when the streamer closes (a range's own signal only stops waiting). */
  controller: AbortController;
  stats: StreamStats;
  failures: string[];
  /** What each holder has of the blob, asked once per stream. */
  holdings: Map<string, Holding>;
}

const key = (r: PieceRef) => `${r.shard}/${r.piece}`;

export interface ContentStreamerOptions {
  /** Per-piece (and dial) timeout. Default 20 s. */
  timeoutMs?: number;
  piecesPerRequest?: number;
  /** Throws to refuse a holder's manifest; `open` then rejects with what it threw. */
  accept?: (manifest: RemoteManifest) => void;
  /** Told of every verified piece written, with its length (a running total for operators). */
  onBytes?: (bytes: number) => void;
}

interface Opening {
  stream: Promise<Stream>;
  /** Stops finding holders and fetching, from the first step on (see {@link discard}). */
  controller: AbortController;
  /**
   * Told what the search for holders heard: every caller waiting for this opening (a second
   * range joining the first one's search must be able to say whom it asked, too).
   */
  listeners: Set<SearchReport>;
}

export class ContentStreamer {
  readonly #streams = new Map<string, Opening>();

  constructor(
    private readonly node: FetchNode,
    private readonly store: ContentStore,
    private readonly finder: HolderFinder,
    private readonly options: ContentStreamerOptions = {},
  ) {}

  /**
   * The manifest to read `hash` with: the stored one when the blob is here, else the manifest
   * of a holder with this tab's import key, ready for {@link ensure}. Throws `NoHoldersError`
   * when no reachable peer holds it. `onSearch` hears each answer of that search (see
   * `SearchTally`), so that the caller can tell "nobody holds it" as a fetch does.
   */
  async open(
    input: string,
    { signal, onSearch }: { signal?: AbortSignal; onSearch?: SearchReport } = {},
  ): Promise<StoredManifest> {
    const hash = parseContentHash(input);
    // An open stream answers without a store lookup (a seek asks again for every range).
    let opening = this.#streams.get(hash);
    if (!opening) {
      const stored = await this.store.manifest(hash);
      if (stored) return stored;
      opening = this.#streams.get(hash);
    }
    if (!opening) {
      const controller = new AbortController();
      // Filled before the search starts: a finder may report before its first await.
      const listeners = new Set<SearchReport>(onSearch ? [onSearch] : []);
      const report: SearchReport = (event) => {
        for (const listener of listeners) listener(event);
      };
      const stream = this.#begin(hash, controller, report);
      const begun: Opening = { stream, controller, listeners };
      this.#streams.set(hash, begun);
      stream.catch(() => this.#forget(hash, begun));
      opening = begun;
    } else if (onSearch) opening.listeners.add(onSearch);
    try {
      return (await withSignal(opening.stream, signal)).session.partialManifest;
    } finally {
      if (onSearch) opening.listeners.delete(onSearch);
    }
  }

  /**
   * Resolves once every piece in `pieces` is verified and written (fetching what is missing).
   * When `signal` aborts, fetches that no other range waits for stop: a seek abandons the
   * read-ahead of the range it left, which would otherwise hold up the range it went to.
   */
  async ensure(
    input: string,
    pieces: readonly PieceRef[],
    { signal }: { signal?: AbortSignal } = {},
  ): Promise<void> {
    const hash = parseContentHash(input);
    // An open stream is asked first: the store only when none is (it committed, say).
    const pending = this.#streams.get(hash)?.stream;
    if (!pending) {
      if (await this.store.has(hash)) return;
      throw new Error(`No stream of ${hash} is open in this tab: open it first, then ask again.`);
    }
    const stream = await withSignal(pending, signal);
    const wanted = pieces.filter((r) => !stream.session.has(r.shard, r.piece));
    const toFetch = wanted.filter((r) => !stream.inFlight.has(key(r)));
    if (toFetch.length > 0) this.#startBatch(hash, stream, toFetch);
    const batches = [...new Set(wanted.flatMap((r) => stream.inFlight.get(key(r)) ?? []))];
    for (const batch of batches) batch.waiters++;
    try {
      await withSignal(Promise.all(batches.map((b) => b.done)), signal);
    } finally {
      for (const batch of batches) {
        batch.waiters--;
        if (batch.waiters === 0) this.#stopBatch(stream, batch);
      }
    }
  }

  #startBatch(hash: string, stream: Stream, pieces: PieceRef[]): void {
    const controller = new AbortController();
    const signal = AbortSignal.any([stream.controller.signal, controller.signal]);
    const batch: Batch = {
      done: this.#fetch(hash, stream, pieces, signal),
      controller,
      waiters: 0,
      keys: pieces.map(key),
    };
    for (const k of batch.keys) stream.inFlight.set(k, batch);
    void batch.done.catch(() => {}).finally(() => this.#forgetBatch(stream, batch));
  }

  /** Stops a fetch nobody waits for; done or not, its pieces are no longer in flight. */
  #stopBatch(stream: Stream, batch: Batch): void {
    // Forgotten first, so that a range asking for these pieces next starts a fetch of its own.
    this.#forgetBatch(stream, batch);
    batch.controller.abort(new Error('No range needs these pieces any more.'));
  }

  #forgetBatch(stream: Stream, batch: Batch): void {
    for (const k of batch.keys) if (stream.inFlight.get(k) === batch) stream.inFlight.delete(k);
  }

  /** Bytes fetched for an open stream, or undefined. */
  async stats(input: string): Promise<StreamStats | undefined> {
    const opening = this.#streams.get(parseContentHash(input));
    const stream = await opening?.stream.catch(() => undefined);
    return stream ? { ...stream.stats } : undefined;
  }

  /**
   * Stops the stream of `hash` (finding holders, the manifest, or fetching pieces) and discards
   * what it wrote. A blob whose stream already committed stays.
   */
  discard(input: string): void {
    const hash = parseContentHash(input);
    const opening = this.#streams.get(hash);
    if (!opening) return;
    this.#forget(hash, opening);
    opening.controller.abort(new Error(`The stream of ${hash} was discarded.`));
    void opening.stream.then(
      (stream) => stream.session.abort(),
      () => {},
    );
  }

  /** Stops every stream's fetches and discards what they wrote. */
  close(): void {
    for (const hash of [...this.#streams.keys()]) this.discard(hash);
  }

  /** Forgets `opening` unless a newer stream of the hash has replaced it. */
  #forget(hash: string, opening: Opening): void {
    if (this.#streams.get(hash) === opening) this.#streams.delete(hash);
  }

  async #begin(hash: string, controller: AbortController, onSearch: SearchReport): Promise<Stream> {
    const { signal } = controller;
    const holders = await this.finder.findHolders(hash, { signal, onSearch });
    if (holders.length === 0) throw new NoHoldersError(hash);
    const failures: string[] = [];
    const drop = (id: string, error: unknown) => failures.push(`${id}: ${errorMessage(error)}`);
    // What each holder has, asked beside the manifest rather than after it (or by the first
    // range's batch): one round trip less before the first piece. Checked against the
    // manifest once it is here.
    const asked = census(
      this.node.libp2p,
      holders.map(String),
      hash,
      Number.POSITIVE_INFINITY,
      signal,
      this.options.timeoutMs,
    );
    asked.catch(() => {});
    const manifest = await findManifest(
      this.node,
      holders,
      hash,
      signal,
      this.options.timeoutMs,
      drop,
    );
    if (!manifest) throw new AllHoldersFailedError(hash, failures);
    this.options.accept?.(manifest);
    const session = await this.store.beginImport(manifest, { signal });
    const holdings = new Map<string, Holding>();
    const learn = (held: Census) => {
      for (const [peer, holding] of held) {
        const fits = holding === 'all' || holding?.every((s) => s < manifest.total_shards);
        if (holding && fits) holdings.set(peer, holding);
      }
    };
    // rs-4-7: which shards each holder has decides which pieces a range needs (see above).
    // Otherwise a batch that starts before the answers asks its holders itself.
    if (manifest.encoding === 'rs-4-7') learn(await asked);
    else void asked.then(learn, () => {});
    return {
      session,
      holders,
      inFlight: new Map(),
      controller,
      stats: { bytesFetched: 0, totalBytes: manifest.total_size },
      failures,
      holdings,
    };
  }

  /**
   * The pieces to fetch for `pieces`: themselves, but for rs-4-7 pieces whose shard no known
   * holder has, every data piece of their stripe (the scheduler swaps lost shards for parity).
   */
  #toFetch(stream: Stream, pieces: PieceRef[]): PieceRef[] {
    const m = stream.session.manifest;
    if (m.encoding !== 'rs-4-7') return pieces;
    const held = [...stream.holdings.values()];
    const covered = (shard: number) => held.some((h) => h === 'all' || h.includes(shard));
    const stripes = new Set(pieces.filter((p) => !covered(p.shard)).map((p) => p.piece));
    if (stripes.size === 0) return pieces;
    const out = pieces.filter((p) => !stripes.has(p.piece));
    for (const j of stripes) {
      const written = Array.from({ length: m.total_shards }, (_, s) => s).filter((s) =>
        stream.session.has(s, j),
      );
      // 4 pieces of the stripe are in: the read rebuilds the rest.
      if (written.length >= m.data_shards) continue;
      for (let s = 0; s < m.data_shards; s++) {
        if (!written.includes(s)) out.push({ shard: s, piece: j });
      }
    }
    return out;
  }

  async #fetch(
    hash: string,
    stream: Stream,
    pieces: PieceRef[],
    signal: AbortSignal,
  ): Promise<void> {
    const options = { ...this.options, holdings: stream.holdings };
    const wanted = this.#toFetch(stream, pieces);
    const scheduler = new PieceScheduler(stream.session, wanted, this.node, signal, options, {
      joined: () => {},
      state: () => {},
      bytes: (_id, bytes) => {
        stream.stats.bytesFetched += bytes;
        this.options.onBytes?.(bytes);
      },
      dropped: (id, error) => stream.failures.push(`${id}: ${errorMessage(error)}`),
    });
    await scheduler.run(stream.holders, async (known) => {
      stream.holders = await this.finder.findHolders(hash, { signal, known });
      return stream.holders;
    });
    if (!scheduler.done) throw new AllHoldersFailedError(hash, stream.failures.slice(-4));
    if (stream.session.complete) void this.#commit(hash, stream);
  }

  /** Every piece has been streamed: keep the blob, as a full fetch would. */
  async #commit(hash: string, stream: Stream): Promise<void> {
    const opening = this.#streams.get(hash);
    try {
      await stream.session.commit({ signal: stream.controller.signal });
    } catch {
      // A commit that fails (the manifest lied) discards the import; the next open starts over.
    } finally {
      if (opening) this.#forget(hash, opening);
    }
  }
}
