/**
 * Importing a blob that arrives as pieces from peers, in any order.
 *
 *   const session = await store.beginImport(remoteManifest);
 *   for await (const p of fetchPieces(…)) await session.writePiece(p.shard, p.piece, p.bytes);
 *   const manifest = await session.commit();
 *
 * The remote manifest is validated structurally up front ({@link validateRemoteManifest}).
 * Each piece is checked against `piece_hashes` before it is written, under a fresh put id
 * with a pending record and the put's Web Lock, exactly like a `put` (so a closed tab is
 * swept on the next open). Piece hashes only prove that the pieces match the manifest; the
 * manifest itself may lie. So `commit` re-reads the stored pieces in order and hashes the
 * whole blob and every shard incrementally (rs-4-7: parity recomputed stripe by stripe,
 * written and checked against the manifest) before the manifest is committed in the same
 * transaction pattern as `put`. Any mismatch discards everything of the import.
 */

import * as E from '../erasure/index.ts';
import { type ContentHash, cidOf, isContentHash } from './address.ts';
import {
  abortReason,
  ContentError,
  CorruptPieceError,
  InvalidManifestError,
  isQuotaError,
  StorageQuotaError,
} from './errors.ts';
import { type HashService, type IncrementalHasher, sha256Bytes } from './hasher.ts';
import { type LockManagerLike, putLockName } from './ingest.ts';
import {
  type Encoding,
  MiB,
  pieceLength,
  piecesInShard,
  REACHES,
  type StoredManifest,
  shardLength,
} from './manifest.ts';
import type { PieceRef } from './read.ts';
import {
  asBytes,
  commitPut,
  commitShards,
  type Db,
  discardPut,
  exactBuffer,
  quiet,
  recordPending,
  type ShardHolding,
} from './store.ts';

/** A manifest as a peer sends it: everything but our local `storage_key`. */
export type RemoteManifest = Omit<StoredManifest, 'storage_key'>;

export type { PieceRef };

export interface ImportProgress {
  /** Blob bytes verified so far by the whole-blob check. */
  bytesDone: number;
  totalBytes: number;
}

export interface ImportCommitOptions {
  signal?: AbortSignal;
  onProgress?: (p: ImportProgress) => void;
}

export interface ImportSession {
  readonly manifest: RemoteManifest;
  /**
   * The (shard, piece) pairs to give to {@link writePiece}: every piece for none/chunked; for
   * rs-4-7 the data shards 0..3 (the parity is recomputed locally at commit). Empty when the
   * blob is already stored. rs-4-7 also takes parity pieces: any 4 verified pieces of a
   * stripe complete it (the missing data pieces are rebuilt at commit), so a blob whose
   * shards are spread over peers imports from whichever 4 shards are reachable.
   */
  readonly needed: ReadonlyArray<PieceRef>;
  /** The blob was already in the store when the import began: nothing to fetch, commit returns it. */
  readonly alreadyStored: boolean;
  /** All needed pieces written (rs-4-7: every stripe has 4 verified pieces)? */
  readonly complete: boolean;
  /** Needed pieces not written yet, in `needed` order (rs-4-7: of the stripes still short). */
  missing(): PieceRef[];
  /** Is this piece verified and written (always true once the blob is stored)? */
  has(shard: number, piece: number): boolean;
  /**
   * The manifest with this import's local `storage_key`: with it, {@link ContentStore.readPartial}
   * streams the pieces written so far (each verified again as it is read) before the commit.
   */
  readonly partialManifest: StoredManifest;
  /**
   * Verifies `bytes` against `manifest.piece_hashes[shard][piece]` ({@link PieceMismatchError}
   * if wrong: drop the peer that sent them; the import goes on) and writes them. Idempotent.
   * A quota error ends the import: `StorageQuotaError`, nothing kept.
   */
  writePiece(shard: number, piece: number, bytes: Uint8Array): Promise<void>;
  /**
   * Verifies the whole blob and every shard against the manifest, then makes it visible
   * (dedupes if the blob is already stored). `ImportIncompleteError` before all pieces are
   * written (the import stays open); any other failure — `ManifestMismatchError`, quota,
   * abort — discards the import.
   */
  commit(opts?: ImportCommitOptions): Promise<StoredManifest>;
  /** Deletes everything written; idempotent. A commit already past its checks still completes. */
  abort(): Promise<void>;
}

/**
 * Importing some shards of an rs-4-7 blob to keep for the network (a {@link ShardHolding}):
 * the pieces of `shards`, verified one by one as for a blob; the commit re-reads them and
 * checks each shard's hash, then adds them to the blob's holding.
 */
export interface ShardImportSession {
  readonly manifest: RemoteManifest;
  readonly shards: readonly number[];
  /** Every piece of the shards; empty when they (or the whole blob) are held already. */
  readonly needed: ReadonlyArray<PieceRef>;
  readonly alreadyHeld: boolean;
  readonly complete: boolean;
  missing(): PieceRef[];
  has(shard: number, piece: number): boolean;
  writePiece(shard: number, piece: number, bytes: Uint8Array): Promise<void>;
  /**
   * Resolves with the holding, or `undefined` when the whole blob was stored meanwhile (it
   * serves every shard). Failures discard the import, as for a blob.
   */
  commit(opts?: ImportCommitOptions): Promise<ShardHolding | undefined>;
  abort(): Promise<void>;
}

