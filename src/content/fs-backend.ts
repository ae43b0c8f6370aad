/**
 * The filesystem backend (Node only: reach it through `node.ts`, never `index.ts`, so browser
 * bundles stay free of `node:` imports). One directory, given by the caller:
 *
 *   manifests/<64 hex>.json      a committed blob (its presence is what makes it visible)
 *   holdings/<64 hex>.json       shards of a blob kept for the network
 *   pending/<put id>.json        a put or import in progress (or crashed)
 *   pieces/<put id>/<shard>/<piece>   the bytes of one piece
 *   tmp/<pid>.<random>/<random>  files being written (one directory per open store), renamed
 *                                into place when complete
 *
 * Every name comes from a content hash (checked `sha256-<64 hex>`), a put id this store made
 * (a UUID, checked) or a shard/piece number: nothing a peer sends becomes a path, so there is
 * no traversal.
 *
 * Durability: every file is written to `tmp/`, fsynced, then renamed into place (a reader
 * sees the old file or the new one, never half of one). Before a manifest (or holding) is
 * written, the directories its pieces were renamed into are fsynced; after it is renamed, its
 * directory is. So a committed manifest always names durable pieces.
 *
 * Atomicity without transactions: each multi-file change is ordered so that a crash at any
 * point leaves either the old state or the new one plus garbage that the sweep on open
 * removes. A put writes its pending marker first and its manifest last; a crash before the
 * manifest leaves a marker whose owner is dead (another process: its pid is gone), so the
 * sweep deletes the put's pieces, then the marker. A marker left beside a committed manifest
 * (crash between the two steps of a commit) is dropped alone. Pieces that nothing names any
 * more (a crash in the middle of a remove) and stale temp files are collected too.
 *
 * One process writes a directory at a time; within it, a mutex shared by the stores open on
 * the directory orders the metadata changes (IndexedDB's transactions do that in the
 * browser) and a per-put lock orders an import's writes against its discard.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm, rmdir, unlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { KeyedLock } from '../wire/index.ts';
import {
  type ContentBackend,
  mergeShards,
  type PendingPut,
  type PieceRef,
  type PieceWrite,
  type ShardHolding,
  splitShards,
} from './backend.ts';
import { ContentError, ImportPiecesLostError } from './errors.ts';
import type { StoredManifest } from './manifest.ts';
import { type ItemOrigin, isKept } from './origin.ts';

const HASH = /^sha256-([0-9a-f]{64})$/;
const ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const HEX_JSON = /^([0-9a-f]{64})\.json$/;
const ID_JSON = /^(.+)\.json$/;

/** The file-name part of a content hash; anything else is refused before it nears a path. */
function hexOf(hash: string): string {
  const m = HASH.exec(hash);
  if (!m) throw new ContentError(`"${hash}" is not a sha256-<64 hex> content hash.`);
  return m[1] as string;
}

function checkId(id: string): string {
  if (!ID.test(id)) throw new ContentError(`"${id}" is not a put id of this store.`);
  return id;
}

function checkIndex(n: number): string {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`${n} is not a shard/piece index.`);
  return String(n);
}

function isMissing(e: unknown): boolean {
  return (e as { code?: unknown } | null)?.code === 'ENOENT';
}

async function readOptional(path: string): Promise<Uint8Array | undefined> {
  try {
    // A view, not `new Uint8Array(buffer)`, which would copy every piece read (readFile gives
    // each file an ArrayBuffer of its own, never a pooled slice).
    const bytes = await readFile(path);
    return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  } catch (e) {
    if (isMissing(e)) return undefined;
    throw e;
  }
}

async function names(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (e) {
    if (isMissing(e)) return [];
    throw e;
  }
}

/** Makes a directory's entries (renames, creations, removals) durable. */
async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function unlinkOptional(path: string): Promise<void> {
  await unlink(path).catch((e) => {
    if (!isMissing(e)) throw e;
  });
}

