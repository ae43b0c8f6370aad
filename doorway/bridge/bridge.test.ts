/**
 * The bridge over real HTTP, with a real doorway peer and real holders (Node peers over TCP on
 * 127.0.0.1): what a plain web client sees, and what the holders are asked for on its behalf.
 */
import { type ClientRequest, request as httpRequest } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { pseudoRandomBytes } from '../../src/test-support/bytes.ts';
import { clientOf } from './routes.ts';
import {
  KiB,
  PIECE,
  request,
  sha,
  stallingFinder,
  startWorld,
  type World,
} from './test-support.ts';

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const SIZE = 200 * KiB + 5; // chunked: 13 pieces of 16 KiB
const hexOf = (hash: string) => hash.slice('sha256-'.length);
const json = (body: Buffer) => JSON.parse(body.toString('utf8')) as { error: string };

/** A request whose pull never ends (a stalling finder): it holds its place until destroyed. */
async function waitingRequest(world: World, seed: number): Promise<ClientRequest> {
  const waiting = httpRequest(`${world.url}/store/${sha(new Uint8Array([seed]))}`, {
    agent: false,
  });
  waiting.on('error', () => {});
  waiting.end();
  await expect.poll(() => world.bridge.openStreams()).toBe(1);
  return waiting;
}

/** Ends `waiting`: its place is free, and a request is answered again (400 for a bad hash). */
async function freesItsPlace(world: World, waiting: ClientRequest): Promise<void> {
  waiting.destroy();
  await expect
    .poll(async () => (await request(`${world.url}/store/sha256-xyz`)).status, { timeout: 3_000 })
    .toBe(400);
}

describe('GET /store/{hash}: an item the doorway keeps', () => {
  it('whole, ranges, 416, HEAD and 304, with the headers of an immutable public blob', async () => {
    const world = await startWorld(cleanups);
    const data = pseudoRandomBytes(SIZE, 1);
    const m = await world.doorway.store.put(data, {
      name: 'été "x".txt',
      mime: 'text/plain; charset=utf-8',
      reach: 'commons',
    });
    const url = `${world.url}/store/${m.blob_hash}`;

    const whole = await request(url);
    expect(whole.status).toBe(200);
    expect(sha(whole.body)).toBe(m.blob_hash);
    expect(whole.headers).toMatchObject({
      'content-type': 'text/plain; charset=utf-8',
      'content-length': String(SIZE),
      'content-disposition': `inline; filename="_t_ _x_.txt"; filename*=UTF-8''%C3%A9t%C3%A9%20%22x%22.txt`,
      etag: `"${m.blob_hash}"`,
      'cache-control': 'public, max-age=31536000, immutable',
      'accept-ranges': 'bytes',
      'x-content-type-options': 'nosniff',
      'access-control-allow-origin': '*',
    });
    expect(whole.headers['access-control-expose-headers']).toMatch(/Content-Range.*ETag/);
    // The other route, bare hex in capitals.
    const blob = await request(`${world.url}/api/blob/${hexOf(m.blob_hash).toUpperCase()}`);
    expect(blob.status).toBe(200);
    expect(sha(blob.body)).toBe(m.blob_hash);

    const ranged = async (range: string, start: number, end: number) => {
      const answer = await request(url, { headers: { Range: range } });
      expect(answer.status, range).toBe(206);
      expect(answer.headers['content-range']).toBe(`bytes ${start}-${end - 1}/${SIZE}`);
      expect(answer.headers['content-length']).toBe(String(end - start));
      expect(Buffer.compare(answer.body, Buffer.from(data.subarray(start, end))), range).toBe(0);
    };
    await ranged('bytes=40000-70000', 40000, 70001); // across pieces, in the middle
    await ranged('bytes=-1000', SIZE - 1000, SIZE); // suffix
    await ranged(`bytes=${SIZE - 10}-`, SIZE - 10, SIZE); // open-ended
    await ranged('bytes=-999999', 0, SIZE); // a suffix longer than the item: all of it

    const outside = await request(url, { headers: { Range: `bytes=${SIZE}-` } });
    expect(outside.status).toBe(416);
    expect(outside.headers['content-range']).toBe(`bytes */${SIZE}`);
    // What may be ignored is: several ranges, bad syntax, another unit, another version.
    for (const headers of <Record<string, string>[]>[
      { Range: 'bytes=0-1,5-6' },
      { Range: 'bytes=abc' },
      { Range: 'items=0-1' },
      { Range: `bytes=0-${'9'.repeat(2000)}` },
      { Range: 'bytes=0-1', 'If-Range': '"sha256-other"' },
    ]) {
      const answer = await request(url, { headers });
      expect(answer.status, JSON.stringify(headers)).toBe(200);
      expect(answer.body.length).toBe(SIZE);
    }
    const sameVersion = await request(url, {
      headers: { Range: 'bytes=0-1', 'If-Range': `"${m.blob_hash}"` },
    });
    expect(sameVersion.status).toBe(206);

    const head = await request(url, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers['content-length']).toBe(String(SIZE));
    expect(head.headers.etag).toBe(`"${m.blob_hash}"`);
    expect(head.body.length).toBe(0);
    const headRange = await request(url, { method: 'HEAD', headers: { Range: 'bytes=-10' } });
    expect(headRange.status).toBe(206);
    expect(headRange.headers['content-range']).toBe(`bytes ${SIZE - 10}-${SIZE - 1}/${SIZE}`);

    for (const tag of [`"${m.blob_hash}"`, `W/"${m.blob_hash}"`, `"x", "${m.blob_hash}"`, '*']) {
      const notModified = await request(url, { headers: { 'If-None-Match': tag } });
      expect(notModified.status, tag).toBe(304);
      expect(notModified.body.length).toBe(0);
      expect(notModified.headers.etag).toBe(`"${m.blob_hash}"`);
    }
    expect((await request(url, { headers: { 'If-None-Match': '"other"' } })).status).toBe(200);
  });

  it('an HTML item cannot run as the app: sandboxed, never sniffed, odd types not sent', async () => {
    const world = await startWorld(cleanups);
    const page = await world.doorway.store.put(new TextEncoder().encode('<script>1</script>'), {
      mime: 'text/html',
    });
    const answer = await request(`${world.url}/store/${page.blob_hash}`);
    expect(answer.headers['content-security-policy']).toBe('sandbox');
    expect(answer.headers['x-content-type-options']).toBe('nosniff');
    const odd = await world.doorway.store.put(new Uint8Array([1, 2, 3]), {
      mime: 'text/html\u0000<evil>',
    });
    const oddAnswer = await request(`${world.url}/store/${odd.blob_hash}`);
    expect(oddAnswer.status).toBe(200);
    expect(oddAnswer.headers['content-type']).toBe('application/octet-stream');
  });
});

