/**
 * `ContentStore`: the seam between the UI / network layer and the stored bytes. One
 * implementation over a {@link ContentBackend}: IndexedDB ({@link openContentStore}) or a
 * directory in Node (`openFsContentStore`, from `node.ts`).
 */
import { TypedEventEmitter, type TypedEventTarget } from '../wire/index.ts';
import { type ContentHash, parseContentHash } from './address.ts';
import type { ContentBackend, ShardHolding } from './backend.ts';
import { ContentError, CorruptPieceError, InvalidManifestError, NotFoundError } from './errors.ts';
import { createHashService, type HashService, sha256Bytes } from './hasher.ts';
import { DEFAULT_DB_NAME, openIdbBackend } from './idb-backend.ts';
import {
  beginImport,
  beginShardImport,
  type ImportSession,
  type RemoteManifest,
  type ShardImportSession,
} from './import.ts';
import {
  type IngestContext,
  ingest,
  type LockManagerLike,
  type PutOptions,
  type PutSource,
  putLockName,
} from './ingest.ts';
import {
  DEFAULT_THRESHOLDS,
  isStoredManifest,
  MiB,
  pieceLength,
  piecesInShard,
  type StoredManifest,
  shardLength,
  storedBytes,
  type Thresholds,
} from './manifest.ts';
import { isKept, keptOrigin, ownOrigin } from './origin.ts';
import {
  type GetOptions,
  type PartialReadOptions,
  type PieceResult,
  type RepairReport,
  readPartialStream,
  readStream,
  readVerifiedPiece,
  repairBlob,
} from './read.ts';

export interface ContentStoreOptions {
  /** IndexedDB database name. Default `elohim-content`. */
  dbName?: string;
  thresholds?: Partial<Thresholds>;
  /** `chunked` shard size. Default 1 MiB, as the Rust store. */
  chunkSize?: number;
  /** Size of one stored/verified piece (one IndexedDB value). Default 1 MiB. */
  pieceSize?: number;
  /** `auto` (default): hash in a module Worker when available, else in-thread. */
  hashing?: 'auto' | 'worker' | 'inline';
  /** Web Locks used to tell live puts from crashed ones. Default `navigator.locks`; `null` forces the fallback. */
  locks?: LockManagerLike | null;
  /** Cross-tab change notifications. Default: on when BroadcastChannel exists. */
  broadcast?: boolean;
  /**
   * Write pipeline tuning (benchmarks, tests). Defaults: 8 pieces per transaction, 2
   * transactions in flight; an import keeps up to 32 MiB of written pieces in memory for its
   * checks (`importWindowBytes`; pieces beyond it are read back, see README "Import").
   */
  tuning?: {
    piecesPerTransaction?: number;
    maxInflightWrites?: number;
    importWindowBytes?: number;
  };
}

/** `held`: the shards of a blob this device keeps for the network changed (see {@link ShardHolding}). */
export type ChangeKind = 'added' | 'removed' | 'repaired' | 'held';

/** What changed: a blob became visible, was removed or repaired, or its held shards changed. */
export interface ContentChange {
  kind: ChangeKind;
  hash: ContentHash;
  /** True when the change happened in another tab (via BroadcastChannel). */
  remote: boolean;
}

/** `store.addEventListener('change', (e) => e.detail.hash)`: here or in another tab. */
export interface ContentStoreEventMap {
  change: CustomEvent<ContentChange>;
}

export interface ContentStats {
  /** Committed blobs. */
  items: number;
  /** Sum of blob sizes. */
  logicalBytes: number;
  /** Bytes of stored pieces (rs-4-7 stores 7/4 of the blob plus padding). */
  storedBytes: number;
  /** Puts and imports in progress (or crashed and not yet swept). */
  pendingPuts: number;
  /** Blobs of which this device keeps some shards for the network, and the bytes of those shards (in `storedBytes` too). */
  heldBlobs: number;
  heldBytes: number;
  /** The origin's usage and quota from `navigator.storage.estimate()`, when the browser tells. */
  usage?: number;
  quota?: number;
  /** Whether the origin's storage is persistent (not evicted under pressure). */
  persisted?: boolean;
}

