/**
 * The doorway's HTTP bridge, from a plain web client (Node's `fetch`, as curl would): commons
 * items held only by a browser are pulled piece by piece for the range asked, a lying holder
 * never gets a wrong byte to the client, and items of any other reach get 404 and zero bytes.
 */
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { pseudoRandomBytes } from '../src/test-support/bytes.ts';
import { expect, specFiles, test } from './fixtures.ts';
import {
  addFiles,
  fetchByLink,
  getContent,
  hashOfItemNamed,
  item,
  openApp,
  peerEntry,
  peerIdOf,
  shareLinkOf,
  trustConnected,
} from './support/app.ts';
import { startDoorwayProcess } from './support/doorway-process.ts';
import { writeRandomFile } from './support/files.ts';
import { startNodeHolder } from './support/node-holder.ts';
import { familyOfTwo, threePeople } from './support/people.ts';

const MiB = 1024 * 1024;
const files = specFiles();

interface Health {
  store: { cache: { items: number } };
  bridge: { pulled_bytes: number };
}

async function health(origin: string): Promise<Health> {
  return (await (await fetch(new URL('/health', origin))).json()) as Health;
}

/** Bytes `start` to `end` (exclusive) of the file at `path`. */
async function slice(path: string, start: number, end: number): Promise<Buffer> {
  const file = await open(path, 'r');
  try {
    const out = Buffer.alloc(end - start);
    await file.read(out, 0, out.length, start);
    return out;
  } finally {
    await file.close();
  }
}

/** GET with a deadline; the status, headers and every byte the doorway sent. */
async function get(url: string, headers: Record<string, string> = {}) {
  const response = await fetch(url, { headers, signal: AbortSignal.timeout(60_000) });
  const chunks: Buffer[] = [];
  let broken = false;
  try {
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      chunks.push(Buffer.from(chunk));
    }
  } catch {
    broken = true;
  }
  return {
    status: response.status,
    headers: response.headers,
    body: Buffer.concat(chunks),
    broken,
  };
}

test('a range in the middle of a 200 MiB item held by a browser moves only the pieces it needs', async ({
  openProfile,
}) => {
  test.setTimeout(300_000);
  // This doorway keeps no copies: the item stays in the browser, every byte is a pull.
  const doorway = await startDoorwayProcess(['--store-quota', '0']);
  try {
    const big = await writeRandomFile(files.dir, 'big.bin', 200 * MiB);
    const a = await openApp((await openProfile()).context, doorway.url);
    await trustConnected(a);
    await addFiles(a, [big.path]);
    const hash = await hashOfItemNamed(a, 'big.bin');
    await expect(item(a, hash)).toBeVisible();
    const store = new URL(`/store/${hash}`, doorway.url).toString();

    // Announced once the trust layer lists A: the bridge finds it (HEAD pulls no piece).
    await expect
      .poll(async () => (await fetch(store, { method: 'HEAD' })).status, { timeout: 60_000 })
      .toBe(200);
    const before = (await health(doorway.url)).bridge.pulled_bytes;
    const start = 100 * MiB + 12_345;
    const end = start + MiB;
    const ranged = await get(store, { Range: `bytes=${start}-${end - 1}` });
    expect(ranged.status).toBe(206);
    expect(ranged.headers.get('Content-Range')).toBe(`bytes ${start}-${end - 1}/${big.size}`);
    expect(ranged.headers.get('ETag')).toBe(`"${hash}"`);
    expect(ranged.headers.get('Cache-Control')).toBe('public, max-age=31536000, immutable');
    expect(ranged.body.equals(await slice(big.path, start, end))).toBe(true);
    const pulled = (await health(doorway.url)).bridge.pulled_bytes - before;
    // The pieces the range touches (and some read-ahead), nowhere near the 200 MiB.
    expect(pulled).toBeGreaterThanOrEqual(MiB);
    expect(pulled).toBeLessThan(16 * MiB);

    // The last bytes (a suffix range), then the same range again: its ETag answers 304.
    const tail = await get(store, { Range: 'bytes=-1000' });
    expect(tail.status).toBe(206);
    expect(tail.body.equals(await slice(big.path, big.size - 1000, big.size))).toBe(true);
    const unchanged = await fetch(store, { headers: { 'If-None-Match': `"${hash}"` } });
    expect(unchanged.status).toBe(304);
    const beyond = await fetch(store, { headers: { Range: `bytes=${big.size}-` } });
    expect(beyond.status).toBe(416);
  } finally {
    await doorway.stop();
  }
});