const META = '';

/** One set of locks per directory, shared by every store of this process open on it. */
const locksByDir = new Map<string, KeyedLock>();
/** Temp directories of the backends open in this process: the others' writers are gone. */
const liveTmp = new Set<string>();

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: the process exists, it is someone else's.
    return (e as { code?: unknown }).code === 'EPERM';
  }
}

export async function openFsBackend(dir: string): Promise<ContentBackend> {
  const root = resolve(dir);
  for (const sub of ['manifests', 'holdings', 'pending', 'pieces', 'tmp']) {
    await mkdir(join(root, sub), { recursive: true });
  }
  // Each backend writes its temp files in `tmp/<pid>.<random>`; those of dead writers go.
  for (const entry of await names(join(root, 'tmp'))) {
    const pid = Number(entry.split('.')[0]);
    const dead = pid === process.pid ? !liveTmp.has(join(root, 'tmp', entry)) : !processAlive(pid);
    if (dead || !Number.isSafeInteger(pid)) {
      await rm(join(root, 'tmp', entry), { recursive: true, force: true });
    }
  }
  const tmp = join(root, 'tmp', `${process.pid}.${randomUUID()}`);
  await mkdir(tmp);
  liveTmp.add(tmp);
  let locks = locksByDir.get(root);
  if (!locks) {
    locks = new KeyedLock();
    locksByDir.set(root, locks);
  }
  return new FsBackend(root, tmp, locks);
}

class FsBackend implements ContentBackend {
  constructor(
    readonly name: string,
    private readonly tmp: string,
    private readonly locks: KeyedLock,
  ) {}

  private path(...parts: string[]): string {
    return join(this.name, ...parts);
  }
  private manifestPath(hash: string): string {
    return this.path('manifests', `${hexOf(hash)}.json`);
  }
  private holdingPath(hash: string): string {
    return this.path('holdings', `${hexOf(hash)}.json`);
  }
  private pendingPath(id: string): string {
    return this.path('pending', `${checkId(id)}.json`);
  }
  private piecesDir(key: string, shard?: number): string {
    return shard === undefined
      ? this.path('pieces', checkId(key))
      : this.path('pieces', checkId(key), checkIndex(shard));
  }

  /** Writes `data` to a temp file, fsyncs it and renames it to `path`. */
  private async writeDurable(path: string, data: Uint8Array | string): Promise<void> {
    const tmp = join(this.tmp, randomUUID());
    try {
      const fh = await open(tmp, 'wx');
      try {
        await fh.writeFile(data);
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, path);
    } catch (e) {
      await unlinkOptional(tmp).catch(() => {});
      throw e;
    }
  }

  /** A metadata file, written durably: its directory is fsynced after the rename. */
  private async writeJson(path: string, value: unknown, dir: string): Promise<void> {
    await this.writeDurable(path, JSON.stringify(value));
    await syncDir(this.path(dir));
  }

  private async readJson<T>(path: string): Promise<T | undefined> {
    const bytes = await readOptional(path);
    if (bytes === undefined) return undefined;
    try {
      return JSON.parse(new TextDecoder().decode(bytes)) as T;
    } catch {
      // Not what this store writes (renames are atomic): the caller's format check reports it.
      return { unreadable: path } as T;
    }
  }

  private async writePieceFiles(key: string, pieces: readonly PieceWrite[]): Promise<void> {
    for (const shard of new Set(pieces.map((p) => p.shard))) {
      await mkdir(this.piecesDir(key, shard), { recursive: true });
    }
    await Promise.all(
      pieces.map((p) =>
        this.writeDurable(join(this.piecesDir(key, p.shard), checkIndex(p.piece)), p.bytes),
      ),
    );
  }