export interface ContentStore extends TypedEventTarget<ContentStoreEventMap> {
  /** The IndexedDB database name, or the directory of a filesystem store. */
  readonly dbName: string;
  readonly pieceSize: number;
  /**
   * Stores bytes and resolves with the committed manifest (the existing one if the blob was
   * already stored). A ReadableStream is first turned into a Blob (`Response.blob()`, which
   * the browser may keep on disk), then ingested like any Blob.
   * Rejects with the signal's reason on abort, `StorageQuotaError` when the browser is full;
   * in both cases nothing of the put remains. A blob kept for another peer becomes the
   * person's own (`origin` added).
   */
  put(source: PutSource, opts?: PutOptions): Promise<StoredManifest>;
  /** Verified bytes, one piece per pull. Not-found/corruption surface as stream errors. */
  get(hash: string, opts?: GetOptions): ReadableStream<Uint8Array>;
  /**
   * Streams a blob that is still being imported (`session.partialManifest`): before a piece is
   * read, `opts.ensure` is asked to have it written (fetched from peers); every piece is
   * verified as it is read, as in {@link get}.
   */
  readPartial(manifest: StoredManifest, opts: PartialReadOptions): ReadableStream<Uint8Array>;
  /**
   * One verified piece of a blob still being imported (`session.partialManifest`), once it is
   * written: what a peer is served while the rest of the blob is still on its way.
   */
  readPartialPiece(manifest: StoredManifest, shard: number, piece: number): Promise<Uint8Array>;
  /** The whole blob (the browser may back a big Blob by disk). */
  getBlob(hash: string, opts?: GetOptions): Promise<Blob>;
  has(hash: string): Promise<boolean>;
  /** Manifest or `undefined`. */
  manifest(hash: string): Promise<StoredManifest | undefined>;
  /** All manifests, newest first: the person's own and those kept for others (`isKept`). */
  list(): Promise<StoredManifest[]>;
  /**
   * Makes a blob kept for another peer the person's own (`origin` fetched: they asked for it
   * now), so that letting go of what is kept for others leaves it. Resolves with the manifest
   * when it changed (emits `added`), undefined when it was not kept for others.
   */
  claim(hash: string): Promise<StoredManifest | undefined>;
  /**
   * Stops keeping `hash` for others: removes it when it is a copy kept for a peer (never the
   * person's own) and drops the shards of it held for the network. Resolves whether anything went.
   */
  release(hash: string): Promise<boolean>;
  /** Deletes the blob and all its pieces; false if it was not stored. */
  remove(hash: string): Promise<boolean>;
  stats(): Promise<ContentStats>;
  /**
   * One verified piece (`manifest.piece_hashes[shard][piece]`, length per `piece_size`). rs-4-7
   * pieces that fail verification are rebuilt from their stripe; none/chunked throw `CorruptPieceError`.
   * A shard held without its blob is read too (a bad piece there is a `CorruptPieceError`).
   */
  readPiece(hash: string, shardIndex: number, pieceIndex: number): Promise<Uint8Array>;
  /** Verifies every piece and rewrites bad rs-4-7 pieces from parity; updates `verified_at` when all is well. */
  repair(hash: string, opts?: { signal?: AbortSignal }): Promise<RepairReport>;
  /**
   * Begins storing a blob described by a peer's manifest; pieces may arrive in any order
   * (see {@link ImportSession}). Throws `InvalidManifestError` for a malformed manifest.
   * The import is a put in progress (pending record, Web Lock) until it commits or aborts.
   * `keptFor`: the PeerId of the peer that asked this device to keep it (a replica); without
   * it the blob is the person's own (fetched), and a copy kept for others becomes theirs.
   */
  beginImport(
    manifest: RemoteManifest,
    opts?: { signal?: AbortSignal; keptFor?: string },
  ): Promise<ImportSession>;
  /**
   * Begins keeping `shards` of an rs-4-7 blob for the network, without the blob: a
   * {@link ShardHolding}. Pieces are verified as for {@link beginImport}; the commit checks
   * each shard's hash. Invisible to `has`/`list`/`get`; `readPiece` serves the held shards.
   */
  beginShardImport(
    manifest: RemoteManifest,
    shards: readonly number[],
    opts?: { signal?: AbortSignal },
  ): Promise<ShardImportSession>;
  /** The shards of `hash` this device keeps, if it keeps some (not when it stores the whole blob). */
  holding(hash: string): Promise<ShardHolding | undefined>;
  /** Every holding. */
  holdings(): Promise<ShardHolding[]>;
  /** Stops keeping `shards` of `hash` (all when omitted); resolves with those that were dropped. */
  dropShards(hash: string, shards?: readonly number[]): Promise<number[]>;
  /** Removes puts (and imports) that died (closed tab, crash). Runs on open; safe to call any time. */
  sweep(): Promise<number>;
  close(): void;
}

