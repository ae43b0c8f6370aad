import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type ContentStore, openFsContentStore, sha256Bytes } from '../content/node.ts';
import { pseudoRandomBytes } from '../test-support/bytes.ts';
import { fetchThroughDoorway } from './bridge-fetch.ts';
import { FetchError, NoHoldersError } from './errors.ts';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A stand-in bridge on 127.0.0.1 that answers every `/store/<hash>` with `body` (or 404). */
async function bridge(body: Uint8Array | undefined, name = 'clip ü.bin'): Promise<string> {
  const server: Server = createServer((_req, res) => {
    if (!body) {
      res.writeHead(404, { 'Content-Type': 'application/json' }).end('{"error":"not found"}');
      return;
    }
    res.writeHead(200, {
      'Content-Type': 'video/mp4',
      'Content-Length': String(body.length),
      'Content-Disposition': `inline; filename="clip _.bin"; filename*=UTF-8''${encodeURIComponent(name)}`,
    });
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise((resolve) => server.close(resolve)));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function emptyStore(): Promise<ContentStore> {
  const dir = await mkdtemp(join(tmpdir(), 'elohim-bridge-fetch-'));
  const store = await openFsContentStore({ dir });
  cleanups.push(async () => {
    store.close();
    await rm(dir, { recursive: true, force: true });
  });
  return store;
}

describe('fetching through the doorway', () => {
  it('stores the bytes as commons, with the name and type the bridge gave', async () => {
    const bytes = pseudoRandomBytes(300 * 1024, 3);
    const hash = await sha256Bytes(bytes);
    const store = await emptyStore();
    const phases: string[] = [];
    const m = await fetchThroughDoorway(await bridge(bytes), store, hash, {
      onProgress: (p) => phases.push(p.phase),
    });
    expect(m).toMatchObject({ blob_hash: hash, reach: 'commons', name: 'clip ü.bin' });
    expect(m.mime_type).toBe('video/mp4');
    expect(phases.at(-1)).toBe('done');
    const got = new Uint8Array(await (await store.getBlob(hash)).arrayBuffer());
    expect(Buffer.from(got).equals(Buffer.from(bytes))).toBe(true);
  });

  it('stores nothing when the bytes are not the hash asked for', async () => {
    const bytes = pseudoRandomBytes(4096, 1);
    const other = await sha256Bytes(pseudoRandomBytes(4096, 2));
    const store = await emptyStore();
    await expect(fetchThroughDoorway(await bridge(bytes), store, other)).rejects.toThrow(
      FetchError,
    );
    expect((await store.stats()).items).toBe(0);
  });

  it('says nobody holds it when the bridge answers 404', async () => {
    const store = await emptyStore();
    const hash = await sha256Bytes(new Uint8Array([1]));
    await expect(fetchThroughDoorway(await bridge(undefined), store, hash)).rejects.toThrow(
      NoHoldersError,
    );
  });
});
