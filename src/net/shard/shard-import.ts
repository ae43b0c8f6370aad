/**
 * Importing a blob from holders that speak only `/elohim/shard/1.0.0` (a Rust node: no piece
 * protocol, no piece hashes), shard by shard.
 *
 * Each shard the import needs is asked with `Get{shard_hash}` and streamed
 * ({@link shardGetStream}); its bytes are cut into the import's pieces and written as they
 * complete, so memory is a piece and the transport's window whatever the shard's size. The
 * import checks each shard against `shard_hashes` and the blob against `blob_hash` as the
 * pieces come (src/content), and parity is recomputed for `rs-4-7`: nothing is visible unless
 * all of it matches. rs-4-7 needs any 4 of the 7 shards: data shards first, parity in place of
 * one nobody has.
 *
 * The import can be read before it commits ({@link beginShardPull}): a shard's stream has
 * matched its hash once its last piece is written, so its pieces may be served from then on —
 * a Rust manifest has no piece hashes, so nothing of a shard may be served before. Readers say
 * which shards they need and those are fetched first, one shard at a time as before.
 */
import type {
  ContentStore,
  ImportSession,
  PieceRef,
  RemoteManifest,
  StoredManifest,
} from '../../content/index.ts';
import { pieceLength, piecesInShard, shardLength } from '../../content/index.ts';
import {
  type AbortOptions,
  errorMessage,
  logger,
  throwIfAborted,
  withSignal,
} from '../../wire/index.ts';
import { ShardError } from './errors.ts';
import { type ShardStreamOptions, shardGetStream } from './get-stream.ts';
import type { Libp2pDialLike, PeerTarget } from './open.ts';

const log = logger('shard:import');

export interface ShardImportOptions extends AbortOptions {
  /** Per-chunk (and dial) timeout of each shard's transfer. Default 30 s. */
  timeoutMs?: number;
  /** Verified bytes as they are written, for progress. */
  onBytes?: (bytes: number) => void;
}

/** Writes one shard's streamed bytes as the import's pieces. */
async function writeShard(
  session: ImportSession,
  shard: number,
  chunks: AsyncIterable<Uint8Array>,
  onBytes: ((n: number) => void) | undefined,
): Promise<void> {
  const m = session.manifest;
  const len = shardLength(m, shard);
  const count = piecesInShard(len, m.piece_size);
  let piece = 0;
  let buf = new Uint8Array(pieceLength(len, m.piece_size, 0));
  let fill = 0;
  for await (let c of chunks) {
    while (c.byteLength > 0) {
      if (piece >= count) throw new ShardError(`shard ${shard} is longer than its ${len} bytes`);
      const k = Math.min(c.byteLength, buf.byteLength - fill);
      buf.set(c.subarray(0, k), fill);
      fill += k;
      c = c.subarray(k);
      if (fill === buf.byteLength) {
        await session.writePiece(shard, piece, buf);
        onBytes?.(buf.byteLength);
        piece++;
        fill = 0;
        if (piece < count) buf = new Uint8Array(pieceLength(len, m.piece_size, piece));
      }
    }
  }
  if (piece !== count)
    throw new ShardError(`shard ${shard} ended after ${piece} of ${count} pieces`);
}

/** One import from shard-only holders, readable shard by shard before it completes. */
export interface ShardPull {
  /** The manifest to read the written pieces with (`store.readPartial`) before the commit. */
  readonly partialManifest: StoredManifest;
  /**
   * Resolves once every shard holding `pieces` is written and matched its shard hash. Starts
   * the import if it has not begun, and fetches those shards before the others (data shards;
   * a parity shard, or a data shard no holder has, is ready when the import has committed).
   * `signal` stops this wait only: the import goes on.
   */
  ensure(pieces: readonly PieceRef[], signal?: AbortSignal): Promise<void>;
  /** Starts the import if it has not begun; the stored manifest once it has committed. */
  done(): Promise<StoredManifest>;
  /** The import failed and kept nothing: begin another to try again. */
  readonly failed: boolean;
}

interface Waiting {
  promise: Promise<void>;
  resolve: () => void;
  reject: (e: unknown) => void;
}

function waiting(): Waiting {
  let resolve!: () => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // Nobody may be waiting for this shard when the import fails.
  promise.catch(() => {});
  return { promise, resolve, reject };
}

class Pull implements ShardPull {
  readonly #m: RemoteManifest;
  /** Per shard: written and matched its hash (or the import committed). */
  readonly #shards: Waiting[];
  /** Shards asked for by readers, first asked first; fetched before the plain order. */
  readonly #wanted: number[] = [];
  readonly #tried = new Set<number>();
  #running: Promise<StoredManifest> | undefined;
  failed = false;