/**
 * Folds a stream into a Blob a few MiB at a time: the browser keeps Blob bytes outside the JS
 * heap (spilling big ones to disk), so memory stays bounded. Unlike `new Response(stream).blob()`,
 * which reports any stream error as a bare "Failed to fetch", the store's typed errors
 * (`CorruptPieceError` naming the piece) reach the caller.
 */
async function collectBlob(stream: ReadableStream<Uint8Array>, type: string): Promise<Blob> {
  const FOLD_BYTES = 16 * 1024 * 1024;
  let blob = new Blob([], { type });
  let parts: Uint8Array[] = [];
  let partBytes = 0;
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (value) {
      parts.push(value);
      partBytes += value.byteLength;
    }
    if (done || partBytes >= FOLD_BYTES) {
      blob = new Blob([blob, ...(parts as BlobPart[])], { type });
      parts = [];
      partBytes = 0;
    }
    if (done) return blob;
  }
}

/** Store instances alive in this JS realm: the sweep fallback when Web Locks are missing. */
const liveInstances = new Set<string>();

class BackendContentStore extends TypedEventEmitter<ContentStoreEventMap> implements ContentStore {
  private readonly channel: BroadcastChannel | undefined;
  private readonly ingestCtx: IngestContext;
  /** Imports in progress: closing the store releases their locks (the next open sweeps them). */
  private readonly imports = new Set<{ detach(): void }>();
  private readonly importWindowBytes: number | undefined;
  private closed = false;

  constructor(
    private readonly backend: ContentBackend,
    private readonly hashes: HashService,
    private readonly instanceId: string,
    private readonly locks: LockManagerLike | undefined,
    options: ContentStoreOptions,
    thresholds: Thresholds,
  ) {
    super();
    const pieceSize = options.pieceSize ?? MiB;
    this.importWindowBytes = options.tuning?.importWindowBytes;
    this.ingestCtx = {
      backend,
      hashes,
      thresholds,
      chunkSize: options.chunkSize ?? MiB,
      pieceSize,
      instanceId,
      locks,
      // ~8 MiB per transaction with the default pieces: few enough commits, bounded memory.
      writeBatchBytes: (options.tuning?.piecesPerTransaction ?? 8) * pieceSize,
      maxInflightWrites: options.tuning?.maxInflightWrites ?? 2,
    };
    if ((options.broadcast ?? true) && typeof BroadcastChannel !== 'undefined') {
      this.channel = new BroadcastChannel(`elohim-content:${backend.name}`);
      // Node keeps the event loop alive for an open channel; a store must not pin a process.
      (this.channel as unknown as { unref?: () => void }).unref?.();
      this.channel.onmessage = (ev: MessageEvent<{ kind: ChangeKind; hash: ContentHash }>) => {
        const { kind, hash } = ev.data ?? {};
        if (kind && hash)
          this.safeDispatchEvent('change', { detail: { kind, hash, remote: true } });
      };
    }
  }