  /** Makes the piece files of `key` (the given shards, or all) durable before a commit names them. */
  private async syncPieces(key: string, shards?: readonly number[]): Promise<void> {
    const all = shards ?? (await names(this.piecesDir(key))).map(Number);
    for (const s of all) await syncDir(this.piecesDir(key, s)).catch(() => {});
    await syncDir(this.piecesDir(key)).catch(() => {});
    await syncDir(this.path('pieces'));
  }

  private async removePieces(key: string, shards?: readonly number[]): Promise<void> {
    if (shards === undefined) {
      await rm(this.piecesDir(key), { recursive: true, force: true });
      return;
    }
    for (const s of shards) await rm(this.piecesDir(key, s), { recursive: true, force: true });
    // The put's directory goes with its last shard.
    await rmdir(this.piecesDir(key)).catch(() => {});
  }

  recordPending(put: PendingPut): Promise<void> {
    return this.locks.run(META, () =>
      this.writeJson(this.pendingPath(put.id), { ...put, pid: process.pid }, 'pending'),
    );
  }

  writePieces(
    storageKey: string,
    pieces: readonly PieceWrite[],
    opts: { ifPending?: boolean } = {},
  ): Promise<void> {
    // Our own copies, taken now: the caller reuses or transfers its buffers at once.
    const own = pieces.map((p) => ({ ...p, bytes: p.bytes.slice() }));
    if (!opts.ifPending) return this.writePieceFiles(storageKey, own);
    return this.locks.run(storageKey, async () => {
      if ((await readOptional(this.pendingPath(storageKey))) === undefined) {
        throw new ContentError('This import was discarded (aborted or swept).');
      }
      await this.writePieceFiles(storageKey, own);
    });
  }

  rewritePieces(hash: string, storageKey: string, pieces: readonly PieceWrite[]): Promise<boolean> {
    const own = pieces.map((p) => ({ ...p, bytes: p.bytes.slice() }));
    return this.locks.run(META, async () => {
      const still = await this.readJson<StoredManifest>(this.manifestPath(hash));
      if (still?.storage_key !== storageKey) return false;
      await this.writePieceFiles(storageKey, own);
      await this.syncPieces(storageKey, [...new Set(own.map((p) => p.shard))]);
      return true;
    });
  }

  readPieces(storageKey: string, refs: readonly PieceRef[]): Promise<(Uint8Array | undefined)[]> {
    return Promise.all(
      refs.map((r) => readOptional(join(this.piecesDir(storageKey, r.shard), checkIndex(r.piece)))),
    );
  }

  discardPut(id: string): Promise<boolean> {
    return this.locks.run(id, () =>
      this.locks.run(META, async () => {
        const pending = this.pendingPath(id);
        if ((await readOptional(pending)) === undefined) return false;
        // Pieces first: a crash in between leaves the marker, and the next sweep finishes.
        await this.removePieces(id);
        await unlink(pending);
        await syncDir(this.path('pending'));
        return true;
      }),
    );
  }

  commitPut(
    manifest: StoredManifest,
    opts: { pieces?: number } = {},
  ): Promise<{ manifest: StoredManifest; added: boolean; hadShards: boolean }> {
    const key = manifest.storage_key;
    return this.locks.run(key, () =>
      this.locks.run(META, async () => {
        const existing = await this.readJson<StoredManifest>(this.manifestPath(manifest.blob_hash));
        if (!existing) await this.expectPieces(manifest.blob_hash, key, opts.pieces);
        if (existing) {
          await this.removePieces(key);
        } else {
          await this.syncPieces(key);
          // The commit point: from here on the blob is visible.
          await this.writeJson(this.manifestPath(manifest.blob_hash), manifest, 'manifests');
        }
        await unlinkOptional(this.pendingPath(key));
        const holding = await this.readJson<ShardHolding>(this.holdingPath(manifest.blob_hash));
        if (holding) await this.deleteHolding(holding);
        return existing
          ? { manifest: existing, added: false, hadShards: !!holding }
          : { manifest, added: true, hadShards: !!holding };
      }),
    );
  }

