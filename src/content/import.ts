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
 * manifest itself may lie. So, while the pieces arrive, the blob and every shard are hashed
 * incrementally as their contiguous prefix completes, and rs-4-7 parity is recomputed stripe
 * by stripe, written and checked (import-check.ts); `commit` waits for what is left, checks
 * that every piece is still stored, and commits the manifest in the same transaction pattern
 * as `put`. Any mismatch discards everything of the import.
 */

import { throwIfAborted } from '../wire/index.ts';
import type { ContentHash } from './address.ts';
import type { PieceRef, ShardHolding } from './backend.ts';
import { ContentError, InvalidManifestError, ManifestMismatchError } from './errors.ts';
import {
  type CheckContext,
  DEFAULT_IMPORT_WINDOW,
  ImportCheck,
  Lane,
  lastOfShard,
  ShardHashers,
} from './import-check.ts';
import {
  hasPieceHashes,
  neededPieces,
  piecesOf,
  type RemoteManifest,
  sameLayout,
  validateRemoteManifest,
} from './import-manifest.ts';
import {
  type ImportCommitOptions,
  type ImportContext,
  openPending,
  PieceImportBase,
} from './import-session.ts';
import { StripeStage } from './import-stripes.ts';
import { expectBlobHash, pieceKey } from './import-verify.ts';
import { piecesInShard, type StoredManifest, shardLength } from './manifest.ts';
import { type ItemOrigin, isKept, ownOrigin } from './origin.ts';

export type { ImportCommitOptions, ImportContext, ImportProgress } from './import-session.ts';
export type { PieceRef, RemoteManifest };

export interface ImportSession {
  readonly manifest: RemoteManifest;
  /**
   * The (shard, piece) pairs to give to {@link writePiece}, in blob order (the order that
   * lets the checks keep pace): every piece for none/chunked; for rs-4-7 the data shards
   * 0..3 (the parity is recomputed locally, stripe by stripe). Empty when the blob is already
   * stored. rs-4-7 also takes parity pieces: any 4 verified pieces of a stripe complete it
   * (its missing data pieces are rebuilt), so a blob whose shards are spread over peers
   * imports from whichever 4 shards are reachable.
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
   * Finishes verifying the whole blob and every shard against the manifest (most of it was
   * done as the pieces came), then makes it visible (dedupes if the blob is already stored).
   * `ImportIncompleteError` before all pieces are written (the import stays open); any other
   * failure — `ManifestMismatchError`, quota, abort — discards the import.
   */
  commit(opts?: ImportCommitOptions): Promise<StoredManifest>;
  /** Deletes everything written; idempotent. A commit already past its checks still completes. */
  abort(): Promise<void>;
}

/**
 * Importing some shards of an rs-4-7 blob to keep for the network (a {@link ShardHolding}):
 * the pieces of `shards`, verified one by one as for a blob, each shard hashed as its prefix
 * completes; the commit checks each shard's hash, then adds them to the blob's holding.
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

/**
 * `origin`: why the blob is stored, recorded on its manifest at the commit (default: fetched).
 * A blob kept for another peer that is imported as the person's own (here, or by another
 * import that commits first) becomes theirs: its `origin` is changed, its bytes stay.
 */
export async function beginImport(
  ctx: ImportContext,
  input: RemoteManifest,
  opts: { signal?: AbortSignal; origin?: ItemOrigin } = {},
): Promise<ImportSession> {
  const { signal } = opts;
  const origin = opts.origin ?? ownOrigin('fetched');
  throwIfAborted(signal);
  const manifest = validateRemoteManifest(input);
  let stored = await ctx.backend.getManifest(manifest.blob_hash);
  if (stored && isKept(stored) && !isKept({ origin })) {
    stored = (await claim(ctx, manifest.blob_hash, origin)) ?? stored;
  }
  if (stored) return new StoredImport(ctx, manifest, stored);
  const { id, release } = await openPending(ctx, manifest, signal);
  return new BlobImport(ctx, manifest, id, release, signal, origin);
}