  constructor(
    private readonly libp2p: Libp2pDialLike,
    private readonly session: ImportSession,
    private readonly holders: readonly PeerTarget[],
    private readonly opts: ShardImportOptions,
  ) {
    this.#m = session.manifest;
    this.#shards = Array.from({ length: this.#m.total_shards }, waiting);
    if (session.alreadyStored) for (const w of this.#shards) w.resolve();
    // Stopped before a reader started it: nobody else tells the waiting ones.
    opts.signal?.addEventListener(
      'abort',
      () => {
        for (const w of this.#shards) w.reject(opts.signal?.reason);
      },
      { once: true },
    );
  }

  get partialManifest(): StoredManifest {
    return this.session.partialManifest;
  }

  async ensure(pieces: readonly PieceRef[], signal?: AbortSignal): Promise<void> {
    const m = this.#m;
    const shards = [...new Set(pieces.map((p) => p.shard))];
    const bad = shards.find((s) => !Number.isInteger(s) || s < 0 || s >= m.total_shards);
    if (bad !== undefined) throw new RangeError(`${m.blob_hash} has no shard ${bad}.`);
    const data = m.encoding === 'rs-4-7' ? m.data_shards : m.total_shards;
    for (const s of shards) if (s < data && !this.#wanted.includes(s)) this.#wanted.push(s);
    this.done().catch(() => {});
    await withSignal(Promise.all(shards.map((s) => (this.#shards[s] as Waiting).promise)), signal);
  }

  done(): Promise<StoredManifest> {
    this.#running ??= this.session.alreadyStored ? this.session.commit(this.opts) : this.#run();
    return this.#running;
  }

  /** The next shard to fetch: one a reader asked for, else the next in order. */
  #next(): number | undefined {
    const wanted = this.#wanted.find((s) => !this.#tried.has(s));
    if (wanted !== undefined) return wanted;
    for (let s = 0; s < this.#m.total_shards; s++) if (!this.#tried.has(s)) return s;
    return undefined;
  }

  async #run(): Promise<StoredManifest> {
    const { session, opts } = this;
    const m = this.#m;
    // rs-4-7: any 4 shards; in order, so the data shards first and a parity shard only in
    // place of one nobody has.
    const need = m.encoding === 'rs-4-7' ? m.data_shards : m.total_shards;
    try {
      let have = 0;
      const failures: string[] = [];
      for (let shard = this.#next(); shard !== undefined && have < need; shard = this.#next()) {
        this.#tried.add(shard);
        if (await this.#fetch(shard, failures)) {
          have++;
          (this.#shards[shard] as Waiting).resolve();
        }
      }
      if (have < need) {
        throw new ShardError(
          `Only ${have} of the ${need} shards of ${m.blob_hash} could be fetched (${failures.join('; ')}). Try other holders.`,
        );
      }
      const stored = await session.commit(opts);
      for (const w of this.#shards) w.resolve();
      return stored;
    } catch (e) {
      this.failed = true;
      await session.abort();
      for (const w of this.#shards) w.reject(e);
      throw e;
    }
  }

  /**
   * Shard `shard` from the first holder that has it: true once written and its hash matched,
   * false when every holder failed before a byte of it came (noted in `failures`).
   */
  async #fetch(shard: number, failures: string[]): Promise<boolean> {
    const { opts } = this;
    const streamOpts: ShardStreamOptions = {
      ...(opts.signal ? { signal: opts.signal } : {}),
      ...(opts.timeoutMs === undefined ? {} : { timeoutMs: opts.timeoutMs }),
    };
    for (const holder of this.holders) {
      throwIfAborted(opts.signal);
      let started = false;
      const libp2p = this.libp2p;
      const hash = this.#m.shard_hashes[shard] as string;
      const counted = (async function* () {
        for await (const c of shardGetStream(libp2p, holder, hash, streamOpts)) {
          started = true;
          yield c;
        }
      })();
      try {
        // Returns once the stream's hash matched: every piece of the shard is written by then.
        await writeShard(this.session, shard, counted, opts.onBytes);
        return true;
      } catch (e) {
        // Bytes of this shard are in the import: only a fresh import may take it from another.
        if (started || opts.signal?.aborted) throw e;
        failures.push(`shard ${shard} from ${String(holder)}: ${errorMessage(e)}`);
        log('%s', failures.at(-1));
      }
    }
    return false;
  }
}

/**
 * Begins importing the blob `manifest` describes (any of our or the Rust shapes) from
 * `holders`; nothing is asked of them until {@link ShardPull.ensure} or
 * {@link ShardPull.done}. Each shard is asked of the first holder that has it. A holder
 * answering `NotFound` (or failing before a byte of a shard came) is passed over for that
 * shard; bytes that do not match end the whole import, nothing kept (`ManifestMismatchError`
 * or `PeerSentBadDataError`): ask other holders afresh. `opts.signal` stops it and discards
 * what it wrote.
 */
export async function beginShardPull(
  libp2p: Libp2pDialLike,
  store: ContentStore,
  manifest: RemoteManifest | unknown,
  holders: readonly PeerTarget[],
  opts: ShardImportOptions = {},
): Promise<ShardPull> {
  const session = await store.beginImport(manifest as RemoteManifest, opts);
  return new Pull(libp2p, session, holders, opts);
}

/** The whole import of {@link beginShardPull}: resolves with the stored manifest. */
export async function importFromShardHolders(
  libp2p: Libp2pDialLike,
  store: ContentStore,
  manifest: RemoteManifest | unknown,
  holders: readonly PeerTarget[],
  opts: ShardImportOptions = {},
): Promise<StoredManifest> {
  return (await beginShardPull(libp2p, store, manifest, holders, opts)).done();
}
