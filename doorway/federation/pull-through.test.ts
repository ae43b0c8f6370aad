/**
 * Items only a browser holds, found from another doorway: two real doorways on 127.0.0.1
 * (A keeps nothing: `storeQuota: 0`; B links to A), Node peers standing in for browsers. The
 * browser attached to A tells A what it holds (`/elohim/holdings/1.0.0`); A provides it in the
 * DHT and pulls it through for B; private items are never named, provided nor served.
 */
import 'fake-indexeddb/auto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Connection } from '@libp2p/interface';
import { peerIdFromString } from '@libp2p/peer-id';
import { multiaddr } from '@multiformats/multiaddr';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type ContentHash, openFsContentStore } from '../../src/content/node.ts';
import {
  connectedPeersFinder,
  contentCid,
  encodeHoldings,
  fetchContent,
  fetchManifest,
  HOLDINGS_PROTOCOL,
  MAX_HASHES_PER_MESSAGE,
} from '../../src/net/index.ts';
import { type Peer, startNodePeer } from '../../src/peer/node.ts';
import { pseudoRandomBytes } from '../../src/test-support/bytes.ts';
import { encodeFrame, FrameReader, writeFrame } from '../../src/wire/index.ts';
import type { Doorway } from '../server.ts';
import { newClient, startTestDoorway, until } from '../test-support.ts';
import { parsePeerList } from './peer-list.ts';

const KiB = 1024;
const stops: (() => Promise<unknown>)[] = [];

async function tempDir(name: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `elohim-pull-${name}-`));
  stops.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

let names = 0;
/** A Node peer attached to `doorway` as a browser is: WebSockets, no DHT, small pieces. */
async function browserOf(doorway: Doorway): Promise<{ peer: Peer; stop: () => Promise<void> }> {
  const peer = await startNodePeer({
    dataDir: await tempDir(`peer${++names}`),
    listen: [],
    doorways: [doorway.url.slice(0, -1)],
    dialListedPeers: false,
    content: { chunkSize: 16 * KiB, pieceSize: 16 * KiB },
    copies: 0,
    trust: false,
  });
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= peer.stop().then(() => peer.store.close());
    return stopping;
  };
  stops.push(stop);
  await until('the peer to reach its doorway', () =>
    peer.node.connectedDoorways().length > 0 ? true : undefined,
  );
  return { peer, stop };
}

/** One holdings request over `connection`, and the doorway's answer (undefined: it cut the stream). */
async function tell(connection: Connection, frame: Uint8Array): Promise<Uint8Array | undefined> {
  const stream = await connection.newStream(HOLDINGS_PROTOCOL);
  const reader = new FrameReader(stream);
  try {
    await writeFrame(stream, frame);
    await stream.close();
    return await reader.read({ maxFrameBytes: 4096, timeoutMs: 5_000 });
  } catch {
    return undefined;
  } finally {
    reader.dispose();
  }
}

const hashOf = (i: number): ContentHash => `sha256-${i.toString(16).padStart(64, '0')}`;

