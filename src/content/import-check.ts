/**
 * An import's checks, done while its pieces arrive instead of in a second pass at commit.
 *
 * Every piece is verified against `piece_hashes` before it is written (import-session.ts);
 * this module then feeds the written pieces to the hashes that prove the manifest itself:
 *  - **lanes**: byte sequences that one incremental sha256 chain must see in order — the blob
 *    (none/chunked: every piece; rs-4-7: the data shards, cut at `total_size`, padding checked
 *    to be zeros) with its shard hashes, or each shard of a shard import. A lane advances over
 *    the contiguous prefix of its pieces that are written, so out-of-order arrival only delays it;
 *  - **stripes** (rs-4-7): stripe j is checked as soon as it has 4 pieces, in stripe order —
 *    missing data rebuilt (and checked against `piece_hashes`), parity recomputed, checked,
 *    written, and the 3 parity shards hashed (import-stripes.ts).
 *
 * Memory is a bounded **window**: a piece is kept in memory after its write only when the lane
 * (or the stripe stage) that needs it is close to it — its position within the next
 * `lookahead` pieces of the lane, its stripe within the next few stripes.
 * Anything else is read back from the backend (and verified again) when its turn comes, so
 * memory stays bounded whatever the order; in the usual order (a fetch asks for ranges in
 * blob order) nothing is read back for the lanes. `finish` waits for what is left, then
 * every hash has been compared; see README.md ("Import") for what the commit still checks.
 * What each kind of import feeds to which lanes is in import.ts (`blobCheck`, `shardsCheck`).
 */
import { type ContentBackend, type PieceRef, quiet } from './backend.ts';
import { ContentError } from './errors.ts';
import type { HashService, IncrementalHasher } from './hasher.ts';
import { expectShardHash, pieceKey, readVerified } from './import-verify.ts';
import { piecesInShard, type StoredManifest, shardLength } from './manifest.ts';

export interface CheckContext {
  backend: ContentBackend;
  hashes: HashService;
  /** Bytes of written pieces kept in memory for the checks; beyond it, pieces are read back. */
  windowBytes: number;
}

/** Default {@link CheckContext.windowBytes}: the out-of-order spread of a few holders' ranges. */
export const DEFAULT_IMPORT_WINDOW = 32 * 1024 * 1024;
/** Pieces read back together (one backend read) when a lane finds no bytes in memory. */
const READ_BATCH = 4;

/** One step of a lane: the piece's bytes, and whether its buffer may be given away. */
type Feed = (ref: PieceRef, bytes: Uint8Array, mayTransfer: boolean) => Promise<void>;

/** Something that advances while pieces are written: a lane or the stripe stage. */
export interface Stage {
  /** Keeps `bytes` if this stage will need them soon; whether it did. */
  offer(key: string, ref: PieceRef, bytes: Uint8Array): boolean;
  /** Whether this stage still holds bytes for `key` (then nobody may transfer them). */
  holds(key: string): boolean;
  /** Does all the work that is possible now. */
  advance(): Promise<void>;
  readonly ended: boolean;
  /** Pieces (lane) or stripes (stripe stage) done: the commit tells progress from a stall. */
  readonly position: number;
  /** Blob bytes this stage has checked (for the commit's progress). */
  readonly bytesDone: number;
  dispose(): void;
}

interface Runner {
  stage: Stage;
  running: Promise<void> | undefined;
  again: boolean;
}

/**
 * The incremental checks of one import. `written` after each verified write; `finish` at
 * commit (throws the first mismatch); `cancel` on abort. Reads back from the backend only what
 * the window could not keep.
 */
export class ImportCheck {
  /** Pieces written (by the import or by the stripe stage), verified. */
  readonly stored = new Set<string>();
  private readonly runners: Runner[] = [];
  private failure: unknown;
  private stopped = false;
  private onStep: (() => void) | undefined;

  constructor(
    readonly ctx: CheckContext,
    readonly m: StoredManifest,
    /** The commit's progress: the slowest stage (a blob), or the stages' sum (shards). */
    private readonly progress: 'min' | 'sum',
  ) {}

  /** Registers a stage; the first registered reports progress first. */
  add(stage: Stage): void {
    this.runners.push({ stage, running: undefined, again: false });
  }

  /** Piece `ref` was verified and written; `bytes` are ours (the write took its own copy). */
  written(ref: PieceRef, bytes: Uint8Array): void {
    const key = pieceKey(ref.shard, ref.piece);
    if (this.stopped || this.stored.has(key)) return;
    this.stored.add(key);
    for (const r of this.runners) r.stage.offer(key, ref, bytes);
    this.kick();
  }