// ---------------------------------------------------------------------------------------
// Errors

/** A piece given to `writePiece` does not match the manifest: the peer that sent it is wrong. */
export class PieceMismatchError extends ContentError {
  override name = 'PieceMismatchError';
  constructor(
    readonly hash: string,
    readonly shardIndex: number,
    readonly pieceIndex: number,
    readonly reason: 'length' | 'hash',
    detail: string,
  ) {
    super(
      `${hash}: the bytes given for shard ${shardIndex} piece ${pieceIndex} do not match the ` +
        `manifest (${detail}). The peer that sent them is wrong or broken: drop it and fetch ` +
        'this piece from another peer. Nothing was written; the import goes on.',
    );
  }
}

/**
 * The pieces all match `piece_hashes`, but the blob they add up to does not match the rest of
 * the manifest (blob hash, a shard hash, rs parity or padding): the manifest itself lied.
 */
export class ManifestMismatchError extends ContentError {
  override name = 'ManifestMismatchError';
  constructor(
    readonly hash: string,
    readonly field: 'blob_hash' | 'shard_hashes' | 'piece_hashes' | 'padding',
    readonly shardIndex: number | undefined,
    readonly pieceIndex: number | undefined,
    detail: string,
  ) {
    super(
      `The manifest of ${hash} does not describe its own pieces: ${detail}. ` +
        'The peer that sent this manifest is wrong or malicious: drop it and get the manifest ' +
        'from another peer. Nothing of this import was kept.',
    );
  }
}

/** `commit` was called before every needed piece was written. The import stays open. */
export class ImportIncompleteError extends ContentError {
  override name = 'ImportIncompleteError';
  constructor(
    readonly hash: string,
    readonly missing: readonly PieceRef[],
  ) {
    const first = missing
      .slice(0, 4)
      .map((r) => `${r.shard}/${r.piece}`)
      .join(', ');
    super(
      `${hash}: ${missing.length} needed piece(s) are not written yet (shard/piece ${first}` +
        `${missing.length > 4 ? ', …' : ''}). Write them (see session.missing()), then commit.`,
    );
  }
}

/** The import was already committed, aborted or discarded after an error. */
export class ImportClosedError extends ContentError {
  override name = 'ImportClosedError';
  constructor(
    readonly hash: string,
    readonly state: string,
  ) {
    super(`The import of ${hash} is ${state}; begin a new import to store it.`);
  }
}

// ---------------------------------------------------------------------------------------
// Validation

/** Largest `piece_size` accepted from a peer: one piece (rs: one stripe of 7) is held in memory. */
export const MAX_IMPORT_PIECE_SIZE = 64 * MiB;

const EMPTY_SHA256 =
  'sha256-e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' as ContentHash;

/**
 * Checks a peer's manifest for structure and internal consistency (sizes vs encoding,
 * `piece_hashes` shape, hash formats, `blob_cid`) and returns a clean copy holding only the
 * known fields. Throws {@link InvalidManifestError}. It cannot tell whether the hashes are
 * honest: that is what `commit` checks.
 */