  get dbName(): string {
    return this.backend.name;
  }

  get pieceSize(): number {
    return this.ingestCtx.pieceSize;
  }

  private get readCtx() {
    return { backend: this.backend };
  }

  private emit(kind: ChangeKind, hash: ContentHash): void {
    this.safeDispatchEvent('change', { detail: { kind, hash, remote: false } });
    try {
      this.channel?.postMessage({ kind, hash });
    } catch {}
  }

  private check(): void {
    if (this.closed) throw new ContentError('This content store was closed; open it again.');
  }

  async put(source: PutSource, opts: PutOptions = {}): Promise<StoredManifest> {
    this.check();
    const { manifest, added } = await ingest(this.ingestCtx, source, opts);
    if (added) this.emit('added', manifest.blob_hash);
    if (added || !isKept(manifest)) return manifest;
    // Added here while kept for another peer: the person's own from now on.
    const claimed = await this.backend.claimKept(manifest.blob_hash, ownOrigin('added'));
    if (claimed) this.emit('added', manifest.blob_hash);
    return claimed ?? manifest;
  }

  async beginImport(
    manifest: RemoteManifest,
    opts: { signal?: AbortSignal; keptFor?: string } = {},
  ): Promise<ImportSession> {
    this.check();
    const { keptFor, ...rest } = opts;
    return beginImport(this.importCtx, manifest, {
      ...rest,
      origin: keptFor === undefined ? ownOrigin('fetched') : keptOrigin(keptFor),
    });
  }

  async claim(hash: string): Promise<StoredManifest | undefined> {
    this.check();
    const key = parseContentHash(hash);
    const claimed = await this.backend.claimKept(key, ownOrigin('fetched'));
    if (claimed) this.emit('added', key);
    return claimed;
  }

  async release(hash: string): Promise<boolean> {
    this.check();
    const key = parseContentHash(hash);
    const removed = await this.backend.removeBlob(key, { ifKept: true });
    if (removed) this.emit('removed', key);
    const dropped = await this.backend.dropShards(key);
    if (dropped.length > 0) this.emit('held', key);
    return removed || dropped.length > 0;
  }

  private get importCtx() {
    const { backend, hashes, instanceId, locks } = this.ingestCtx;
    return {
      backend,
      hashes,
      instanceId,
      locks,
      onAdded: (hash: ContentHash) => this.emit('added', hash),
      onHeld: (hash: ContentHash) => this.emit('held', hash),
      live: this.imports,
      windowBytes: this.importWindowBytes,
    };
  }

  async beginShardImport(
    manifest: RemoteManifest,
    shards: readonly number[],
    opts: { signal?: AbortSignal } = {},
  ): Promise<ShardImportSession> {
    this.check();
    return beginShardImport(this.importCtx, manifest, shards, opts);
  }

  async holding(hash: string): Promise<ShardHolding | undefined> {
    this.check();
    return this.backend.getHolding(parseContentHash(hash));
  }

  async holdings(): Promise<ShardHolding[]> {
    this.check();
    return this.backend.listHoldings();
  }

  async dropShards(hash: string, shards?: readonly number[]): Promise<number[]> {
    this.check();
    const key = parseContentHash(hash);
    const dropped = await this.backend.dropShards(key, shards);
    if (dropped.length > 0) this.emit('held', key);
    return dropped;
  }

  async manifest(hash: string): Promise<StoredManifest | undefined> {
    this.check();
    const key = parseContentHash(hash);
    const m = await this.backend.getManifest(key);
    if (m === undefined) return undefined;
    if (!isStoredManifest(m)) {
      throw new InvalidManifestError(
        `The stored manifest of ${key} is not in a format this version understands. Remove it and fetch it again.`,
      );
    }
    return m;
  }