test('a lying holder never gets a wrong byte to the web client', async () => {
  test.setTimeout(120_000);
  const doorway = await startDoorwayProcess(['--store-quota', '0']);
  const size = 3 * MiB;
  try {
    const liar = await startNodeHolder(doorway.url, { size, seed: 99, lie: true });
    try {
      const [hash] = liar.hashes;
      const truth = Buffer.from(pseudoRandomBytes(size, 99));
      expect(`sha256-${createHash('sha256').update(truth).digest('hex')}`).toBe(hash);

      const got = await get(new URL(`/store/${hash}`, doorway.url).toString());
      // Refused outright (502: every holder lied) or cut: never a wrong byte, never all of it.
      expect(got.status === 502 || got.broken).toBe(true);
      expect(got.body.length).toBeLessThan(size);
      if (got.status !== 502) {
        expect(got.body.equals(truth.subarray(0, got.body.length))).toBe(true);
      }
      expect((await health(doorway.url)).store.cache.items).toBe(0);
    } finally {
      await liar.stop();
    }
  } finally {
    await doorway.stop();
  }
});

test('private, invited and family items get 404 and zero bytes at /store', async ({
  doorway,
  openProfile,
}) => {
  test.setTimeout(300_000);
  const people = await threePeople(doorway, openProfile);
  const { a } = people;
  const { bAgent } = await familyOfTwo(people);
  const hashes: string[] = [];
  for (const reach of ['private', 'invited', 'local'] as const) {
    const file = await writeRandomFile(files.dir, `${reach}.bin`, 200_000);
    await a.getByTestId('ingest-reach').selectOption(reach);
    if (reach === 'invited') {
      await a.locator(`[data-testid="invite-contact"][value="${bAgent}"]`).check();
    }
    await addFiles(a, [file.path]);
    hashes.push(await hashOfItemNamed(a, file.name));
  }
  const before = await health(doorway.url);
  for (const hash of hashes) {
    const started = Date.now();
    const got = await get(new URL(`/store/${hash}`, doorway.url).toString());
    expect(got.status, hash).toBe(404);
    expect(got.headers.get('Content-Type')).toMatch(/application\/json/);
    expect(JSON.parse(got.body.toString())).toHaveProperty('error');
    // Within a few seconds, not a minute.
    expect(Date.now() - started).toBeLessThan(15_000);
  }
  // A hash nobody holds: 404 as quickly; a malformed one: 400 at once.
  const unknown = Date.now();
  const nobody = await get(new URL(`/store/${'ab'.repeat(32)}`, doorway.url).toString());
  expect(nobody.status).toBe(404);
  expect(Date.now() - unknown).toBeLessThan(15_000);
  expect((await get(new URL('/store/sha256-xyz', doorway.url).toString())).status).toBe(400);
  const after = await health(doorway.url);
  expect(after.bridge.pulled_bytes).toBe(before.bridge.pulled_bytes);
  expect(after.store.cache.items).toBe(before.store.cache.items);

  // The control: a commons item A holds comes through the same way, so the doorway did reach A.
  const open = await writeRandomFile(files.dir, 'commons.bin', 200_000);
  await a.getByTestId('ingest-reach').selectOption('commons');
  await addFiles(a, [open.path]);
  const openHash = await hashOfItemNamed(a, open.name);
  const store = new URL(`/store/${openHash}`, doorway.url).toString();
  await expect.poll(async () => (await get(store)).status, { timeout: 60_000 }).toBe(200);
  const whole = await get(store);
  expect(`sha256-${createHash('sha256').update(whole.body).digest('hex')}`).toBe(open.hash);
});

test('behind a hard NAT (no WebRTC path to the holder) a share link still fetches, through the doorway', async ({
  openProfile,
}) => {
  test.setTimeout(240_000);
  // Keeps nothing: the item can only come from A, pulled by the doorway over A's connection.
  const doorway = await startDoorwayProcess(['--store-quota', '0']);
  try {
    const file = await writeRandomFile(files.dir, 'nat.bin', 2 * MiB);
    const a = await openApp((await openProfile()).context, doorway.url);
    await trustConnected(a);
    await addFiles(a, [file.path]);
    const hash = await hashOfItemNamed(a, 'nat.bin');
    const link = await shareLinkOf(a, hash);
    const aId = await peerIdOf(a);

    // B's WebRTC may use relayed candidates only, and there is no TURN server: no direct path.
    const bContext = (await openProfile()).context;
    await bContext.addInitScript(() => {
      const Native = window.RTCPeerConnection;
      window.RTCPeerConnection = class extends Native {
        constructor(config?: RTCConfiguration) {
          super({ ...config, iceTransportPolicy: 'relay' });
        }
      };
    });
    const b = await openApp(bContext, doorway.url);
    await fetchByLink(b, link);
    const got = await getContent(b, hash);
    expect(got.status).toBe(200);
    expect(got.sha).toBe(file.hash);
    await expect(peerEntry(b, aId)).not.toHaveAttribute('data-direct', 'true');
  } finally {
    await doorway.stop();
  }
});