describe('what the bridge refuses', () => {
  it('malformed hashes → 400, other methods → 405 with Allow, preflight → 204', async () => {
    const world = await startWorld(cleanups);
    for (const path of [
      '/store/nothex',
      '/store/',
      `/store/${'a'.repeat(5000)}`,
      `/store/sha256-${'0'.repeat(63)}`,
      `/store/${'0'.repeat(64)}/more`,
      '/api/blob/%E0%A4%A',
      '/api/blob/',
    ]) {
      const answer = await request(`${world.url}${path}`);
      expect(answer.status, path).toBe(400);
      expect(answer.headers['content-type']).toBe('application/json');
      expect(json(answer.body).error).toBeTruthy();
    }
    const hash = `sha256-${'0'.repeat(64)}`;
    for (const method of ['POST', 'PUT', 'DELETE']) {
      const answer = await request(`${world.url}/store/${hash}`, { method });
      expect(answer.status, method).toBe(405);
      expect(answer.headers.allow).toBe('GET, HEAD, OPTIONS');
    }
    const preflight = await request(`${world.url}/api/blob/${hash}`, { method: 'OPTIONS' });
    expect(preflight.status).toBe(204);
    expect(preflight.headers['access-control-allow-methods']).toBe('GET, HEAD');
    expect(preflight.headers['access-control-allow-headers']).toMatch(/Range/);
  });

  it('an unknown hash → 404 JSON within the open timeout, even when finding holders stalls', async () => {
    const world = await startWorld(cleanups);
    await world.holder('h');
    const unknown = sha(new Uint8Array([7]));
    let started = Date.now();
    const answer = await request(`${world.url}/store/${unknown}`);
    expect(answer.status).toBe(404);
    expect(json(answer.body).error).toMatch(/Nothing public is stored/);
    expect(Date.now() - started).toBeLessThan(3_000 + 2_000);

    const stalled = await startWorld(cleanups, { finder: stallingFinder, openTimeoutMs: 500 });
    started = Date.now();
    const late = await request(`${stalled.url}/store/${unknown}`);
    expect(late.status).toBe(404);
    expect(Date.now() - started).toBeLessThan(500 + 2_500);
    // The search behind it was stopped, not left running.
    expect(stalled.bridge.openStreams()).toBe(0);
  });

  it('only commons: private, invited and local items get 404 and the holder sends no piece', async () => {
    const world = await startWorld(cleanups);
    const h = await world.holder('h');
    // Authored by the doorway's own agent, so the holder's gate WOULD hand them over: the
    // refusal here is the bridge's own.
    const owner = world.doorway.agent;
    const refused: string[] = [];
    for (const [i, reach] of (['private', 'invited', 'local'] as const).entries()) {
      const m = await h.peer.store.put(pseudoRandomBytes(SIZE, 10 + i), { reach, authorId: owner });
      refused.push(m.blob_hash);
    }
    // The holder's own private item: the holder refuses it already.
    refused.push(
      (await h.peer.store.put(pseudoRandomBytes(5 * KiB, 20), { reach: 'private' })).blob_hash,
    );
    // Commons in name, sealed in fact.
    refused.push(
      (
        await h.peer.store.put(pseudoRandomBytes(5 * KiB, 21), {
          reach: 'commons',
          mime: 'application/vnd.elohim.sealed; type="text/plain"',
        })
      ).blob_hash,
    );
    // Defence in depth: a non-commons item in the doorway's own stores is not served either.
    refused.push(
      (await world.doorway.store.put(pseudoRandomBytes(5 * KiB, 22), { reach: 'private' }))
        .blob_hash,
      (await world.cache.store.put(pseudoRandomBytes(5 * KiB, 23), { reach: 'local' })).blob_hash,
    );
    for (const hash of refused) {
      for (const method of ['GET', 'HEAD']) {
        const answer = await request(`${world.url}/store/${hash}`, {
          method,
          headers: { Range: 'bytes=0-100' },
        });
        expect(answer.status, `${method} ${hash}`).toBe(404);
        if (method === 'GET') expect(json(answer.body).error).toMatch(/Nothing public is stored/);
      }
    }
    expect(h.served()).toBe(0);
    expect((await world.cache.store.stats()).pendingPuts).toBe(0);
    expect(world.bridge.openStreams()).toBe(0);
  });

  it('beyond maxOpenStreams → 503 with Retry-After; a client going away frees its place', async () => {
    const world = await startWorld(cleanups, {
      finder: stallingFinder,
      maxOpenStreams: 1,
      openTimeoutMs: 20_000,
      idleMs: 0,
    });
    const waiting = await waitingRequest(world, 1);
    const busy = await request(`${world.url}/store/${sha(new Uint8Array([2]))}`);
    expect(busy.status).toBe(503);
    expect(Number(busy.headers['retry-after'])).toBeGreaterThan(0);
    expect(json(busy.body).error).toMatch(/limit/);
    waiting.destroy();
    await expect.poll(() => world.bridge.openStreams(), { timeout: 3_000 }).toBe(0);
  });

  it('one client beyond its share of responses → 429 at once; its place is free once one ends', async () => {
    const world = await startWorld(cleanups, {
      finder: stallingFinder,
      maxResponsesPerClient: 1,
      openTimeoutMs: 20_000,
    });
    const waiting = await waitingRequest(world, 5);
    const mine = await request(`${world.url}/store/${sha(new Uint8Array([6]))}`);
    expect(mine.status).toBe(429);
    expect(mine.headers['retry-after']).toBe('1');
    expect(json(mine.body).error).toMatch(/already has 1 item/);
    // The refused request started nothing.
    expect(world.bridge.openStreams()).toBe(1);
    await freesItsPlace(world, waiting);
  });

  it('counts an IPv4 client by its address and an IPv6 one by its /64', () => {
    expect(clientOf('203.0.113.7')).toBe('203.0.113.7');
    expect(clientOf('::ffff:203.0.113.7')).toBe('203.0.113.7');
    expect(clientOf('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(clientOf('2001:db8:1:2:bbbb:cccc:dddd:eeee')).toBe('2001:db8:1:2::/64');
    expect(clientOf('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(clientOf('::1')).toBe('0:0:0:0::/64');
    expect(clientOf(undefined)).toBe('unknown');
  });

  it('beyond maxResponses → 503 at once; a response that ends frees its place', async () => {
    const world = await startWorld(cleanups, {
      finder: stallingFinder,
      maxResponses: 1,
      openTimeoutMs: 20_000,
    });
    const waiting = await waitingRequest(world, 3);
    const busy = await request(`${world.url}/store/${sha(new Uint8Array([4]))}`);
    expect(busy.status).toBe(503);
    expect(busy.headers['retry-after']).toBe('1');
    // The refused request started nothing: no second pull.
    expect(world.bridge.openStreams()).toBe(1);
    // Its place is free once the first client goes: a request is answered again (400 here).
    expect((await request(`${world.url}/store/sha256-xyz`)).status).toBe(503);
    await freesItsPlace(world, waiting);
  });

  it('a pull nobody reads gives its place to a new one instead of a 503', async () => {
    const world = await startWorld(cleanups, { maxOpenStreams: 1 });
    const h = await world.holder('h');
    const [a, b] = await Promise.all(
      [41, 42].map((seed) => h.peer.store.put(pseudoRandomBytes(SIZE, seed), { reach: 'commons' })),
    );
    const range = { Range: 'bytes=0-99' };
    expect((await request(`${world.url}/store/${a?.blob_hash}`, { headers: range })).status).toBe(
      206,
    );
    expect(world.bridge.openStreams()).toBe(1); // A's pull, idle, kept for its next reader
    expect((await request(`${world.url}/store/${b?.blob_hash}`, { headers: range })).status).toBe(
      206,
    );
    expect(world.bridge.openStreams()).toBe(1);
    // A's import went with its place.
    await expect.poll(async () => (await world.cache.store.stats()).pendingPuts).toBe(1);
  });
});

describe('GET /store/{hash}: an item only peers hold', () => {
  it('streams it verified, keeps it in the cache, then serves it with the holder gone', async () => {
    const world = await startWorld(cleanups);
    const h = await world.holder('h');
    const data = pseudoRandomBytes(SIZE, 2);
    const m = await h.peer.store.put(data, { name: 'held.bin', reach: 'commons' });
    const first = await request(`${world.url}/store/${hexOf(m.blob_hash)}`);
    expect(first.status).toBe(200);
    expect(first.headers['content-disposition']).toMatch(/filename="held.bin"/);
    expect(sha(first.body)).toBe(m.blob_hash);
    expect(h.served()).toBe(13);
    await expect.poll(() => world.cache.store.has(m.blob_hash)).toBe(true);
    // The cache counts a committed blob once its change event is handled, a moment later.
    await expect.poll(() => world.cache.stats()).toMatchObject({ items: 1, bytes: SIZE });

    await h.stop();
    const again = await request(`${world.url}/api/blob/${m.blob_hash}`, {
      headers: { Range: 'bytes=-100' },
    });
    expect(again.status).toBe(206);
    expect(Buffer.compare(again.body, Buffer.from(data.subarray(SIZE - 100)))).toBe(0);
    expect(h.served()).toBe(13);
  });

  it('a range pulls only the pieces it covers (chunked and rs-4-7)', async () => {
    const world = await startWorld(cleanups);
    const h = await world.holder('h');
    const data = pseudoRandomBytes(SIZE, 3);
    const m = await h.peer.store.put(data, { reach: 'commons' });
    // HEAD and a revalidation need the manifest only.
    const head = await request(`${world.url}/store/${m.blob_hash}`, { method: 'HEAD' });
    expect(head.headers['content-length']).toBe(String(SIZE));
    const revalidated = await request(`${world.url}/store/${m.blob_hash}`, {
      headers: { 'If-None-Match': `"${m.blob_hash}"` },
    });
    expect(revalidated.status).toBe(304);
    expect(h.served()).toBe(0);
    const answer = await request(`${world.url}/store/${m.blob_hash}`, {
      headers: { Range: `bytes=${2 * PIECE + 5}-${4 * PIECE + 5}` },
    });
    expect(answer.status).toBe(206);
    expect(
      Buffer.compare(answer.body, Buffer.from(data.subarray(2 * PIECE + 5, 4 * PIECE + 6))),
    ).toBe(0);
    expect(h.served()).toBe(3); // pieces 2, 3 and 4 of 13
    // The next range (a video seeking back) reuses what the pull already has.
    const again = await request(`${world.url}/store/${m.blob_hash}`, {
      headers: { Range: `bytes=${3 * PIECE}-${5 * PIECE - 1}` },
    });
    expect(Buffer.compare(again.body, Buffer.from(data.subarray(3 * PIECE, 5 * PIECE)))).toBe(0);
    expect(h.served()).toBe(3);

    const big = pseudoRandomBytes(600 * KiB + 7, 4);
    const rs = await h.peer.store.put(big, { reach: 'commons' });
    expect(rs.encoding).toBe('rs-4-7');
    const start = rs.shard_size + PIECE + 1; // inside data shard 1, its pieces 1 and 2
    const end = start + PIECE;
    const rsAnswer = await request(`${world.url}/store/${rs.blob_hash}`, {
      headers: { Range: `bytes=${start}-${end - 1}` },
    });
    expect(rsAnswer.status).toBe(206);
    expect(Buffer.compare(rsAnswer.body, Buffer.from(big.subarray(start, end)))).toBe(0);
    expect(h.served()).toBe(3 + 2);
    // Partial pulls are not cache entries; they wait for their next reader.
    expect(world.cache.stats().items).toBe(0);
    expect(world.bridge.openStreams()).toBe(2);
  });

  it('a lying holder: its bad piece never reaches the client; an honest one then serves it', async () => {
    const world = await startWorld(cleanups, { idleMs: 0 });
    const liar = await world.holder('liar');
    const data = pseudoRandomBytes(SIZE, 5);
    const m = await liar.peer.store.put(data, { reach: 'commons' });
    liar.tamper((bytes, shard) => {
      if (shard !== 2) return bytes;
      const bad = bytes.slice();
      bad[100] = (bad[100] ?? 0) ^ 0xff;
      return bad;
    });
    const cut = await request(`${world.url}/store/${m.blob_hash}`);
    expect(cut.status).toBe(200);
    expect(cut.complete).toBe(false);
    expect(cut.body.length).toBeLessThanOrEqual(2 * PIECE);
    expect(Buffer.compare(cut.body, Buffer.from(data.subarray(0, cut.body.length)))).toBe(0);
    expect(await world.cache.store.has(m.blob_hash)).toBe(false);

    const honest = await world.holder('honest');
    await honest.peer.store.put(data, { reach: 'commons' });
    const whole = await request(`${world.url}/store/${m.blob_hash}`);
    expect(whole.status).toBe(200);
    expect(whole.complete).toBe(true);
    expect(sha(whole.body)).toBe(m.blob_hash);
  });

  it('a first piece that fails verification gets 502 and no byte', async () => {
    const world = await startWorld(cleanups, { idleMs: 0 });
    const liar = await world.holder('liar');
    const data = pseudoRandomBytes(SIZE, 6);
    const m = await liar.peer.store.put(data, { reach: 'commons' });
    liar.tamper((bytes) => bytes.map((b) => b ^ 1));
    const answer = await request(`${world.url}/store/${m.blob_hash}`);
    expect(answer.status).toBe(502);
    expect(answer.headers['content-type']).toBe('application/json');
    expect(json(answer.body).error).toMatch(/failed/);
  });

  it('a client going away mid-stream stops the pull for it', async () => {
    const world = await startWorld(cleanups, { idleMs: 0 });
    const h = await world.holder('h');
    const m = await h.peer.store.put(pseudoRandomBytes(SIZE, 7), { reach: 'commons' });
    let open!: () => void;
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    cleanups.push(() => open());
    // Piece 0 flows; every later piece waits until the test is over.
    h.tamper(async (bytes, shard) => {
      if (shard > 0) await gate;
      return bytes;
    });
    const gotFirst = new Promise<void>((resolve, reject) => {
      const req = httpRequest(`${world.url}/store/${m.blob_hash}`, { agent: false }, (res) => {
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.on('error', () => {});
      req.on('close', () => reject(new Error('closed before a byte arrived')));
      req.end();
    });
    await gotFirst;
    // The reader left while the holder still sits on the next pieces: the pull is dropped.
    await expect.poll(() => world.bridge.openStreams(), { timeout: 3_000 }).toBe(0);
    await expect.poll(async () => (await world.cache.store.stats()).pendingPuts).toBe(0);
  });
});

describe('the cache of what was pulled', () => {
  it('evicts the least recently used blob beyond maxBytes', async () => {
    const size = 100 * KiB;
    const world = await startWorld(cleanups, { cacheBytes: Math.floor(2.5 * size) });
    const h = await world.holder('h');
    const [a, b, c] = await Promise.all(
      [31, 32, 33].map((seed) =>
        h.peer.store.put(pseudoRandomBytes(size, seed), { reach: 'commons' }),
      ),
    );
    if (!a || !b || !c) throw new Error('not stored');
    const pull = async (hash: string) => {
      expect((await request(`${world.url}/store/${hash}`)).status).toBe(200);
      await expect.poll(() => world.cache.store.has(hash)).toBe(true);
    };
    await pull(a.blob_hash);
    await pull(b.blob_hash);
    const served = h.served();
    // Reading A again (from the cache, the holder is not asked) makes B the least recent.
    expect((await request(`${world.url}/store/${a.blob_hash}`)).status).toBe(200);
    expect(h.served()).toBe(served);
    await pull(c.blob_hash);
    await expect.poll(() => world.cache.store.has(b.blob_hash)).toBe(false);
    await world.cache.settled();
    expect(await world.cache.store.has(a.blob_hash)).toBe(true);
    expect(world.cache.stats()).toEqual({
      items: 2,
      bytes: 2 * size,
      maxBytes: Math.floor(2.5 * size),
    });
  });
});