  /**
   * Under the put's lock: unless `expected` piece files are under `id` and its pending marker
   * is there, throws `ImportPiecesLostError` (directory listings only: no piece is read).
   */
  private async expectPieces(hash: string, id: string, expected: number | undefined) {
    if (expected === undefined) return;
    const pending = (await readOptional(this.pendingPath(id))) !== undefined;
    let stored = 0;
    for (const shard of await names(this.piecesDir(id))) {
      stored += (await names(join(this.piecesDir(id), shard))).length;
    }
    if (!pending || stored !== expected) {
      throw new ImportPiecesLostError(hash, pending ? stored : 0, expected);
    }
  }

  /** The holding's file, then its pieces (a crash in between leaves garbage the sweep collects). */
  private async deleteHolding(holding: ShardHolding): Promise<void> {
    await unlinkOptional(this.holdingPath(holding.blob_hash));
    await syncDir(this.path('holdings'));
    for (const s of holding.shards) await this.removePieces(s.storage_key, [s.index]);
  }

  commitShards(
    manifest: Omit<StoredManifest, 'storage_key'>,
    shards: readonly number[],
    id: string,
    opts: { pieces?: number } = {},
  ): Promise<{ holding: ShardHolding | undefined; added: number[] }> {
    return this.locks.run(id, () =>
      this.locks.run(META, async () => {
        const whole = (await readOptional(this.manifestPath(manifest.blob_hash))) !== undefined;
        if (!whole) await this.expectPieces(manifest.blob_hash, id, opts.pieces);
        const current = await this.readJson<ShardHolding>(this.holdingPath(manifest.blob_hash));
        let result: { holding: ShardHolding | undefined; added: number[] } = {
          holding: current,
          added: [],
        };
        if (whole) {
          await this.removePieces(id);
        } else {
          const merged = mergeShards(manifest, current, shards, id);
          await this.removePieces(
            id,
            shards.filter((s) => !merged.added.includes(s)),
          );
          if (merged.added.length > 0) {
            await this.syncPieces(id, merged.added);
            await this.writeJson(this.holdingPath(manifest.blob_hash), merged.holding, 'holdings');
          }
          result = merged;
        }
        await unlinkOptional(this.pendingPath(id));
        return result;
      }),
    );
  }

  dropShards(hash: string, shards?: readonly number[]): Promise<number[]> {
    return this.locks.run(META, async () => {
      const holding = await this.readJson<ShardHolding>(this.holdingPath(hash));
      if (!holding) return [];
      const { keep, drop } = splitShards(holding, shards);
      if (drop.length === 0) return [];
      if (keep.length === 0) {
        await unlinkOptional(this.holdingPath(hash));
        await syncDir(this.path('holdings'));
      } else {
        const updated = { ...holding, shards: keep, updated_at: new Date().toISOString() };
        await this.writeJson(this.holdingPath(hash), updated, 'holdings');
      }
      for (const s of drop) await this.removePieces(s.storage_key, [s.index]);
      return drop.map((s) => s.index);
    });
  }

  removeBlob(hash: string, opts: { ifKept?: boolean } = {}): Promise<boolean> {
    return this.locks.run(META, async () => {
      const m = await this.readJson<StoredManifest>(this.manifestPath(hash));
      if (!m || (opts.ifKept && !isKept(m))) return false;
      await unlink(this.manifestPath(hash));
      await syncDir(this.path('manifests'));
      if (typeof m.storage_key === 'string' && ID.test(m.storage_key)) {
        await this.removePieces(m.storage_key);
      }
      return true;
    });
  }

  getManifest(hash: string): Promise<StoredManifest | undefined> {
    return this.readJson<StoredManifest>(this.manifestPath(hash));
  }

  async hasManifest(hash: string): Promise<boolean> {
    return (await readOptional(this.manifestPath(hash))) !== undefined;
  }

