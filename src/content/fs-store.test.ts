/**
 * What only the filesystem store must show: a put cut short (a half-written put, a killed
 * process) is invisible and swept on the next open; a damaged piece file is caught on read;
 * nothing a caller passes becomes a path outside the directory.
 */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { pseudoRandomBytes } from '../test-support/bytes.ts';
import { TEST_OPTIONS } from './content-store-tests.ts';
import {
  type ContentStore,
  CorruptPieceError,
  ImportPiecesLostError,
  InvalidHashError,
  openFsContentStore,
} from './node.ts';
import { remote } from './test-helpers.ts';

const dirs: string[] = [];
const stores: ContentStore[] = [];
afterEach(async () => {
  for (const s of stores.splice(0)) s.close();
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'elohim-fs-store-'));
  dirs.push(dir);
  return dir;
}

async function open(dir: string): Promise<ContentStore> {
  const store = await openFsContentStore({ ...TEST_OPTIONS, dir });
  stores.push(store);
  return store;
}

async function readAll(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** Files under `dir`, recursively, relative to it. */
async function files(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) =>
      join(e.parentPath ?? (e as unknown as { path: string }).path, e.name).slice(dir.length + 1),
    )
    .sort();
}

/** Polls `check` until it holds, failing after `timeoutMs`: a condition, not a fixed sleep. */
async function waitFor(check: () => Promise<boolean>, timeoutMs: number, what: string) {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('filesystem store: unfinished puts', () => {
  it('a half-written put (pending marker, some pieces, no manifest) is invisible and swept on open', async () => {
    const dir = await tempDir();
    (await open(dir)).close();
    const id = crypto.randomUUID();
    await writeFile(
      join(dir, 'pending', `${id}.json`),
      JSON.stringify({
        id,
        owner: 'a store instance that is gone',
        started_at: new Date().toISOString(),
        total_size: 3 * 16384,
        pid: process.pid,
      }),
    );
    await mkdir(join(dir, 'pieces', id, '0'), { recursive: true });
    for (const p of [0, 1])
      await writeFile(join(dir, 'pieces', id, '0', String(p)), pseudoRandomBytes(16384, p));
    await writeFile(join(dir, 'tmp', 'a-write-that-died'), pseudoRandomBytes(100));

    const store = await open(dir);
    expect(await store.list()).toEqual([]);
    expect((await store.stats()).pendingPuts).toBe(0);
    expect(await files(dir)).toEqual([]);
  });

  it('a crash between the steps of a commit (marker beside its manifest) and orphaned pieces: the blob stays, the rest goes', async () => {
    const dir = await tempDir();
    const first = await open(dir);
    const m = await first.put(pseudoRandomBytes(200 * 1024, 4));
    first.close();
    const marker = {
      id: m.storage_key,
      owner: 'gone',
      started_at: m.created_at,
      total_size: m.total_size,
      pid: process.pid,
    };
    await writeFile(join(dir, 'pending', `${m.storage_key}.json`), JSON.stringify(marker));
    const orphan = crypto.randomUUID();
    await mkdir(join(dir, 'pieces', orphan, '3'), { recursive: true });
    await writeFile(join(dir, 'pieces', orphan, '3', '0'), pseudoRandomBytes(16384, 9));

    const store = await open(dir);
    expect((await store.stats()).pendingPuts).toBe(0);
    expect((await readAll(store.get(m.blob_hash))).byteLength).toBe(m.total_size);
    expect((await files(dir)).some((f) => f.includes(orphan))).toBe(false);
  });

  it('a process killed mid-put leaves no visible item, and the next open sweeps it', async () => {
    const dir = await tempDir();
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        fileURLToPath(new URL('../test-support/fs-put-child.ts', import.meta.url)),
        dir,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    child.stderr.on('data', (b) => (stderr += b));
    const exited = new Promise<NodeJS.Signals | null>((resolve) =>
      child.on('exit', (_c, s) => resolve(s)),
    );
    try {
      await waitFor(
        async () => {
          if (child.exitCode !== null) throw new Error(`the child exited early: ${stderr}`);
          return (
            (await files(dir).catch(() => [])).filter((f) => f.startsWith('pieces')).length >= 3
          );
        },
        30_000,
        'the child to write pieces',
      );
    } finally {
      child.kill('SIGKILL');
    }
    expect(await exited).toBe('SIGKILL');
    const before = await files(dir);
    const marker = before.find((f) => f.startsWith('pending'));
    expect(marker).toBeDefined();
    expect(JSON.parse(await readFile(join(dir, marker as string), 'utf8')).pid).toBe(child.pid);
    expect(before.some((f) => f.startsWith('manifests'))).toBe(false);

    const store = await open(dir);
    expect(await store.list()).toEqual([]);
    expect((await store.stats()).pendingPuts).toBe(0);
    expect(await files(dir)).toEqual([]);
    // The store works as before.
    const m = await store.put(pseudoRandomBytes(40 * 1024, 1));
    expect(await store.has(m.blob_hash)).toBe(true);
  }, 60_000);
});

describe('filesystem store: damaged or hostile input', () => {
  it('an import whose piece file was removed before the commit → ImportPiecesLostError, nothing visible', async () => {
    const src = await open(await tempDir());
    const dir = await tempDir();
    const dst = await open(dir);
    const m = await src.put(pseudoRandomBytes(5 * 16384 + 3));
    const session = await dst.beginImport(remote(m));
    for (const { shard, piece } of session.needed) {
      await session.writePiece(shard, piece, await src.readPiece(m.blob_hash, shard, piece));
    }
    await rm(join(dir, 'pieces', session.partialManifest.storage_key, '2', '0'));
    await expect(session.commit()).rejects.toBeInstanceOf(ImportPiecesLostError);
    expect(await dst.has(m.blob_hash)).toBe(false);
    expect(await files(dir)).toEqual([]);
  });

  it('a truncated or deleted piece file → CorruptPieceError on read', async () => {
    const store = await open(await tempDir());
    const m = await store.put(pseudoRandomBytes(40 * 1024, 2));
    const piece = (p: number) => join(store.dbName, 'pieces', m.storage_key, '0', String(p));
    await truncate(piece(1), 100);
    await expect(readAll(store.get(m.blob_hash))).rejects.toMatchObject({
      name: 'CorruptPieceError',
      pieceIndex: 1,
      reason: 'mismatch',
    });
    await rm(piece(2));
    const err = await store.readPiece(m.blob_hash, 0, 2).catch((e) => e);
    expect(err).toBeInstanceOf(CorruptPieceError);
    expect(err).toMatchObject({ pieceIndex: 2, reason: 'missing' });
  });

  it('a hash that is not one never becomes a path', async () => {
    const store = await open(await tempDir());
    for (const bad of ['../../etc/passwd', 'sha256-../../x', `sha256-${'A'.repeat(64)}/..`]) {
      await expect(store.manifest(bad)).rejects.toBeInstanceOf(InvalidHashError);
      await expect(store.readPiece(bad, 0, 0)).rejects.toBeInstanceOf(InvalidHashError);
      await expect(store.remove(bad)).rejects.toBeInstanceOf(InvalidHashError);
    }
  });

  it('survives a reopen: what was committed reads back verified', async () => {
    const dir = await tempDir();
    const first = await open(dir);
    const data = pseudoRandomBytes(600 * 1024, 3);
    const m = await first.put(data, { name: '../not-a-path.bin' });
    first.close();
    const again = await open(dir);
    expect(await again.manifest(m.blob_hash)).toEqual(m);
    expect((await readAll(again.get(m.blob_hash))).byteLength).toBe(data.byteLength);
    expect((await files(dir)).filter((f) => f.startsWith('manifests'))).toEqual([
      `manifests/${m.blob_hash.slice('sha256-'.length)}.json`,
    ]);
  });
});
