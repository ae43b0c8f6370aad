/**
 * The browser hashing path (WorkerHashService ↔ hash-worker.ts) run in Node: a fake Worker
 * structured-clones (and transfers) every message like the real one and hands it to the
 * real worker module, loaded with a fake `self`.
 */
import 'fake-indexeddb/auto';
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashBlob, InlineHashService, WorkerHashService } from './hasher.ts';
import { openContentStore } from './index.ts';

const sha = (b: Uint8Array) => `sha256-${createHash('sha256').update(b).digest('hex')}`;
const MiB = 1024 * 1024;

type Handler = ((ev: { data: unknown }) => void) | null;
const scope: { onmessage: Handler; postMessage(m: unknown, transfer?: Transferable[]): void } = {
  onmessage: null,
  postMessage(m, transfer = []) {
    const data = structuredClone(m, { transfer });
    setTimeout(() => current?.onmessage?.({ data }));
  },
};
let current: FakeWorker | undefined;

class FakeWorker {
  onmessage: Handler = null;
  onerror: Handler = null;
  constructor() {
    current = this;
  }
  postMessage(msg: unknown, transfer: Transferable[] = []) {
    const data = structuredClone(msg, { transfer });
    setTimeout(() => scope.onmessage?.({ data }));
  }
  terminate() {}
}

const g = globalThis as { self?: unknown; Worker?: unknown };
beforeAll(async () => {
  g.self = scope;
  await import('./hash-worker.ts');
  g.Worker = FakeWorker;
});
afterAll(() => {
  delete g.self;
  delete g.Worker;
});

function data(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 31 + (i >> 11)) & 0xff;
  return out;
}

describe('worker hashing', () => {
  it('incremental updates (copied and transferred) and back-pressure past 16 MiB', async () => {
    const svc = new WorkerHashService(() => new FakeWorker() as unknown as Worker, 2);
    const all = data(40 * MiB + 5);
    const h = svc.createHasher();
    for (let off = 0; off < all.length; off += MiB) {
      const part = all.subarray(off, off + MiB);
      // Transfer a private copy half of the time; the view itself must stay intact otherwise.
      if ((off / MiB) % 2) await h.update(part.slice(), { transfer: true });
      else await h.update(part);
    }
    expect(await h.digest()).toBe(sha(all));
    svc.close();
  });

  it('hands each buffer back once hashed when asked to (recycle)', async () => {
    const svc = new WorkerHashService(() => new FakeWorker() as unknown as Worker, 2);
    const all = data(20 * MiB + 3);
    const back: ArrayBuffer[] = [];
    const h = svc.createHasher({ recycle: (buf) => back.push(buf) });
    const sent: number[] = [];
    for (let off = 0; off < all.length; off += MiB) {
      const part = all.slice(off, off + MiB);
      sent.push(part.byteLength);
      // Transferred: gone from here until it comes back; copied: the copy comes back.
      if ((off / MiB) % 2) await h.update(part, { transfer: true });
      else await h.update(part);
    }
    expect(await h.digest()).toBe(sha(all));
    expect(back.map((b) => b.byteLength)).toEqual(sent);
    svc.close();
  });

  it('hashes a Blob read by the worker itself, with progress and abort', async () => {
    const svc = new WorkerHashService(() => new FakeWorker() as unknown as Worker, 2);
    const bytes = data(9 * MiB + 1);
    const blob = new Blob([bytes as Uint8Array<ArrayBuffer>]);
    let seen = 0;
    expect(await hashBlob(svc, blob, { onProgress: (n) => (seen = n) })).toBe(sha(bytes));
    expect(seen).toBe(bytes.length);
    const ac = new AbortController();
    const p = hashBlob(svc, blob, { signal: ac.signal, sliceSize: 64 * 1024 });
    ac.abort(new Error('stop'));
    await expect(p).rejects.toThrow('stop');
    // the service is still usable
    const h = svc.createHasher();
    await h.update(bytes.subarray(0, 10));
    expect(await h.digest()).toBe(sha(bytes.subarray(0, 10)));
    svc.close();
    expect(() => svc.createHasher()).toThrow(/closed/);
  });

  it('a store opened with hashing: "worker" produces the same manifests', async () => {
    const opts = {
      thresholds: { chunkedAbove: 64 * 1024, rsAbove: 256 * 1024 },
      chunkSize: 16 * 1024,
      pieceSize: 8 * 1024,
      locks: null,
    };
    const viaWorker = await openContentStore({ ...opts, dbName: 'worker-a', hashing: 'worker' });
    const inline = await openContentStore({ ...opts, dbName: 'worker-b', hashing: 'inline' });
    for (const n of [1000, 100 * 1024 + 1, 300 * 1024 + 3]) {
      const bytes = data(n);
      const a = await viaWorker.put(bytes);
      const b = await inline.put(bytes);
      expect(a.blob_hash).toBe(sha(bytes));
      expect(a.shard_hashes).toEqual(b.shard_hashes);
      expect(a.piece_hashes).toEqual(b.piece_hashes);
    }
    viaWorker.close();
    inline.close();
  });
});

describe('inline hashing', () => {
  it('hash-wasm and node:crypto (what the Node store uses) give the same digests', async () => {
    const all = data(5 * MiB + 7);
    const services = [
      new InlineHashService(),
      new InlineHashService(async () => createHash('sha256')),
    ];
    for (const svc of services) {
      const h = svc.createHasher();
      for (let off = 0; off < all.length; off += 3 * 65_536 + 1)
        await h.update(all.subarray(off, off + 3 * 65_536 + 1));
      expect(await h.digest()).toBe(sha(all));
      expect(
        await hashBlob(svc, new Blob([all as Uint8Array<ArrayBuffer>]), { sliceSize: MiB }),
      ).toBe(sha(all));
    }
  });
});