  /** Bytes of `key` held by a stage other than `self`. */
  heldElsewhere(self: Stage, key: string): boolean {
    return this.runners.some((r) => r.stage !== self && r.stage.holds(key));
  }

  /** Reads `refs` back from the backend, each verified again. */
  readBack(refs: readonly PieceRef[]): Promise<Uint8Array[]> {
    return readVerified(this.ctx.backend, this.m, refs);
  }

  /** Runs every stage that can progress (each one loop at a time). */
  kick(): void {
    for (const r of this.runners) this.run(r);
  }

  private run(r: Runner): void {
    if (this.stopped) return;
    if (r.running) {
      r.again = true;
      return;
    }
    r.running = (async () => {
      try {
        do {
          r.again = false;
          await r.stage.advance();
          this.onStep?.();
        } while (r.again && !this.stopped);
      } catch (e) {
        this.fail(e);
      } finally {
        r.running = undefined;
      }
    })();
  }

  private fail(e: unknown): void {
    if (this.stopped) return;
    this.failure = e;
    this.cancel();
  }

  get stopping(): boolean {
    return this.stopped;
  }

  /** Blob bytes all stages have checked. */
  get bytesDone(): number {
    const each = this.runners.map((r) => r.stage.bytesDone);
    if (this.progress === 'min') return Math.min(...each);
    return Math.min(
      this.m.total_size,
      each.reduce((a, b) => a + b, 0),
    );
  }

  private get position(): string {
    return this.runners.map((r) => `${r.stage.position}${r.stage.ended ? '.' : ''}`).join();
  }

  /**
   * At commit (every needed piece written): waits for the stages to finish what is left and
   * throws the first mismatch. `report` gets the bytes checked as they grow.
   */
  async finish(signal: AbortSignal, report: (bytesDone: number) => void): Promise<void> {
    this.onStep = () => report(this.bytesDone);
    report(this.bytesDone);
    let onAbort: (() => void) | undefined;
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(signal.reason);
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
    });
    quiet(aborted);
    try {
      for (;;) {
        if (this.failure !== undefined) throw this.failure;
        if (this.stopped) throw new ContentError('The import checks were stopped.');
        if (this.runners.every((r) => r.stage.ended)) break;
        const before = this.position;
        this.kick();
        // Stages kick each other (rebuilt rs data feeds the blob lane): wait until all rest.
        while (this.runners.some((r) => r.running)) {
          await Promise.race([Promise.all(this.runners.map((r) => r.running)), aborted]);
        }
        if (this.failure === undefined && !this.stopped && this.position === before) {
          throw new ContentError(
            `${this.m.blob_hash}: the import checks cannot go on although every needed piece is written. This is a bug; abort the import and begin it again.`,
          );
        }
      }
      report(this.bytesDone);
    } finally {
      if (onAbort) signal.removeEventListener('abort', onAbort);
      this.onStep = undefined;
    }
  }

  /** Stops every stage and drops what they hold (abort, failure, discard). Idempotent. */
  cancel(): void {
    if (this.stopped) return;
    this.stopped = true;
    for (const r of this.runners) {
      // A stage still running disposes itself when its current step returns.
      if (r.running) r.running.finally(() => r.stage.dispose());
      else r.stage.dispose();
    }
  }
}

/**
 * A stage's share of the window: it keeps a written piece only while the piece's place in its
 * order is within `lookahead` of where the stage is, so it never holds more than that.
 */
export abstract class WindowedStage {
  protected next = 0;
  protected done = false;
  protected readonly held = new Map<string, Uint8Array>();

  constructor(protected readonly lookahead: number) {}

  /** Where `ref` comes in this stage's order; `undefined` when the stage does not need it. */
  protected abstract place(key: string, ref: PieceRef): number | undefined;

  get ended(): boolean {
    return this.done;
  }

  get position(): number {
    return this.next;
  }

  offer(key: string, ref: PieceRef, bytes: Uint8Array): boolean {
    const at = this.place(key, ref);
    if (at === undefined || at < this.next || at >= this.next + this.lookahead) return false;
    this.held.set(key, bytes);
    return true;
  }

  holds(key: string): boolean {
    return this.held.has(key);
  }
}

export interface LaneOptions {
  /** The pieces, in the order the hashes must see them. */
  refs: readonly PieceRef[];
  /** How many pieces ahead of the lane's position are kept in memory when they come early. */
  lookahead: number;
  feed: Feed;
  /** After the last piece: digests and comparisons. */
  end: () => Promise<void>;
  /** Blob bytes checked once the lane has fed `ref` (default: the bytes fed so far). */
  progress?: (ref: PieceRef, fed: number) => number;
  /** Drops the lane's hashers (abort, failure). */
  cancel: () => void;
}

