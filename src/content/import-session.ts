/**
 * What every import of pieces shares with a `put`: a fresh id, its Web Lock and pending record
 * ({@link openPending}), verified idempotent writes, abort and quota handling, and a commit
 * that trusts nothing it was told ({@link PieceImportBase}): its checks run as the pieces
 * arrive (import-check.ts), so the commit only waits for what is left of them.
 */

import { abortReason, throwIfAborted } from '../wire/index.ts';
import type { ContentHash } from './address.ts';
import { type ContentBackend, newPending, type PieceRef, quiet } from './backend.ts';
import {
  ImportClosedError,
  ImportIncompleteError,
  isQuotaError,
  PieceMismatchError,
  StorageQuotaError,
} from './errors.ts';
import type { HashService } from './hasher.ts';
import { sha256Bytes } from './hasher.ts';
import type { ImportCheck } from './import-check.ts';
import { type RemoteManifest, UNKNOWN_PIECE } from './import-manifest.ts';
import { pieceKey, putPieces } from './import-verify.ts';
import { type LockManagerLike, putLockName } from './ingest.ts';
import { pieceLength, shardLength } from './manifest.ts';

export interface ImportProgress {
  /** Blob bytes verified so far by the whole-blob check (most of it before the commit began). */
  bytesDone: number;
  totalBytes: number;
}

export interface ImportCommitOptions {
  signal?: AbortSignal;
  onProgress?: (p: ImportProgress) => void;
}

export interface ImportContext {
  backend: ContentBackend;
  hashes: HashService;
  instanceId: string;
  locks: LockManagerLike | undefined;
  /** The store's 'added' change event. */
  onAdded: (hash: ContentHash) => void;
  /** The store's 'held' change event (shards held for the network changed). */
  onHeld: (hash: ContentHash) => void;
  /** Live sessions, so that closing the store releases their locks (the next open sweeps). */
  live: Set<{ detach(): void }>;
  /** Bytes of written pieces an import keeps in memory for its checks (default 32 MiB). */
  windowBytes?: number;
}

type State = 'open' | 'committing' | 'committed' | 'aborted' | 'failed';

/** Holds a Web Lock until the returned function is called. */
async function holdLock(locks: LockManagerLike, name: string): Promise<() => void> {
  let release!: () => void;
  const held = new Promise<void>((r) => {
    release = r;
  });
  await new Promise<void>((acquired, reject) => {
    locks
      .request(name, () => {
        acquired();
        return held;
      })
      .catch(reject);
  });
  return release;
}

/** A fresh import id, its Web Lock and its pending record: the part every import shares with `put`. */
export async function openPending(
  ctx: ImportContext,
  manifest: RemoteManifest,
  signal: AbortSignal | undefined,
): Promise<{ id: string; release: () => void }> {
  const id = crypto.randomUUID();
  // As for put: the lock is held from before the pending record exists until after it is gone.
  const release = ctx.locks ? await holdLock(ctx.locks, putLockName(id)) : () => {};
  try {
    throwIfAborted(signal);
    await ctx.backend.recordPending(
      newPending({
        id,
        owner: ctx.instanceId,
        totalSize: manifest.total_size,
        name: manifest.name,
      }),
    );
  } catch (e) {
    release();
    throwIfAborted(signal);
    if (isQuotaError(e)) throw new StorageQuotaError(e);
    throw e;
  }
  return { id, release };
}

/**
 * What every import of pieces shares with a `put`: a pending record and Web Lock, verified
 * idempotent writes, abort and quota handling, and a commit that trusts nothing it was told.
 * Subclasses say which pieces they take, when they are complete, how the commit verifies
 * them and how it makes them visible.
 */
export abstract class PieceImportBase<R> {
  readonly needed: ReadonlyArray<PieceRef>;
  protected readonly neededKeys: Set<string>;
  protected readonly written = new Set<string>();
  private readonly writing = new Map<string, Promise<void>>();
  private state: State = 'open';
  private closing: Promise<void> | undefined;
  private committing: Promise<R> | undefined;
  private commitAbort: AbortController | undefined;
  private readonly onAbort: (() => void) | undefined;

  constructor(
    protected readonly ctx: ImportContext,
    readonly manifest: RemoteManifest,
    protected readonly id: string,
    private readonly release: () => void,
    private readonly signal: AbortSignal | undefined,
    needed: PieceRef[],
    /** The checks, fed each piece once it is written. */
    protected readonly check: ImportCheck,
  ) {
    this.needed = Object.freeze(needed.map((r) => Object.freeze(r)));
    this.neededKeys = new Set(this.needed.map((r) => pieceKey(r.shard, r.piece)));
    if (signal) {
      this.onAbort = () => {
        if (this.state === 'committing') this.commitAbort?.abort(abortReason(signal));
        else quiet(this.abort());
      };
      signal.addEventListener('abort', this.onAbort, { once: true });
    }
    ctx.live.add(this);
  }

  /** Whether `writePiece` takes this piece; otherwise the reason, for the RangeError. */
  protected abstract refusal(shard: number, piece: number): string | undefined;
  abstract get complete(): boolean;
  /** The commit transaction; `announce` runs once the import is closed. */
  protected abstract publish(): Promise<{ value: R; announce: () => void }>;

  /** A piece was verified and written. */
  protected onWritten(_shard: number, _piece: number): void {}

  has(shard: number, piece: number): boolean {
    return this.written.has(pieceKey(shard, piece));
  }

  missing(): PieceRef[] {
    return this.needed.filter((r) => !this.written.has(pieceKey(r.shard, r.piece)));
  }