export function validateRemoteManifest(input: unknown): RemoteManifest {
  const bad = (why: string): never => {
    throw new InvalidManifestError(
      `The peer's manifest is invalid: ${why}. Drop that peer and ask another one.`,
    );
  };
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    return bad('it is not an object');
  }
  const o = input as Record<string, unknown>;
  const count = (k: string): number => {
    const v = o[k];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
      bad(`${k} is not a non-negative integer (got ${JSON.stringify(v)})`);
    }
    return v as number;
  };
  const str = (k: string): string => {
    const v = o[k];
    if (typeof v !== 'string') bad(`${k} is not a string`);
    return v as string;
  };
  const optStr = (k: string): string | null | undefined => {
    const v = o[k];
    if (v !== undefined && v !== null && typeof v !== 'string') bad(`${k} is not a string`);
    return v as string | null | undefined;
  };
  const hash = (v: unknown, what: string): ContentHash => {
    if (!isContentHash(v)) bad(`${what} is not sha256-<64 lowercase hex>`);
    return v as ContentHash;
  };
  const time = (k: string, v: string) => {
    if (Number.isNaN(Date.parse(v))) bad(`${k} "${v}" is not an RFC 3339 time`);
  };

  if (o.format !== 1) bad(`format ${JSON.stringify(o.format)} is not 1`);
  const encoding = o.encoding as Encoding;
  if (encoding !== 'none' && encoding !== 'chunked' && encoding !== 'rs-4-7') {
    bad(`unknown encoding ${JSON.stringify(o.encoding)} (expected none, chunked or rs-4-7)`);
  }
  const total_size = count('total_size');
  const shard_size = count('shard_size');
  const data_shards = count('data_shards');
  const total_shards = count('total_shards');
  const piece_size = count('piece_size');
  if (piece_size === 0) bad('piece_size is 0');
  if (piece_size > MAX_IMPORT_PIECE_SIZE) {
    bad(`piece_size ${piece_size} is above the ${MAX_IMPORT_PIECE_SIZE} bytes this store accepts`);
  }
  const blob_hash = hash(o.blob_hash, 'blob_hash');
  const blob_cid = str('blob_cid');
  if (blob_cid !== cidOf(blob_hash)) bad(`blob_cid ${blob_cid} is not the CID of ${blob_hash}`);
  const mime_type = str('mime_type');
  const reach = str('reach') as RemoteManifest['reach'];
  if (!REACHES.includes(reach)) bad(`unknown reach "${reach}"`);
  const created_at = str('created_at');
  time('created_at', created_at);
  const author_id = optStr('author_id');
  const verified_at = optStr('verified_at');
  const name = optStr('name');

  switch (encoding) {
    case 'none':
      if (data_shards !== 1 || total_shards !== 1) bad('a none manifest has exactly 1 shard');
      if (shard_size !== total_size) bad('a none manifest has shard_size == total_size');
      if (total_size === 0 && blob_hash !== EMPTY_SHA256) {
        bad('total_size is 0 but blob_hash is not the sha256 of nothing');
      }
      break;
    case 'chunked': {
      if (total_size === 0) bad('a chunked manifest cannot be empty');
      if (shard_size === 0) bad('a chunked manifest needs shard_size > 0');
      const n = Math.ceil(total_size / shard_size);
      if (data_shards !== n || total_shards !== n) {
        bad(
          `total_size ${total_size} in chunks of ${shard_size} makes ${n} shards, not ${data_shards}/${total_shards}`,
        );
      }
      break;
    }
    case 'rs-4-7':
      if (total_size === 0) bad('an rs-4-7 manifest cannot be empty');
      if (data_shards !== E.DATA_SHARDS || total_shards !== E.TOTAL_SHARDS) {
        bad(`rs-4-7 has ${E.DATA_SHARDS} data and ${E.TOTAL_SHARDS} total shards`);
      }
      if (shard_size !== Math.ceil(total_size / E.DATA_SHARDS)) {
        bad(`rs-4-7 shard_size must be ceil(total_size / 4) = ${Math.ceil(total_size / 4)}`);
      }
      break;
  }

  if (!Array.isArray(o.shard_hashes) || o.shard_hashes.length !== total_shards) {
    bad(`shard_hashes must list ${total_shards} hash(es)`);
  }
  const shard_hashes = (o.shard_hashes as unknown[]).map((v, i) => hash(v, `shard_hashes[${i}]`));
  if (encoding === 'none' && shard_hashes[0] !== blob_hash) {
    bad('a none manifest has shard_hashes[0] == blob_hash');
  }
  if (!Array.isArray(o.piece_hashes) || o.piece_hashes.length !== total_shards) {
    bad(`piece_hashes must have ${total_shards} row(s), one per shard`);
  }
  const sizes = { encoding, total_size, shard_size };
  const piece_hashes = (o.piece_hashes as unknown[]).map((row, s) => {
    const want = piecesInShard(shardLength(sizes, s), piece_size);
    if (!Array.isArray(row) || row.length !== want) {
      bad(`piece_hashes[${s}] must list ${want} piece hash(es) for piece_size ${piece_size}`);
    }
    const out = (row as unknown[]).map((v, p) => hash(v, `piece_hashes[${s}][${p}]`) as string);
    // A shard of one piece IS that piece.
    if (out.length === 1 && out[0] !== shard_hashes[s]) {
      bad(`shard ${s} is one piece, but piece_hashes[${s}][0] != shard_hashes[${s}]`);
    }
    return out;
  });

  const m: RemoteManifest = {
    blob_cid,
    blob_hash,
    total_size,
    mime_type,
    encoding,
    data_shards,
    total_shards,
    shard_size,
    shard_hashes,
    reach,
    author_id: author_id ?? null,
    created_at,
    verified_at: verified_at ?? null,
    format: 1,
    piece_size,
    piece_hashes,
  };
  if (typeof name === 'string') m.name = name;
  return m;
}

