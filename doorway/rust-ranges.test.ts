/**
 * Issue 19: a range of a Rust-held miss waits for the data shards it covers only. The Rust
 * stand-in holds back every shard but one (`hold`), so a first byte that waited for another
 * shard never comes; `gets` says which shards it had answered when the first byte arrived.
 * A blob made the Rust way: `rs-4-7`, four data shards of a quarter of it (5 MiB at 20 MiB).
 */
import { createHash } from 'node:crypto';
import { mkdtemp, open, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  makeRustBlob,
  type RustBlob,
  type RustPeer,
  type RustPeerOptions,
  startRustPeer,
} from './rust-test-support.ts';
import { startTestDoorway, until } from './test-support.ts';

const MiB = 1024 * 1024;
const SIZE = 20 * MiB;
const SHARD = SIZE / 4;

describe('ranges of a blob a Rust node holds', () => {
  let dir: string;
  let blob: RustBlob;
  let shards: string[];
  let rust: RustPeer | undefined;
  let doorway: Awaited<ReturnType<typeof startTestDoorway>> | undefined;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rust-ranges-'));
    blob = await makeRustBlob(dir, SIZE);
    shards = blob.manifest.shard_hashes as string[];
  }, 120_000);

  afterEach(async () => {
    await doorway?.stop();
    await rust?.stop();
    doorway = undefined;
    rust = undefined;
  });

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** A fresh Rust stand-in and doorway (an empty cache). */
  async function setUp(options: RustPeerOptions) {
    rust = await startRustPeer(blob, options);
    doorway = await startTestDoorway({
      storeQuota: 4 * SIZE,
      cacheQuota: 4 * SIZE,
      rustStorage: [{ endpoint: rust.endpoint, multiaddr: rust.addr.toString() }],
    });
    return { rust, url: new URL(`store/${blob.blobHash}`, doorway.doorway.url) };
  }

  /** Every shard but `free` waits until `release()`. */
  function holdAllBut(free: string) {
    let release!: () => void;
    const released = new Promise<void>((r) => {
      release = r;
    });
    return { hold: (h: string) => (h === free ? Promise.resolve() : released), release };
  }

  /** The blob's bytes `start`..`end` (exclusive), read from the data shards' files. */
  async function bytesOf(start: number, end: number): Promise<Buffer> {
    const out = Buffer.alloc(end - start);
    for (let at = start; at < end; ) {
      const s = Math.floor(at / SHARD);
      const n = Math.min(end, (s + 1) * SHARD) - at;
      const f = await open(blob.files.get(shards[s] as string) as string, 'r');
      await f.read(out, at - start, n, at - s * SHARD);
      await f.close();
      at += n;
    }
    return out;
  }

  /** The rest of a body after its first chunk, all of it. */
  async function rest(reader: ReadableStreamDefaultReader<Uint8Array>, first: Uint8Array) {
    const chunks = [Buffer.from(first)];
    for (let r = await reader.read(); !r.done; r = await reader.read()) {
      chunks.push(Buffer.from(r.value));
    }
    return Buffer.concat(chunks);
  }

  async function cachedItems(): Promise<number> {
    const res = await fetch(new URL('health', doorway?.doorway.url));
    return ((await res.json()) as { store: { cache: { items: number } } }).store.cache.items;
  }

  for (const [name, shard, offset] of [
    ['in the third quarter', 2, 123_457],
    ['at the start', 0, 0],
  ] as const) {
    it(`a 1 MiB range ${name} waits for data shard ${shard} alone; the blob is cached afterwards`, async () => {
      const gate = holdAllBut(shards[shard] as string);
      const { rust, url } = await setUp({ hold: gate.hold });
      const start = shard * SHARD + offset;
      const end = start + MiB;
      const res = await fetch(url, { headers: { Range: `bytes=${start}-${end - 1}` } });
      expect(res.status).toBe(206);
      const reader = (res.body as ReadableStream<Uint8Array>).getReader();
      const first = await reader.read();
      expect(first.done).toBe(false);
      expect(rust.gets).toEqual([shards[shard]]);
      gate.release();
      const body = await rest(reader, first.value as Uint8Array);
      expect(body.equals(await bytesOf(start, end))).toBe(true);
      // The rest follows in order, each data shard once, and the import commits.
      await until(
        'the blob in the cache',
        async () => ((await cachedItems()) === 1 ? true : undefined),
        60_000,
      );
      expect(rust.gets).toEqual([
        shards[shard],
        ...[0, 1, 2, 3].filter((s) => s !== shard).map((s) => shards[s]),
      ]);
    }, 120_000);
  }

  it('a whole GET streams shard 0 while shards 1–3 are still to come, byte for byte', async () => {
    const gate = holdAllBut(shards[0] as string);
    const { rust, url } = await setUp({ hold: gate.hold });
    const res = await fetch(url);
    expect(res.status).toBe(200);
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const first = await reader.read();
    expect(rust.gets).toEqual([shards[0]]);
    gate.release();
    const body = await rest(reader, first.value as Uint8Array);
    expect(body.byteLength).toBe(SIZE);
    expect(`sha256-${createHash('sha256').update(body).digest('hex')}`).toBe(blob.blobHash);
    expect(rust.gets).toEqual(shards.slice(0, 4));
  }, 120_000);

  it('a lying node: a range in its bad shard gets 502, a whole GET is cut, never a wrong byte, nothing cached', async () => {
    const { rust, url } = await setUp({ corrupt: shards[2] });
    const res = await fetch(url, { headers: { Range: `bytes=${2 * SHARD}-${2 * SHARD + 99}` } });
    expect(res.status).toBe(502);
    expect(((await res.json()) as { error: string }).error).toMatch(/try again/);
    expect(rust.gets).toEqual([shards[2]]);
    // The failed import kept nothing; the next reader begins afresh and is cut in shard 2.
    const whole = await fetch(url);
    expect(whole.status).toBe(200);
    const chunks: Buffer[] = [];
    await expect(
      (async () => {
        for await (const c of whole.body as unknown as AsyncIterable<Uint8Array>) {
          chunks.push(Buffer.from(c));
        }
      })(),
    ).rejects.toThrow();
    const got = Buffer.concat(chunks);
    expect(got.byteLength).toBeLessThanOrEqual(2 * SHARD);
    expect(got.equals(await bytesOf(0, got.byteLength))).toBe(true);
    expect(await cachedItems()).toBe(0);
    const content = join(doorway?.dir as string, 'state', 'store', 'cache', 'content');
    await until('the imports discarded', async () => {
      const left = [
        ...(await readdir(join(content, 'pieces'))),
        ...(await readdir(join(content, 'pending'))),
      ];
      return left.length === 0 ? true : undefined;
    });
  }, 120_000);
});