describe('what browsers attached to a doorway hold', () => {
  let a: Doorway;
  let b: Doorway;
  let browser: Peer;
  let stopBrowser: () => Promise<void>;

  beforeAll(async () => {
    const start = async (overrides: Parameters<typeof startTestDoorway>[0]) => {
      const started = await startTestDoorway(overrides);
      stops.push(() => started.stop());
      return started.doorway;
    };
    a = await start({ storeQuota: 0 });
    b = await start({ peers: parsePeerList(a.url) });
    await until('B to link with A', () =>
      a.p2p.federation.directory.get(b.p2p.peerId)?.reachable ? true : undefined,
    );
    ({ peer: browser, stop: stopBrowser } = await browserOf(a));
  }, 30_000);

  /** A commons item the browser puts, once A has recorded that the browser holds it. */
  async function heldOnA(size: number, seed: number) {
    const item = await browser.store.put(new Blob([pseudoRandomBytes(size, seed)]), {
      reach: 'commons',
    });
    await until('A to record it', () =>
      a.p2p.federation.holdings.has(item.blob_hash) ? true : undefined,
    );
    return item;
  }

  afterAll(async () => {
    for (const stop of stops.splice(0).reverse()) await stop();
  });

  it('is provided by its doorway and fetched through the other one', async () => {
    const bytes = pseudoRandomBytes(100 * KiB, 31);
    const item = await browser.store.put(new Blob([bytes]), { reach: 'commons' });
    const hash = item.blob_hash;
    await until('A to record what the browser holds', () =>
      a.p2p.federation.holdings.holders(hash).includes(browser.node.peerId) ? true : undefined,
    );
    // A kept no copy: it answers from what the browser holds.
    expect(await a.p2p.peer.store.has(hash)).toBe(false);
    const aId = peerIdFromString(a.p2p.peerId);
    await until(
      "A's provider record to be found from B",
      async () => {
        for await (const event of b.p2p.node.services.dht.findProviders(contentCid(hash), {
          signal: AbortSignal.timeout(5_000),
        })) {
          if (event.name === 'PROVIDER' && event.providers.some((p) => p.id.equals(aId)))
            return true;
        }
        return undefined;
      },
      30_000,
    );

    // Over libp2p, as B's Peer asks a provider: A pulls it from the browser and serves it.
    const store = await openFsContentStore({ dir: await tempDir('fetched') });
    stops.push(async () => store.close());
    await fetchContent(b.p2p.peer.node, store, { findHolders: async () => [aId] }, hash);
    expect(new Uint8Array(await (await store.getBlob(hash)).arrayBuffer())).toEqual(bytes);

    // Over HTTP on B, which finds it through the DHT.
    const response = await fetch(new URL(`/store/${hash}`, b.url));
    expect(response.status).toBe(200);
    expect(new Uint8Array(await response.arrayBuffer())).toEqual(bytes);

    // A peer attached to B gets it too.
    const { peer: other } = await browserOf(b);
    const fetched = await other.fetch(hash, { signal: AbortSignal.timeout(20_000) });
    expect(fetched.blob_hash).toBe(hash);
    expect(new Uint8Array(await (await other.store.getBlob(hash)).arrayBuffer())).toEqual(bytes);
  }, 90_000);

  it('streams what is asked for: a range on the other doorway pulls its pieces, not the item', async () => {
    // 128 pieces of 16 KiB; a range at the end needs a few of them.
    const bytes = pseudoRandomBytes(2048 * KiB, 36);
    const item = await browser.store.put(new Blob([bytes]), { reach: 'commons' });
    const hash = item.blob_hash;
    await until('A to record it', () => (a.p2p.federation.holdings.has(hash) ? true : undefined));
    await until('A to be done providing', () =>
      a.p2p.federation.provider.busy === 0 ? true : undefined,
    );
    const reads = vi.spyOn(browser.store, 'readPiece');
    const response = await fetch(new URL(`/store/${hash}`, b.url), {
      headers: { Range: 'bytes=-20000' },
    });
    expect(response.status).toBe(206);
    expect(new Uint8Array(await response.arrayBuffer())).toEqual(bytes.subarray(-20000));
    const pulled = reads.mock.calls.filter(([h]) => h === hash).length;
    reads.mockRestore();
    expect(pulled).toBeGreaterThan(0);
    expect(pulled).toBeLessThan(32);
    // Neither doorway keeps it.
    expect(await a.p2p.peer.store.has(hash)).toBe(false);
    expect(await b.p2p.peer.store.has(hash)).toBe(false);
  }, 60_000);

  it('is pulled through for doorways only: a browser attached to it is told nothing', async () => {
    const item = await heldOnA(30 * KiB, 35);
    const { peer: other } = await browserOf(a);
    const aId = peerIdFromString(a.p2p.peerId);
    // A reads the holder's manifest before it provides: let that finish before counting.
    await until('A to be done providing', () =>
      a.p2p.federation.provider.busy === 0 ? true : undefined,
    );
    const manifestReads = vi.spyOn(browser.store, 'manifest');
    const readsOfItem = () => manifestReads.mock.calls.filter(([h]) => h === item.blob_hash).length;
    // As if it held nothing: the other browser should dial the holder, not load the doorway,
    // and asking costs the holder nothing (A does not ask it for the manifest).
    await expect(fetchManifest(other.node.libp2p, aId, item.blob_hash)).rejects.toThrow();
    const found = await connectedPeersFinder(() => [a.p2p.peerId], other.node.libp2p).findHolders(
      item.blob_hash,
      { signal: AbortSignal.timeout(10_000) },
    );
    expect(found).toEqual([]);
    expect(readsOfItem()).toBe(0);
    // Another doorway still gets the manifest, read from the holder.
    const m = await fetchManifest(b.p2p.peer.node.libp2p, aId, item.blob_hash);
    expect(m.blob_hash).toBe(item.blob_hash);
    expect(readsOfItem()).toBeGreaterThan(0);
    manifestReads.mockRestore();
  }, 60_000);

  it('never names, provides nor serves a private item', async () => {
    const provide = vi.spyOn(a.p2p.node.services.dht, 'provide');
    const secret = await browser.store.put(new Blob([pseudoRandomBytes(40 * KiB, 32)]), {
      reach: 'private',
    });
    const after = await browser.store.put(new Blob([pseudoRandomBytes(20 * KiB, 33)]), {
      reach: 'commons',
    });
    // Told in order: once the commons item put after it is recorded, the private one was skipped.
    await until('A to record the later commons item', () =>
      a.p2p.federation.holdings.has(after.blob_hash) ? true : undefined,
    );
    expect(a.p2p.federation.holdings.has(secret.blob_hash)).toBe(false);
    const cid = contentCid(secret.blob_hash).toString();
    expect(provide.mock.calls.some(([key]) => key.toString() === cid)).toBe(false);

    // A browser that names it anyway (or lies) gets nothing served: A checks the holder's manifest.
    const connection = browser.node.libp2p
      .getConnections()
      .find((c) => c.remotePeer.toString() === a.p2p.peerId) as Connection;
    expect(
      await tell(
        connection,
        encodeHoldings({ reset: false, added: [secret.blob_hash], removed: [] }),
      ),
    ).toBeDefined();
    expect(a.p2p.federation.holdings.has(secret.blob_hash)).toBe(true);
    // Not provided either: A asked the browser for its manifest first, and was refused.
    await until('A to be done providing', () =>
      a.p2p.federation.provider.busy === 0 ? true : undefined,
    );
    expect(provide.mock.calls.some(([key]) => key.toString() === cid)).toBe(false);
    provide.mockRestore();
    const readPiece = vi.spyOn(browser.store, 'readPiece');
    const asked = connectedPeersFinder(() => [a.p2p.peerId], b.p2p.node);
    expect(
      await asked.findHolders(secret.blob_hash, { signal: AbortSignal.timeout(10_000) }),
    ).toEqual([]);
    const response = await fetch(new URL(`/store/${secret.blob_hash}`, a.url));
    expect(response.status).toBe(404);
    expect(readPiece.mock.calls.filter(([h]) => h === secret.blob_hash)).toEqual([]);
    expect(await a.p2p.peer.store.has(secret.blob_hash)).toBe(false);
    readPiece.mockRestore();
  }, 30_000);

  it('refuses holdings from a doorway, an oversized message and too many hashes', async () => {
    const before = a.p2p.federation.holdings.size;
    // B is a doorway (it speaks the DHT): it provides for itself.
    const toA = b.p2p.node
      .getConnections()
      .find((c) => c.remotePeer.toString() === a.p2p.peerId) as Connection;
    const fromDoorway = await tell(
      toA,
      encodeHoldings({ reset: true, added: [hashOf(1)], removed: [] }),
    );
    expect(fromDoorway && new TextDecoder().decode(fromDoorway)).toContain('doorway');
    expect(a.p2p.federation.holdings.has(hashOf(1))).toBe(false);

    // A plain client dialled directly may speak, within the caps.
    const client = await newClient();
    stops.push(async () => client.stop());
    const connection = await client.dial(multiaddr(a.p2p.multiaddrs()[0] as string));
    expect(
      await tell(connection, encodeHoldings({ reset: true, added: [hashOf(2)], removed: [] })),
    ).toBeDefined();
    expect(a.p2p.federation.holdings.holders(hashOf(2))).toEqual([client.peerId.toString()]);

    // A length prefix over the cap: cut at once, before any body (none is ever sent here).
    const stream = await connection.newStream(HOLDINGS_PROTOCOL);
    const header = new Uint8Array(4);
    new DataView(header.buffer).setUint32(0, 10 * 1024 * 1024);
    const closed = new Promise<void>((resolve) =>
      stream.addEventListener('close', () => resolve()),
    );
    stream.send(header);
    await closed;

    // More hashes than one message may name: refused whole, before any is parsed.
    const many = Array.from({ length: MAX_HASHES_PER_MESSAGE + 1 }, (_, i) => hashOf(100 + i));
    expect(await tell(connection, encodeFrame({ Holdings: [false, many, []] }))).toBeUndefined();
    expect(a.p2p.federation.holdings.has(hashOf(100))).toBe(false);
    expect(a.p2p.federation.holdings.size).toBe(before + 1);

    // Too many requests in a row: refused with a reason once over the rate (60 per 10 s; the
    // bound on attempts only keeps a very slow machine from looping for ever).
    let refused: string | undefined;
    for (let i = 0; i < 500 && !refused?.includes('too many'); i++) {
      const answer = await tell(
        connection,
        encodeHoldings({ reset: false, added: [], removed: [] }),
      );
      refused = answer && new TextDecoder().decode(answer);
    }
    expect(refused).toContain('too many');

    // Gone: forgotten.
    await connection.close();
    await until('A to forget the client', () =>
      a.p2p.federation.holdings.has(hashOf(2)) ? undefined : true,
    );
  }, 30_000);

  it('forgets an item the browser removed', async () => {
    const item = await heldOnA(10 * KiB, 35);
    await browser.store.remove(item.blob_hash);
    await until('A to forget it', () =>
      a.p2p.federation.holdings.has(item.blob_hash) ? undefined : true,
    );
  }, 30_000);

  it('is told again after a reconnect', async () => {
    const item = await heldOnA(10 * KiB, 36);
    await a.p2p.node.hangUp(peerIdFromString(browser.node.peerId));
    // Forgotten with the connection, then named again (a reset) on the browser's next one.
    await until('A to forget the browser', () =>
      a.p2p.federation.holdings.countOf(browser.node.peerId) === 0 ? true : undefined,
    );
    await until(
      'the browser to reconnect and tell A again',
      () => (a.p2p.federation.holdings.has(item.blob_hash) ? true : undefined),
      20_000,
    );
  }, 30_000);

  it('stops serving and providing what a browser held once it leaves', async () => {
    const hash = (await heldOnA(30 * KiB, 34)).blob_hash;
    const asked = connectedPeersFinder(() => [a.p2p.peerId], b.p2p.node);
    expect(await asked.findHolders(hash, { signal: AbortSignal.timeout(10_000) })).toHaveLength(1);
    const cancel = vi.spyOn(a.p2p.node.services.dht, 'cancelReprovide');
    await stopBrowser();
    await until('A to forget the browser', () =>
      a.p2p.federation.holdings.has(hash) ? undefined : true,
    );
    expect(await asked.findHolders(hash, { signal: AbortSignal.timeout(10_000) })).toEqual([]);
    await until('A to stop republishing it', () =>
      cancel.mock.calls.some(([key]) => key.toString() === contentCid(hash).toString())
        ? true
        : undefined,
    );
    cancel.mockRestore();
  }, 30_000);
});