/** Every piece of the given shards, shard by shard. */
export function piecesOf(m: RemoteManifest, shards: Iterable<number>): PieceRef[] {
  const out: PieceRef[] = [];
  for (const s of shards) {
    const n = piecesInShard(shardLength(m, s), m.piece_size);
    for (let p = 0; p < n; p++) out.push({ shard: s, piece: p });
  }
  return out;
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/** Every (shard, piece) a peer must supply: rs parity is recomputed, not fetched. */
export function neededPieces(m: RemoteManifest): PieceRef[] {
  return piecesOf(m, range(m.encoding === 'rs-4-7' ? m.data_shards : m.total_shards));
}

// ---------------------------------------------------------------------------------------
// The session

export interface ImportContext {
  db: Db;
  hashes: HashService;
  instanceId: string;
  locks: LockManagerLike | undefined;
  /** The store's 'added' change event. */
  onAdded: (hash: ContentHash) => void;
  /** The store's 'held' change event (shards held for the network changed). */
  onHeld: (hash: ContentHash) => void;
  /** Live sessions, so that closing the store releases their locks (the next open sweeps). */
  live: Set<{ detach(): void }>;
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
async function openPending(
  ctx: ImportContext,
  manifest: RemoteManifest,
  signal: AbortSignal | undefined,
): Promise<{ id: string; release: () => void }> {
  const id = crypto.randomUUID();
  // As for put: the lock is held from before the pending record exists until after it is gone.
  const release = ctx.locks ? await holdLock(ctx.locks, putLockName(id)) : () => {};
  try {
    if (signal?.aborted) throw abortReason(signal);
    await recordPending(ctx.db, {
      id,
      owner: ctx.instanceId,
      totalSize: manifest.total_size,
      name: manifest.name,
    });
  } catch (e) {
    release();
    if (signal?.aborted) throw abortReason(signal);
    if (isQuotaError(e)) throw new StorageQuotaError(e);
    throw e;
  }
  return { id, release };
}

export async function beginImport(
  ctx: ImportContext,
  input: RemoteManifest,
  opts: { signal?: AbortSignal } = {},
): Promise<ImportSession> {
  const { signal } = opts;
  if (signal?.aborted) throw abortReason(signal);
  const manifest = validateRemoteManifest(input);
  const stored = await ctx.db.get('manifests', manifest.blob_hash);
  if (stored) return new StoredImport(ctx, manifest, stored);
  const { id, release } = await openPending(ctx, manifest, signal);
  return new BlobImport(ctx, manifest, id, release, signal);
}

/**
 * Begins importing `shards` of an rs-4-7 blob into this device's holding of it. A blob with a
 * holding keeps the manifest its first shard came with: another manifest (a different piece
 * layout of the same blob) is refused, so every held piece is checked against one manifest.
 */
export async function beginShardImport(
  ctx: ImportContext,
  input: RemoteManifest,
  shards: readonly number[],
  opts: { signal?: AbortSignal } = {},
): Promise<ShardImportSession> {
  const { signal } = opts;
  if (signal?.aborted) throw abortReason(signal);
  const manifest = validateRemoteManifest(input);
  if (manifest.encoding !== 'rs-4-7') {
    throw new InvalidManifestError(
      `${manifest.blob_hash} is ${manifest.encoding}: only rs-4-7 blobs are kept by shards. Import the whole blob instead.`,
    );
  }
  const wanted = [...new Set(shards)].sort((a, b) => a - b);
  if (
    wanted.length === 0 ||
    wanted.some((s) => !Number.isInteger(s) || s < 0 || s >= manifest.total_shards)
  ) {
    throw new RangeError(
      `shards must name 1 to ${manifest.total_shards} shards of ${manifest.blob_hash} (0..${manifest.total_shards - 1}), got [${shards.join(', ')}].`,
    );
  }
  if (await ctx.db.count('manifests', manifest.blob_hash)) {
    return new HeldShards(ctx, manifest, wanted);
  }
  const holding = await ctx.db.get('holdings', manifest.blob_hash);
  if (holding && !sameLayout(holding.manifest, manifest)) {
    throw new InvalidManifestError(
      `This device holds shards of ${manifest.blob_hash} under another manifest (other piece hashes). ` +
        'Import more shards with the manifest it holds (store.holding(hash).manifest).',
    );
  }
  const held = new Set(holding?.shards.map((s) => s.index));
  const missing = wanted.filter((s) => !held.has(s));
  if (missing.length === 0) return new HeldShards(ctx, manifest, wanted);
  const { id, release } = await openPending(ctx, manifest, signal);
  return new ShardImport(ctx, holding?.manifest ?? manifest, missing, id, release, signal);
}

/** Whether two manifests of one blob cut it into the same pieces. */
function sameLayout(a: RemoteManifest, b: RemoteManifest): boolean {
  return (
    a.piece_size === b.piece_size &&
    a.shard_size === b.shard_size &&
    JSON.stringify(a.shard_hashes) === JSON.stringify(b.shard_hashes) &&
    JSON.stringify(a.piece_hashes) === JSON.stringify(b.piece_hashes)
  );
}

/** Nothing to import: the blob is stored already, or the shards asked for are held. */
abstract class NothingToImport<R> {
  readonly needed: ReadonlyArray<PieceRef> = [];
  readonly complete = true;
  constructor(
    readonly manifest: RemoteManifest,
    /** Why, for the error of a `writePiece` nobody needs. */
    private readonly because: string,
  ) {}
  /** The commit's result: what the store holds now. */
  protected abstract current(): Promise<R>;
  missing(): PieceRef[] {
    return [];
  }
  has(): boolean {
    return true;
  }
  async writePiece(shard: number, piece: number): Promise<void> {
    throw new RangeError(
      `${this.manifest.blob_hash}: ${this.because}; no pieces are needed (got ${shard}/${piece}).`,
    );
  }
  async commit(opts: ImportCommitOptions = {}): Promise<R> {
    if (opts.signal?.aborted) throw abortReason(opts.signal);
    return this.current();
  }
  async abort(): Promise<void> {}
}

/** The blob was already stored when the import began. */
class StoredImport extends NothingToImport<StoredManifest> implements ImportSession {
  readonly alreadyStored = true;
  constructor(
    private readonly ctx: ImportContext,
    manifest: RemoteManifest,
    readonly partialManifest: StoredManifest,
  ) {
    super(manifest, 'it is already stored');
  }
  protected async current(): Promise<StoredManifest> {
    const m = await this.ctx.db.get('manifests', this.manifest.blob_hash);
    if (!m) {
      throw new ContentError(
        `${this.manifest.blob_hash} was removed while it was being imported; begin the import again.`,
      );
    }
    return m;
  }
}

const pieceKey = (shard: number, piece: number) => `${shard}/${piece}`;

/**
 * What every import of pieces shares with a `put`: a pending record and Web Lock, verified
 * idempotent writes, abort and quota handling, and a commit that trusts nothing it was told.
 * Subclasses say which pieces they take, when they are complete, how the commit verifies
 * them and how it makes them visible.
 */
abstract class PieceImportBase<R> {
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
  /** Checks everything written against the manifest; throws `ManifestMismatchError`. */
  protected abstract verify(
    signal: AbortSignal,
    hashers: IncrementalHasher[],
    report: (bytesDone: number) => void,
  ): Promise<void>;
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
    // If this fails, the pending record stays and the next open sweeps it.
    await discardPut(this.ctx.db, this.id).catch(() => {});
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
    const expected = m.piece_hashes[shard]?.[piece];
    if (actual !== expected) {
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
      await putPieces(this.ctx.db, this.id, [{ shard, piece, bytes }]);
      if (!this.written.has(key)) {
        this.written.add(key);
        this.onWritten(shard, piece);
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
    const hashers: IncrementalHasher[] = [];
    try {
      // Only duplicate writes of pieces already written can still be in flight.
      await Promise.allSettled(this.writing.values());
      const report = (bytesDone: number) => onProgress?.({ bytesDone, totalBytes: m.total_size });
      report(0);
      await this.verify(signal, hashers, report);
      if (signal.aborted) throw abortReason(signal);
      const { value, announce } = await this.publish();
      this.state = 'committed';
      this.finish();
      announce();
      return value;
    } catch (e) {
      for (const h of hashers) h.cancel();
      this.state = 'failed';
      this.closing = this.discard();
      await this.closing;
      if (signal.aborted) throw abortReason(signal);
      if (isQuotaError(e)) throw new StorageQuotaError(e);
      throw e;
    }
  }
}

/** A whole blob, from the pieces of any number of peers. */
class BlobImport extends PieceImportBase<StoredManifest> implements ImportSession {
  readonly alreadyStored = false;
  /** rs-4-7: verified pieces written per stripe. */
  private readonly perStripe: number[];
  private readonly rs: boolean;

  constructor(
    ctx: ImportContext,
    manifest: RemoteManifest,
    id: string,
    release: () => void,
    signal: AbortSignal | undefined,
  ) {
    super(ctx, manifest, id, release, signal, neededPieces(manifest));
    this.rs = manifest.encoding === 'rs-4-7';
    this.perStripe = this.rs
      ? new Array(piecesInShard(manifest.shard_size, manifest.piece_size)).fill(0)
      : [];
  }

  get partialManifest(): StoredManifest {
    return { ...this.manifest, storage_key: this.id };
  }

  get complete(): boolean {
    if (!this.rs) return this.written.size === this.neededKeys.size;
    return this.perStripe.every((n) => n >= this.manifest.data_shards);
  }

  override missing(): PieceRef[] {
    const short = super.missing();
    return this.rs
      ? short.filter((r) => (this.perStripe[r.piece] as number) < this.manifest.data_shards)
      : short;
  }

  protected refusal(shard: number, piece: number): string | undefined {
    const m = this.manifest;
    if (this.neededKeys.has(pieceKey(shard, piece))) return undefined;
    if (this.rs && Number.isInteger(shard) && shard >= m.data_shards && shard < m.total_shards) {
      if (Number.isInteger(piece) && piece >= 0 && piece < this.perStripe.length) return undefined;
    }
    return `shard ${shard} piece ${piece} is not a piece of this blob; see session.needed`;
  }

  protected override onWritten(_shard: number, piece: number): void {
    if (this.rs) this.perStripe[piece] = (this.perStripe[piece] as number) + 1;
  }

  protected async verify(
    signal: AbortSignal,
    hashers: IncrementalHasher[],
    report: (bytesDone: number) => void,
  ): Promise<void> {
    const stored = this.partialManifest;
    if (!this.rs) return verifySequential(this.ctx, stored, hashers, signal, report);
    await rebuildMissingData(this.ctx, stored, (s, p) => this.has(s, p), signal);
    await verifyRs(this.ctx, stored, hashers, signal, report);
  }

  protected async publish() {
    const stored: StoredManifest = {
      ...this.partialManifest,
      verified_at: new Date().toISOString(),
    };
    const result = await commitPut(this.ctx.db, stored);
    return {
      value: result.manifest,
      announce: () => {
        if (result.added) this.ctx.onAdded(result.manifest.blob_hash);
        if (result.hadShards) this.ctx.onHeld(result.manifest.blob_hash);
      },
    };
  }
}

/** Some shards of an rs-4-7 blob, kept for the network without the blob (a {@link ShardHolding}). */
class ShardImport extends PieceImportBase<ShardHolding | undefined> implements ShardImportSession {
  readonly alreadyHeld = false;

  constructor(
    ctx: ImportContext,
    manifest: RemoteManifest,
    readonly shards: readonly number[],
    id: string,
    release: () => void,
    signal: AbortSignal | undefined,
  ) {
    super(ctx, manifest, id, release, signal, piecesOf(manifest, shards));
  }

  get complete(): boolean {
    return this.written.size === this.neededKeys.size;
  }

  protected refusal(shard: number, piece: number): string | undefined {
    return this.neededKeys.has(pieceKey(shard, piece))
      ? undefined
      : `shard ${shard} piece ${piece} is not part of this import of shards ${this.shards.join(', ')}`;
  }

  /** Each shard's pieces, re-read in order, must hash to its `shard_hashes` entry. */
  protected async verify(
    _signal: AbortSignal,
    hashers: IncrementalHasher[],
    report: (bytesDone: number) => void,
  ): Promise<void> {
    const m: StoredManifest = { ...this.manifest, storage_key: this.id };
    let done = 0;
    for (const s of this.shards) {
      const refs = piecesOf(m, [s]);
      // A one-piece shard is its piece: its hash was checked against shard_hashes on validation.
      const hasher =
        refs.length > 1 ? this.ctx.hashes.createHasher({ sizeHint: shardLength(m, s) }) : undefined;
      if (hasher) hashers.push(hasher);
      for await (const { bytes } of readInOrder(this.ctx.db, m, refs)) {
        if (_signal.aborted) throw abortReason(_signal);
        done += bytes.byteLength;
        await hasher?.update(bytes, { transfer: true });
        report(Math.min(done, m.total_size));
      }
      if (hasher) expectShardHash(m, s, await hasher.digest());
    }
  }

  protected async publish() {
    const { holding, added } = await commitShards(this.ctx.db, this.manifest, this.shards, this.id);
    return {
      value: holding,
      announce: () => {
        if (added.length > 0) this.ctx.onHeld(this.manifest.blob_hash);
      },
    };
  }
}

/** Nothing to import: the blob is stored whole, or every shard asked for is held already. */
class HeldShards extends NothingToImport<ShardHolding | undefined> implements ShardImportSession {
  readonly alreadyHeld = true;
  constructor(
    private readonly ctx: ImportContext,
    manifest: RemoteManifest,
    readonly shards: readonly number[],
  ) {
    super(manifest, `shards ${shards.join(', ')} are held already`);
  }
  protected current(): Promise<ShardHolding | undefined> {
    return this.ctx.db.get('holdings', this.manifest.blob_hash);
  }
}

// ---------------------------------------------------------------------------------------
// Storage helpers

/**
 * Writes pieces of import `id` in one transaction, only while its pending record exists, so a
 * write racing an abort (or a sweep) can never leave pieces without an owner.
 */
async function putPieces(
  db: Db,
  id: string,
  pieces: readonly { shard: number; piece: number; bytes: Uint8Array }[],
): Promise<void> {
  const tx = db.transaction(['pending', 'pieces'], 'readwrite');
  try {
    const pending = await tx.objectStore('pending').get(id);
    if (pending) {
      const store = tx.objectStore('pieces');
      for (const p of pieces) quiet(store.put(exactBuffer(p.bytes), [id, p.shard, p.piece]));
    }
    await tx.done;
    if (!pending) throw new ContentError('This import was discarded (aborted or swept).');
  } catch (e) {
    try {
      tx.abort();
    } catch {}
    quiet(tx.done);
    throw e;
  }
}

/** Reads and re-verifies stored pieces (same transaction); CorruptPieceError if one changed. */
async function readStored(
  db: Db,
  m: StoredManifest,
  refs: readonly PieceRef[],
): Promise<Uint8Array[]> {
  const tx = db.transaction('pieces', 'readonly');
  const store = tx.objectStore('pieces');
  const raw = await Promise.all(refs.map((r) => store.get([m.storage_key, r.shard, r.piece])));
  quiet(tx.done);
  return Promise.all(
    raw.map(async (v, i) => {
      const { shard, piece } = refs[i] as PieceRef;
      const bytes = asBytes(v);
      if (!bytes) throw new CorruptPieceError(m.blob_hash, shard, piece, 'missing');
      if (
        bytes.byteLength !== pieceLength(shardLength(m, shard), m.piece_size, piece) ||
        (await sha256Bytes(bytes)) !== m.piece_hashes[shard]?.[piece]
      ) {
        throw new CorruptPieceError(
          m.blob_hash,
          shard,
          piece,
          'mismatch',
          'changed while importing',
        );
      }
      return bytes;
    }),
  );
}

/** Yields `refs` in order, each read (and re-verified) while the previous one is being used. */
async function* readInOrder(
  db: Db,
  m: StoredManifest,
  refs: readonly PieceRef[],
): AsyncGenerator<{ ref: PieceRef; bytes: Uint8Array }> {
  const read = (i: number) => readStored(db, m, [refs[i] as PieceRef]);
  let next = refs.length > 0 ? read(0) : undefined;
  try {
    for (let i = 0; i < refs.length; i++) {
      const [bytes] = await (next as Promise<Uint8Array[]>);
      next = i + 1 < refs.length ? read(i + 1) : undefined;
      if (next) quiet(next);
      yield { ref: refs[i] as PieceRef, bytes: bytes as Uint8Array };
    }
  } finally {
    if (next) quiet(next);
  }
}

// ---------------------------------------------------------------------------------------
// Whole-blob verification

/** Shard `s`'s bytes hashed to `actual`: anything but the manifest's hash means it lied. */
function expectShardHash(m: RemoteManifest, s: number, actual: string, what = 'shard'): void {
  if (actual === m.shard_hashes[s]) return;
  throw new ManifestMismatchError(
    m.blob_hash,
    'shard_hashes',
    s,
    undefined,
    `${what} ${s} hashes to ${actual}, the manifest says ${m.shard_hashes[s]}`,
  );
}

/** none / chunked: one in-order pass feeds the blob hasher and the current shard's hasher. */
async function verifySequential(
  ctx: ImportContext,
  m: StoredManifest,
  hashers: IncrementalHasher[],
  signal: AbortSignal,
  report: (bytesDone: number) => void,
): Promise<void> {
  const blobHasher = ctx.hashes.createHasher({ sizeHint: m.total_size });
  hashers.push(blobHasher);
  let done = 0;
  for (let s = 0; s < m.total_shards; s++) {
    const count = piecesInShard(shardLength(m, s), m.piece_size);
    const refs = Array.from({ length: count }, (_, p) => ({ shard: s, piece: p }));
    // `none`: the shard is the blob; a one-piece shard is its piece (checked on validation).
    const shardHasher =
      m.encoding === 'chunked' && count > 1
        ? ctx.hashes.createHasher({ sizeHint: shardLength(m, s) })
        : undefined;
    if (shardHasher) hashers.push(shardHasher);
    for await (const { bytes } of readInOrder(ctx.db, m, refs)) {
      if (signal.aborted) throw abortReason(signal);
      done += bytes.byteLength;
      await shardHasher?.update(bytes);
      await blobHasher.update(bytes, { transfer: true });
      report(done);
    }
    if (shardHasher) expectShardHash(m, s, await shardHasher.digest());
  }
  const actual = await blobHasher.digest();
  if (actual !== m.blob_hash) {
    throw new ManifestMismatchError(
      m.blob_hash,
      'blob_hash',
      undefined,
      undefined,
      `its pieces add up to ${actual}`,
    );
  }
}

/**
 * rs-4-7 pieces imported from parity shards: in each stripe whose data pieces are not all
 * written, the missing ones are rebuilt from the 4 or more pieces that are (each re-verified
 * as it is read), checked against `piece_hashes` and written, so that {@link verifyRs} then
 * finds every data piece.
 */
async function rebuildMissingData(
  ctx: ImportContext,
  m: StoredManifest,
  written: (shard: number, piece: number) => boolean,
  signal: AbortSignal,
): Promise<void> {
  const stripes = piecesInShard(m.shard_size, m.piece_size);
  for (let j = 0; j < stripes; j++) {
    if (signal.aborted) throw abortReason(signal);
    const lost = Array.from({ length: m.data_shards }, (_, k) => k).filter((k) => !written(k, j));
    if (lost.length === 0) continue;
    const have = Array.from({ length: m.total_shards }, (_, s) => s).filter((s) => written(s, j));
    const bytes = await readStored(
      ctx.db,
      m,
      have.map((shard) => ({ shard, piece: j })),
    );
    const stripe: (Uint8Array | null)[] = new Array(m.total_shards).fill(null);
    have.forEach((s, i) => {
      stripe[s] = bytes[i] as Uint8Array;
    });
    const all = E.reconstructShards(stripe);
    const rebuilt = await Promise.all(
      lost.map(async (k) => {
        const piece = all[k] as Uint8Array;
        const h = await sha256Bytes(piece);
        if (h !== m.piece_hashes[k]?.[j]) {
          throw new ManifestMismatchError(
            m.blob_hash,
            'piece_hashes',
            k,
            j,
            `data shard ${k} piece ${j} rebuilt from shards ${have.join(', ')} hashes to ${h}, the manifest says ${m.piece_hashes[k]?.[j]}`,
          );
        }
        return { shard: k, piece: j, bytes: piece };
      }),
    );
    await putPieces(ctx.db, m.storage_key, rebuilt);
  }
}

/**
 * rs-4-7, two concurrent passes over the stored data pieces:
 *  - stripes: the 4 data pieces of stripe j → parity (StripeEncoder), checked against
 *    `piece_hashes` and written; all 7 padded shards hashed incrementally;
 *  - blob: data shards in order, cut at `total_size` (the padding must be zeros).
 */
async function verifyRs(
  ctx: ImportContext,
  m: StoredManifest,
  hashers: IncrementalHasher[],
  outer: AbortSignal,
  report: (bytesDone: number) => void,
): Promise<void> {
  const D = m.data_shards;
  const T = m.total_shards;
  const ss = m.shard_size;
  const P = m.piece_size;
  const size = m.total_size;
  const stripes = piecesInShard(ss, P);
  // Either pass failing stops the other.
  const inner = new AbortController();
  const onOuter = () => inner.abort(abortReason(outer));
  if (outer.aborted) onOuter();
  else outer.addEventListener('abort', onOuter, { once: true });
  const signal = inner.signal;
  let stripeBytes = 0;
  let blobBytes = 0;
  const progress = () => report(Math.min(stripeBytes, blobBytes));

  const stripePass = async () => {
    const shardHashers = Array.from({ length: T }, () => ctx.hashes.createHasher({ sizeHint: ss }));
    hashers.push(...shardHashers);
    const encoder = new E.StripeEncoder(Math.min(P, ss));
    let prevWrite: Promise<void> = Promise.resolve();
    try {
      const read = (j: number) =>
        readStored(
          ctx.db,
          m,
          Array.from({ length: D }, (_, k) => ({ shard: k, piece: j })),
        );
      let next = stripes > 0 ? read(0) : undefined;
      for (let j = 0; j < stripes; j++) {
        if (signal.aborted) throw abortReason(signal);
        const data = await (next as Promise<Uint8Array[]>);
        next = j + 1 < stripes ? read(j + 1) : undefined;
        if (next) quiet(next);
        const len = pieceLength(ss, P, j);
        for (let k = 0; k < D; k++) (encoder.data[k] as Uint8Array).set(data[k] as Uint8Array);
        encoder.encode(len);
        const parity = encoder.parity.map((v) => v.slice(0, len));
        const hashes = await Promise.all(parity.map((b) => sha256Bytes(b)));
        hashes.forEach((h, k) => {
          const s = D + k;
          if (h !== m.piece_hashes[s]?.[j]) {
            throw new ManifestMismatchError(
              m.blob_hash,
              'piece_hashes',
              s,
              j,
              `parity shard ${s} piece ${j} recomputed from the data hashes to ${h}, the manifest says ${m.piece_hashes[s]?.[j]}`,
            );
          }
        });
        // One stripe's parity write in flight while the next stripe is read and encoded.
        await prevWrite;
        prevWrite = putPieces(
          ctx.db,
          m.storage_key,
          parity.map((bytes, k) => ({ shard: D + k, piece: j, bytes })),
        );
        quiet(prevWrite);
        for (let k = 0; k < D; k++) {
          await (shardHashers[k] as IncrementalHasher).update(data[k] as Uint8Array, {
            transfer: true,
          });
        }
        for (let k = 0; k < T - D; k++) {
          // Copied, not transferred: the write above may not have cloned them yet.
          await (shardHashers[D + k] as IncrementalHasher).update(parity[k] as Uint8Array);
        }
        stripeBytes = Math.min(size, D * Math.min(ss, (j + 1) * P));
        progress();
      }
      await prevWrite;
    } finally {
      quiet(prevWrite);
      encoder.dispose();
    }
    const actual = await Promise.all(shardHashers.map((h) => h.digest()));
    actual.forEach((h, s) => {
      expectShardHash(m, s, h, s < D ? 'data shard' : 'recomputed parity shard');
    });
  };

  const blobPass = async () => {
    const blobHasher = ctx.hashes.createHasher({ sizeHint: size });
    hashers.push(blobHasher);
    const refs: PieceRef[] = [];
    for (let k = 0; k < D; k++) for (let p = 0; p < stripes; p++) refs.push({ shard: k, piece: p });
    for await (const { ref, bytes } of readInOrder(ctx.db, m, refs)) {
      if (signal.aborted) throw abortReason(signal);
      const start = ref.shard * ss + ref.piece * P;
      const useful = Math.max(0, Math.min(bytes.byteLength, size - start));
      for (let i = useful; i < bytes.byteLength; i++) {
        if (bytes[i] !== 0) {
          throw new ManifestMismatchError(
            m.blob_hash,
            'padding',
            ref.shard,
            ref.piece,
            `data shard ${ref.shard} piece ${ref.piece} has non-zero bytes after the end of the blob (rs-4-7 pads with zeros)`,
          );
        }
      }
      if (useful > 0) {
        await blobHasher.update(useful === bytes.byteLength ? bytes : bytes.subarray(0, useful), {
          transfer: true,
        });
      }
      blobBytes = Math.min(size, start + useful);
      progress();
    }
    const actual = await blobHasher.digest();
    if (actual !== m.blob_hash) {
      throw new ManifestMismatchError(
        m.blob_hash,
        'blob_hash',
        undefined,
        undefined,
        `its data shards add up to ${actual}`,
      );
    }
  };

  const fail = (e: unknown) => {
    inner.abort(e);
    throw e;
  };
  try {
    await Promise.all([stripePass().catch(fail), blobPass().catch(fail)]);
  } catch (e) {
    // The first failure is the one to report (not the other pass's abort).
    throw signal.reason ?? e;
  } finally {
    outer.removeEventListener('abort', onOuter);
  }
}