  async listManifests(): Promise<StoredManifest[]> {
    const all = await this.readAll<StoredManifest>('manifests', HEX_JSON);
    return all.sort((a, b) =>
      a.created_at === b.created_at
        ? a.blob_hash < b.blob_hash
          ? -1
          : 1
        : a.created_at < b.created_at
          ? -1
          : 1,
    );
  }

  setVerifiedAt(hash: string, time: string): Promise<void> {
    return this.locks.run(META, async () => {
      const cur = await this.readJson<StoredManifest>(this.manifestPath(hash));
      if (cur) {
        await this.writeJson(this.manifestPath(hash), { ...cur, verified_at: time }, 'manifests');
      }
    });
  }

  claimKept(hash: string, origin: ItemOrigin): Promise<StoredManifest | undefined> {
    return this.locks.run(META, async () => {
      const cur = await this.readJson<StoredManifest>(this.manifestPath(hash));
      if (!cur || !isKept(cur)) return undefined;
      const next = { ...cur, origin };
      await this.writeJson(this.manifestPath(hash), next, 'manifests');
      return next;
    });
  }

  getHolding(hash: string): Promise<ShardHolding | undefined> {
    return this.readJson<ShardHolding>(this.holdingPath(hash));
  }

  async listHoldings(): Promise<ShardHolding[]> {
    const all = await this.readAll<ShardHolding>('holdings', HEX_JSON);
    return all.sort((a, b) => (a.blob_hash < b.blob_hash ? -1 : 1));
  }

  async listPending(): Promise<PendingPut[]> {
    const all = await this.readAll<PendingPut>('pending', ID_JSON);
    return all.filter((p) => typeof p.id === 'string').sort((a, b) => (a.id < b.id ? -1 : 1));
  }

  /** The parsed files of `dir` whose names match; a file removed meanwhile is skipped. */
  private async readAll<T>(dir: string, pattern: RegExp): Promise<T[]> {
    const out: T[] = [];
    for (const file of await names(this.path(dir))) {
      if (!pattern.test(file)) continue;
      const v = await this.readJson<T>(this.path(dir, file));
      if (v !== undefined) out.push(v);
    }
    return out;
  }

  /**
   * Another process's put is alive while its process is: a killed writer's puts are swept.
   * This process's puts are the store's to judge (its live instances).
   */
  ownerAlive(p: PendingPut): boolean | undefined {
    if (p.pid === undefined || p.pid === process.pid) return undefined;
    return processAlive(p.pid);
  }

  /**
   * Pending markers beside a committed manifest (a crash between a commit's two steps) and
   * pieces nothing names (a crash in the middle of a remove or a drop).
   */
  collectGarbage(): Promise<void> {
    return this.locks.run(META, async () => {
      const dirs = await names(this.path('pieces'));
      const pending = new Set((await this.listPending()).map((p) => p.id));
      const whole = new Set((await this.listManifests()).map((m) => m.storage_key));
      const held = new Map<string, Set<string>>();
      for (const h of await this.listHoldings()) {
        for (const s of h.shards) {
          const set = held.get(s.storage_key) ?? new Set<string>();
          set.add(String(s.index));
          held.set(s.storage_key, set);
        }
      }
      for (const id of pending) {
        if (whole.has(id) || held.has(id)) await unlinkOptional(this.pendingPath(id));
      }
      for (const dir of dirs) {
        if (!ID.test(dir) || whole.has(dir) || pending.has(dir)) continue;
        const keep = held.get(dir);
        if (!keep) await this.removePieces(dir);
        else {
          const extra = (await names(this.piecesDir(dir))).filter((s) => !keep.has(s));
          await this.removePieces(dir, extra.map(Number));
        }
      }
    });
  }

  /** Writes still in flight fail; what they leave is swept on the next open. */
  close(): void {
    liveTmp.delete(this.tmp);
    void rm(this.tmp, { recursive: true, force: true }).catch(() => {});
  }
}