  private async required(hash: string): Promise<StoredManifest> {
    const m = await this.manifest(hash);
    if (!m) throw new NotFoundError(parseContentHash(hash));
    return m;
  }

  get(hash: string, opts: GetOptions = {}): ReadableStream<Uint8Array> {
    return readStream(this.readCtx, () => this.required(hash), opts);
  }

  readPartial(manifest: StoredManifest, opts: PartialReadOptions): ReadableStream<Uint8Array> {
    return readPartialStream(this.readCtx, manifest, opts, () => this.manifest(manifest.blob_hash));
  }

  async readPartialPiece(m: StoredManifest, shard: number, piece: number): Promise<Uint8Array> {
    this.check();
    return (await readVerifiedPiece(this.readCtx, m, shard, piece)).bytes;
  }

  async getBlob(hash: string, opts: GetOptions = {}): Promise<Blob> {
    const m = await this.required(hash);
    return collectBlob(
      readStream(this.readCtx, async () => m, opts),
      m.mime_type,
    );
  }

  async has(hash: string): Promise<boolean> {
    this.check();
    return this.backend.hasManifest(parseContentHash(hash));
  }

  async list(): Promise<StoredManifest[]> {
    this.check();
    const all = await this.backend.listManifests();
    return all.reverse();
  }

  async remove(hash: string): Promise<boolean> {
    this.check();
    const key = parseContentHash(hash);
    const removed = await this.backend.removeBlob(key);
    if (removed) this.emit('removed', key);
    if ((await this.backend.dropShards(key)).length > 0) this.emit('held', key);
    return removed;
  }

  async stats(): Promise<ContentStats> {
    this.check();
    const s: ContentStats = {
      items: 0,
      logicalBytes: 0,
      storedBytes: 0,
      pendingPuts: 0,
      heldBlobs: 0,
      heldBytes: 0,
    };
    for (const m of await this.backend.listManifests()) {
      s.items++;
      s.logicalBytes += m.total_size;
      s.storedBytes += storedBytes(m);
    }
    for (const h of await this.backend.listHoldings()) {
      s.heldBlobs++;
      s.heldBytes += h.shards.length * h.manifest.shard_size;
    }
    s.storedBytes += s.heldBytes;
    s.pendingPuts = (await this.backend.listPending()).length;
    const storage = (globalThis as { navigator?: { storage?: StorageManager } }).navigator?.storage;
    try {
      const est = await storage?.estimate?.();
      if (est?.usage !== undefined) s.usage = est.usage;
      if (est?.quota !== undefined) s.quota = est.quota;
      const persisted = await storage?.persisted?.();
      if (persisted !== undefined) s.persisted = persisted;
    } catch {}
    return s;
  }

  async readPiece(hash: string, shardIndex: number, pieceIndex: number): Promise<Uint8Array> {
    const m = await this.manifest(hash);
    if (!m) return this.readHeldPiece(parseContentHash(hash), shardIndex, pieceIndex);
    const r: PieceResult = await readVerifiedPiece(this.readCtx, m, shardIndex, pieceIndex);
    return r.bytes;
  }

  private async readHeldPiece(hash: ContentHash, shard: number, piece: number) {
    const holding = await this.backend.getHolding(hash);
    const held = holding?.shards.find((s) => s.index === shard);
    if (!holding || !held) throw new NotFoundError(hash);
    const m = holding.manifest;
    const length = shardLength(m, shard);
    if (!Number.isInteger(piece) || piece < 0 || piece >= piecesInShard(length, m.piece_size)) {
      throw new RangeError(`${hash} has no shard ${shard} piece ${piece}: see its manifest.`);
    }
    const [bytes] = await this.backend.readPieces(held.storage_key, [{ shard, piece }]);
    if (!bytes) throw new CorruptPieceError(hash, shard, piece, 'missing');
    if (
      bytes.byteLength !== pieceLength(length, m.piece_size, piece) ||
      (await sha256Bytes(bytes)) !== m.piece_hashes[shard]?.[piece]
    ) {
      throw new CorruptPieceError(hash, shard, piece, 'mismatch');
    }
    return bytes;
  }