/** Makes a blob kept for another peer the person's own; the manifest when it changed. */
async function claim(
  ctx: ImportContext,
  hash: ContentHash,
  origin: ItemOrigin,
): Promise<StoredManifest | undefined> {
  const claimed = await ctx.backend.claimKept(hash, origin);
  if (claimed) ctx.onAdded(hash);
  return claimed;
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
  throwIfAborted(signal);
  const manifest = validateRemoteManifest(input);
  if (!hasPieceHashes(manifest)) {
    throw new InvalidManifestError(
      `The manifest of ${manifest.blob_hash} has no piece hashes (a Rust manifest): import the whole blob with it, or keep shards under a manifest of ours.`,
    );
  }
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
  if (await ctx.backend.hasManifest(manifest.blob_hash)) {
    return new HeldShards(ctx, manifest, wanted);
  }
  const holding = await ctx.backend.getHolding(manifest.blob_hash);
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

function checkContext(ctx: ImportContext): CheckContext {
  return {
    backend: ctx.backend,
    hashes: ctx.hashes,
    windowBytes: ctx.windowBytes ?? DEFAULT_IMPORT_WINDOW,
  };
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
    throwIfAborted(opts.signal);
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
    const m = await this.ctx.backend.getManifest(this.manifest.blob_hash);
    if (!m) {
      throw new ContentError(
        `${this.manifest.blob_hash} was removed while it was being imported; begin the import again.`,
      );
    }
    return m;
  }
}

/** A whole blob, from the pieces of any number of peers. */
class BlobImport extends PieceImportBase<StoredManifest> implements ImportSession {
  readonly alreadyStored = false;
  /** rs-4-7: verified pieces written per stripe. */
  private readonly perStripe: number[];
  /** rs-4-7: parity pieces that came from peers and were written (the rest is derived). */
  private parityWritten = 0;
  private readonly rs: boolean;

  constructor(
    ctx: ImportContext,
    manifest: RemoteManifest,
    id: string,
    release: () => void,
    signal: AbortSignal | undefined,
    private readonly origin: ItemOrigin,
  ) {
    const needed = neededPieces(manifest);
    const stored = importedManifest(manifest, id);
    super(ctx, manifest, id, release, signal, needed, blobCheck(checkContext(ctx), stored, needed));
    this.rs = manifest.encoding === 'rs-4-7';
    this.perStripe = this.rs
      ? new Array(piecesInShard(manifest.shard_size, manifest.piece_size)).fill(0)
      : [];
  }