  private assertOpen(): void {
    if (this.state === 'open') return;
    if (this.state === 'aborted' && this.signal?.aborted) throw abortReason(this.signal);
    throw new ImportClosedError(
      this.manifest.blob_hash,
      this.state === 'failed' ? 'discarded after an error' : this.state,
    );
  }

  /** Store closed: let go of the lock without touching the database; the next open sweeps. */
  detach(): void {
    if (this.state === 'open' || this.state === 'committing') this.state = 'aborted';
    this.check.cancel();
    this.finish();
  }

  private finish(): void {
    this.ctx.live.delete(this);
    if (this.onAbort) this.signal?.removeEventListener('abort', this.onAbort);
    this.release();
  }

  /**
   * Deletes the pieces and the pending record, then releases the lock. Writes still in flight
   * need no waiting: they check the pending record in their own transaction.
   */
  private async discard(): Promise<void> {
    this.check.cancel();
    // If this fails, the pending record stays and the next open sweeps it.
    await this.ctx.backend.discardPut(this.id).catch(() => {});
    this.finish();
  }

  async writePiece(shard: number, piece: number, bytes: Uint8Array): Promise<void> {
    this.assertOpen();
    const m = this.manifest;
    const refused = this.refusal(shard, piece);
    if (refused !== undefined) throw new RangeError(`${m.blob_hash}: ${refused}`);
    const want = pieceLength(shardLength(m, shard), m.piece_size, piece);
    if (!(bytes instanceof Uint8Array) || bytes.byteLength !== want) {
      throw new PieceMismatchError(
        m.blob_hash,
        shard,
        piece,
        'length',
        `${(bytes as Uint8Array | undefined)?.byteLength} bytes, expected ${want}`,
      );
    }
    // Our own copy: the caller's buffer cannot change between the check and the write.
    const own = bytes.slice();
    const actual = await sha256Bytes(own);
    const row = m.piece_hashes[shard] as string[];
    // A Rust manifest names no piece hashes: the piece is checked with its shard (the import's
    // lanes), and its hash recorded now for the stored manifest and every later read.
    if (row[piece] === UNKNOWN_PIECE) row[piece] = actual;
    if (actual !== row[piece]) {
      throw new PieceMismatchError(m.blob_hash, shard, piece, 'hash', `sha256 ${actual}`);
    }
    this.assertOpen();
    const key = pieceKey(shard, piece);
    if (this.written.has(key)) return;
    let w = this.writing.get(key);
    if (!w) {
      w = this.store(key, shard, piece, own).finally(() => this.writing.delete(key));
      this.writing.set(key, w);
    }
    await w;
  }

  private async store(key: string, shard: number, piece: number, bytes: Uint8Array) {
    try {
      await putPieces(this.ctx.backend, this.id, [{ shard, piece, bytes }]);
      if (!this.written.has(key)) {
        this.written.add(key);
        this.onWritten(shard, piece);
        this.check.written({ shard, piece }, bytes);
      }
    } catch (e) {
      if (isQuotaError(e)) {
        if (this.state === 'open') {
          this.state = 'failed';
          this.closing = this.discard();
        }
        await this.closing;
        throw new StorageQuotaError(e);
      }
      if (this.state !== 'open') this.assertOpen();
      throw e;
    }
  }

  async abort(): Promise<void> {
    if (this.state === 'open') {
      this.state = 'aborted';
      this.closing = this.discard();
    } else if (this.state === 'committing') {
      this.commitAbort?.abort(new DOMException('The import was aborted.', 'AbortError'));
      await this.committing?.catch(() => {});
      return;
    }
    await this.closing;
  }

  commit(opts: ImportCommitOptions = {}): Promise<R> {
    if (this.state === 'committing' || this.state === 'committed') {
      return this.committing as Promise<R>;
    }
    try {
      this.assertOpen();
    } catch (e) {
      return Promise.reject(e);
    }
    if (!this.complete) {
      return Promise.reject(new ImportIncompleteError(this.manifest.blob_hash, this.missing()));
    }
    this.state = 'committing';
    const ac = new AbortController();
    this.commitAbort = ac;
    const outer = [opts.signal, this.signal].filter((s): s is AbortSignal => !!s);
    const onAbort = (s: AbortSignal) => () => ac.abort(abortReason(s));
    const listeners = outer.map((s) => {
      const l = onAbort(s);
      if (s.aborted) l();
      else s.addEventListener('abort', l, { once: true });
      return [s, l] as const;
    });
    this.committing = this.runCommit(ac.signal, opts.onProgress).finally(() => {
      for (const [s, l] of listeners) s.removeEventListener('abort', l);
    });
    return this.committing;
  }

  private async runCommit(
    signal: AbortSignal,
    onProgress: ImportCommitOptions['onProgress'],
  ): Promise<R> {
    const m = this.manifest;
    try {
      // Only duplicate writes of pieces already written can still be in flight.
      await Promise.allSettled(this.writing.values());
      await this.check.finish(signal, (bytesDone) =>
        onProgress?.({ bytesDone, totalBytes: m.total_size }),
      );
      throwIfAborted(signal);
      const { value, announce } = await this.publish();
      this.state = 'committed';
      this.finish();
      announce();
      return value;
    } catch (e) {
      this.state = 'failed';
      this.closing = this.discard();
      await this.closing;
      throwIfAborted(signal);
      if (isQuotaError(e)) throw new StorageQuotaError(e);
      throw e;
    }
  }
}