  async repair(hash: string, opts: { signal?: AbortSignal } = {}): Promise<RepairReport> {
    const m = await this.required(hash);
    const report = await repairBlob(this.readCtx, m, opts.signal);
    if (report.unrecoverable.length === 0) {
      await this.backend.setVerifiedAt(m.blob_hash, new Date().toISOString());
    }
    if (report.repaired.length > 0) this.emit('repaired', m.blob_hash);
    return report;
  }

  async sweep(): Promise<number> {
    this.check();
    // First what a crash between the steps of a commit or a remove left (the filesystem's).
    await this.backend.collectGarbage?.();
    const pendings = await this.backend.listPending();
    let swept = 0;
    for (const p of pendings) {
      const alive = this.backend.ownerAlive?.(p);
      if (alive !== undefined) {
        if (!alive && (await this.backend.discardPut(p.id))) swept++;
      } else if (this.locks) {
        // Holding the put's lock proves its owner is gone: owners hold it from before the
        // pending record is written until after it is deleted.
        await this.locks.request(putLockName(p.id), { ifAvailable: true }, async (lock) => {
          if (lock && (await this.backend.discardPut(p.id))) swept++;
        });
      } else if (!liveInstances.has(p.owner)) {
        if (await this.backend.discardPut(p.id)) swept++;
      }
    }
    return swept;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    liveInstances.delete(this.instanceId);
    for (const i of [...this.imports]) i.detach();
    this.channel?.close();
    this.hashes.close();
    this.backend.close();
  }
}

function defaultLocks(): LockManagerLike | undefined {
  const nav = (globalThis as { navigator?: { locks?: LockManagerLike } }).navigator;
  return nav?.locks;
}

function positiveInt(name: string, v: number): number {
  if (!Number.isSafeInteger(v) || v <= 0)
    throw new ContentError(`${name} must be a positive integer, got ${v}.`);
  return v;
}

/** Opens the IndexedDB content store (the browser's; `fake-indexeddb` in tests). */
export async function openContentStore(options: ContentStoreOptions = {}): Promise<ContentStore> {
  const checked = checkOptions(options);
  const backend = await openIdbBackend(options.dbName ?? DEFAULT_DB_NAME);
  const locks = options.locks === null ? undefined : (options.locks ?? defaultLocks());
  return openStore(backend, locks, options, checked);
}

/** The options a store needs whatever its backend, checked before anything is opened. */
export function checkOptions(options: ContentStoreOptions): Thresholds {
  const thresholds: Thresholds = { ...DEFAULT_THRESHOLDS, ...options.thresholds };
  if (!(thresholds.chunkedAbove < thresholds.rsAbove)) {
    throw new ContentError('thresholds.chunkedAbove must be below thresholds.rsAbove.');
  }
  positiveInt('chunkSize', options.chunkSize ?? MiB);
  positiveInt('pieceSize', options.pieceSize ?? MiB);
  return thresholds;
}

/** A store over an opened backend; sweeps what dead puts left before it is handed out. */
export async function openStore(
  backend: ContentBackend,
  locks: LockManagerLike | undefined,
  options: ContentStoreOptions,
  thresholds: Thresholds,
  hashes: HashService = createHashService(options.hashing),
): Promise<ContentStore> {
  const instanceId = crypto.randomUUID();
  liveInstances.add(instanceId);
  const store = new BackendContentStore(backend, hashes, instanceId, locks, options, thresholds);
  await store.sweep();
  return store;
}

/** Whether a store instance of this JS realm is open (the filesystem backend's liveness test). */
export function isLiveInstance(id: string): boolean {
  return liveInstances.has(id);
}