/**
 * A sequence of pieces that incremental hashes must see in order. Keeps in memory the
 * written pieces among its next `lookahead`; reads the others back when it reaches them.
 */
export class Lane extends WindowedStage implements Stage {
  private readonly at = new Map<string, number>();
  /** The next read-back, started while the current one is hashed. */
  private ahead: { at: number; run: PieceRef[]; bytes: Promise<Uint8Array[]> } | undefined;
  bytesDone = 0;

  constructor(
    private readonly check: ImportCheck,
    private readonly o: LaneOptions,
  ) {
    super(o.lookahead);
    for (const [i, r] of o.refs.entries()) this.at.set(pieceKey(r.shard, r.piece), i);
  }

  protected place(key: string): number | undefined {
    return this.at.get(key);
  }

  async advance(): Promise<void> {
    const { check } = this;
    const { refs } = this.o;
    while (this.next < refs.length && !check.stopping) {
      const ref = refs[this.next] as PieceRef;
      const key = pieceKey(ref.shard, ref.piece);
      if (!check.stored.has(key)) return;
      const bytes = this.held.get(key);
      if (bytes) {
        await this.step(ref, key, bytes, !check.heldElsewhere(this, key));
        continue;
      }
      // Not kept (the window was full, or it came far ahead): read it back with the written,
      // unkept pieces right after it, and the run after that while this one is hashed.
      const ahead = this.ahead?.at === this.next ? this.ahead : undefined;
      const run = ahead?.run ?? this.unkeptFrom(this.next);
      const reading = ahead?.bytes ?? check.readBack(run);
      this.ahead = undefined;
      quiet(reading);
      const following = this.unkeptFrom(this.next + run.length);
      if (following.length > 0) {
        const bytes = check.readBack(following);
        quiet(bytes);
        this.ahead = { at: this.next + run.length, run: following, bytes };
      }
      const got = await reading;
      for (let i = 0; i < run.length && !check.stopping; i++) {
        const r = run[i] as PieceRef;
        await this.step(r, pieceKey(r.shard, r.piece), got[i] as Uint8Array, true);
      }
    }
    if (this.next === refs.length && !this.done && !check.stopping) {
      await this.o.end();
      this.done = true;
    }
  }

  /**
   * The written pieces from position `from` on that this lane does not keep, up to
   * READ_BATCH (none when the piece at `from` is not written or is kept). A stored piece is
   * never offered again, so the answer does not change until the lane gets there.
   */
  private unkeptFrom(from: number): PieceRef[] {
    const { refs } = this.o;
    const run: PieceRef[] = [];
    for (let i = from; i < refs.length && run.length < READ_BATCH; i++) {
      const r = refs[i] as PieceRef;
      const k = pieceKey(r.shard, r.piece);
      if (!this.check.stored.has(k) || this.held.has(k)) break;
      run.push(r);
    }
    return run;
  }

  private async step(ref: PieceRef, key: string, bytes: Uint8Array, mayTransfer: boolean) {
    this.held.delete(key);
    await this.o.feed(ref, bytes, mayTransfer);
    this.next++;
    this.bytesDone = this.o.progress
      ? this.o.progress(ref, bytes.byteLength)
      : this.bytesDone + bytes.byteLength;
  }

  dispose(): void {
    this.held.clear();
    this.ahead = undefined;
    if (!this.done) this.o.cancel();
  }
}

/** A hasher per shard, created when its first piece comes, digested after its last. */
export class ShardHashers {
  private current: { shard: number; hasher: IncrementalHasher } | undefined;
  private readonly all: IncrementalHasher[] = [];

  constructor(
    private readonly check: ImportCheck,
    private readonly what: (shard: number) => string,
  ) {}

  /** Feeds piece `ref` of its shard; after the shard's last piece, compares its hash. */
  async update(ref: PieceRef, bytes: Uint8Array, transfer: boolean, last: boolean): Promise<void> {
    const { m, ctx } = this.check;
    if (this.current?.shard !== ref.shard) {
      const hasher = ctx.hashes.createHasher({ sizeHint: shardLength(m, ref.shard) });
      this.all.push(hasher);
      this.current = { shard: ref.shard, hasher };
    }
    await this.current.hasher.update(bytes, { transfer });
    if (last) {
      const actual = await this.current.hasher.digest();
      this.current = undefined;
      expectShardHash(m, ref.shard, actual, this.what(ref.shard));
    }
  }

  cancel(): void {
    for (const h of this.all) h.cancel();
  }
}

/** Is `ref` the last piece of its shard? */
export function lastOfShard(m: StoredManifest, ref: PieceRef): boolean {
  return ref.piece === piecesInShard(shardLength(m, ref.shard), m.piece_size) - 1;
}