  get partialManifest(): StoredManifest {
    return importedManifest(this.manifest, this.id);
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

  protected override onWritten(shard: number, piece: number): void {
    if (!this.rs) return;
    this.perStripe[piece] = (this.perStripe[piece] as number) + 1;
    if (shard >= this.manifest.data_shards) this.parityWritten++;
  }

  /** Pieces the commit must find stored: every piece, but rs-4-7 parity only where it came. */
  private storedPieces(): number {
    const m = this.manifest;
    if (!this.rs) return m.piece_hashes.flat().length;
    return m.piece_hashes.slice(0, m.data_shards).flat().length + this.parityWritten;
  }

  protected async publish() {
    if (!hasPieceHashes(this.manifest)) {
      throw new ContentError(
        `${this.manifest.blob_hash}: a piece hash is still unknown after every check. This is a bug; import the blob again.`,
      );
    }
    const stored: StoredManifest = {
      ...this.partialManifest,
      verified_at: new Date().toISOString(),
      origin: this.origin,
    };
    const result = await this.ctx.backend.commitPut(stored, { pieces: this.storedPieces() });
    // The same blob committed meanwhile as a copy kept for another peer: now it is ours too.
    const claimed =
      !result.added && isKept(result.manifest) && !isKept(stored)
        ? await claim(this.ctx, stored.blob_hash, this.origin)
        : undefined;
    return {
      value: claimed ?? result.manifest,
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
    super(
      ctx,
      manifest,
      id,
      release,
      signal,
      piecesOf(manifest, shards),
      shardsCheck(checkContext(ctx), { ...manifest, storage_key: id }, shards),
    );
  }

  get complete(): boolean {
    return this.written.size === this.neededKeys.size;
  }

  protected refusal(shard: number, piece: number): string | undefined {
    return this.neededKeys.has(pieceKey(shard, piece))
      ? undefined
      : `shard ${shard} piece ${piece} is not part of this import of shards ${this.shards.join(', ')}`;
  }

  protected async publish() {
    const { holding, added } = await this.ctx.backend.commitShards(
      this.manifest,
      this.shards,
      this.id,
      { pieces: this.needed.length },
    );
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
    return this.ctx.backend.getHolding(this.manifest.blob_hash);
  }
}

/**
 * A copy imported from peers as this store keeps it. rs-4-7 parity is derived: recomputed and
 * checked at the import like every byte, but not written (a fetched 1 GiB item takes 1 GiB,
 * not 1.75), and computed from its stripe again when a peer asks for it.
 */
function importedManifest(m: RemoteManifest, storageKey: string): StoredManifest {
  const stored: StoredManifest = { ...m, storage_key: storageKey };
  if (m.encoding === 'rs-4-7') stored.parity = 'derived';
  return stored;
}

/** Pieces the window holds: `windowBytes` in pieces of this manifest. */
const windowPieces = (ctx: CheckContext, m: StoredManifest) =>
  Math.floor(ctx.windowBytes / Math.max(1, m.piece_size));

/**
 * The checks of a whole-blob import. none/chunked: one lane over every piece feeds the blob
 * hash and each multi-piece shard's hash. rs-4-7: one lane over the data shards feeds their
 * hashes and the blob hash (cut at `total_size`, the padding must be zeros); the stripe stage
 * checks parity. The window is shared half and half between them.
 */
function blobCheck(ctx: CheckContext, m: StoredManifest, refs: readonly PieceRef[]) {
  const rs = m.encoding === 'rs-4-7';
  const check = new ImportCheck(ctx, m, 'min');
  const window = windowPieces(ctx, m);
  const blob = ctx.hashes.createHasher({ sizeHint: m.total_size });
  const shards = new ShardHashers(check, () => (rs ? 'data shard' : 'shard'));
  const cancel = () => {
    blob.cancel();
    shards.cancel();
  };
  if (!rs) {
    check.add(
      new Lane(check, {
        refs,
        lookahead: Math.max(1, window),
        feed: async (ref, bytes, mayTransfer) => {
          // `none`: the shard is the blob; a one-piece shard is its piece (checked on validation).
          if (
            m.encoding === 'chunked' &&
            piecesInShard(shardLength(m, ref.shard), m.piece_size) > 1
          ) {
            await shards.update(ref, bytes, false, lastOfShard(m, ref));
          }
          await blob.update(bytes, { transfer: mayTransfer });
        },
        end: async () => expectBlobHash(m, await blob.digest(), 'its pieces'),
        cancel,
      }),
    );
    return check;
  }
  const blobEnd = (ref: PieceRef, len: number) => {
    const start = ref.shard * m.shard_size + ref.piece * m.piece_size;
    return { start, useful: Math.max(0, Math.min(len, m.total_size - start)) };
  };
  check.add(
    new Lane(check, {
      refs,
      lookahead: Math.max(1, window >> 1),
      feed: async (ref, bytes, mayTransfer) => {
        const { useful } = blobEnd(ref, bytes.byteLength);
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
        await shards.update(ref, bytes, false, lastOfShard(m, ref));
        if (useful > 0) {
          const part = useful === bytes.byteLength ? bytes : bytes.subarray(0, useful);
          await blob.update(part, { transfer: mayTransfer });
        }
      },
      end: async () => expectBlobHash(m, await blob.digest(), 'its data shards'),
      progress: (ref, len) => {
        const { start, useful } = blobEnd(ref, len);
        return Math.min(m.total_size, start + useful);
      },
      cancel,
    }),
  );
  check.add(new StripeStage(check, Math.floor(window / 2 / m.total_shards)));
  return check;
}

/** The checks of a shard import: one lane per shard, each hashing its shard. */
function shardsCheck(ctx: CheckContext, m: StoredManifest, shards: readonly number[]) {
  const check = new ImportCheck(ctx, m, 'sum');
  const lookahead = Math.max(1, Math.floor(windowPieces(ctx, m) / shards.length));
  for (const s of shards) {
    const refs = Array.from({ length: piecesInShard(shardLength(m, s), m.piece_size) }, (_, p) => ({
      shard: s,
      piece: p,
    }));
    // A one-piece shard is its piece: its hash was checked against shard_hashes on validation.
    const hashers = refs.length > 1 ? new ShardHashers(check, () => 'shard') : undefined;
    check.add(
      new Lane(check, {
        refs,
        lookahead,
        feed: async (ref, bytes, mayTransfer) => {
          await hashers?.update(ref, bytes, mayTransfer, lastOfShard(m, ref));
        },
        end: async () => {},
        cancel: () => hashers?.cancel(),
      }),
    );
  }
  return check;
}
