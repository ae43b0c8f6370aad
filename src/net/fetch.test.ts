import 'fake-indexeddb/auto';
import { createHash } from 'node:crypto';
import type { Libp2p, PeerId } from '@libp2p/interface';
import { afterEach, describe, expect, it } from 'vitest';
import type { ContentStore, StoredManifest } from '../content/index.ts';
import { openTestStore } from '../test-support/content-store.ts';
import { loopbackNode, testBytes } from '../test-support/libp2p.ts';
import { AllHoldersFailedError } from './errors.ts';
import {
  type FetchNode,
  type FetchOptions,
  type FetchPeerProgress,
  fetchContent,
  type HolderFinder,
} from './fetch.ts';
import { connectedPeersFinder } from './finders.ts';
import { watchPeersGone } from './node.ts';
import {
  fetchHolding,
  registerShardProtocol,
  ShardNotFoundError,
  shardHave,
} from './shard/index.ts';
import { ContentStreamer, type ContentStreamerOptions } from './stream-fetch.ts';

const KiB = 1024;
const PIECE = 4 * KiB;
/** rs-4-7 (above 256 KiB), shards of 17 pieces. */
const SIZE = 4 * 16 * PIECE + 4 * 1000 + 3 + 256 * KiB;
const sha = (b: Uint8Array) => `sha256-${createHash('sha256').update(b).digest('hex')}`;

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function newStore(): Promise<ContentStore> {
  const store = await openTestStore('fetch-test', { pieceSize: PIECE });
  cleanups.push(() => store.close());
  return store;
}

interface Holder {
  node: Libp2p;
  store: ContentStore;
  shard: number;
  /** Pieces this holder served. */
  served: () => number;
}

/** A node keeping one shard of `m` (copied from `src`), serving the shard protocols. */
async function holder(
  src: ContentStore,
  m: StoredManifest,
  shard: number,
  onServe?: (served: number, node: Libp2p, shard: number, piece: number) => void | Promise<void>,
  /** What it sends instead of a piece (a lying holder); the stored bytes by default. */
  tamper?: (shard: number, piece: number, bytes: Uint8Array) => Uint8Array,
): Promise<Holder> {
  const store = await newStore();
  const { storage_key: _k, ...manifest } = m;
  const session = await store.beginShardImport(manifest, [shard]);
  for (const { piece } of session.needed) {
    await session.writePiece(shard, piece, await src.readPiece(m.blob_hash, shard, piece));
  }
  await session.commit();
  const node = await loopbackNode();
  let served = 0;
  // Count (and maybe interrupt) what it serves, at the store seam the server reads through.
  const counting = new Proxy(store, {
    get(target, property) {
      if (property === 'readPiece') {
        return async (hash: string, s: number, p: number) => {
          served++;
          await onServe?.(served, node, s, p);
          const bytes = await target.readPiece(hash, s, p);
          return tamper ? tamper(s, p, bytes) : bytes;
        };
      }
      const value = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  const server = await registerShardProtocol(node, counting, { timeoutMs: 5_000 });
  cleanups.push(async () => {
    await server.stop().catch(() => {});
    await node.stop();
  });
  return { node, store, shard, served: () => served };
}

const listed = (peers: Libp2p[]): HolderFinder => ({
  findHolders: async () => peers.map((p) => p.peerId as PeerId),
});

/** A node that knows `peers`, its own store, and `fetchBlob`: fetchContent from them, all direct. */
async function fetcher(peers: Libp2p[]) {
  const node = await loopbackNode(false);
  for (const p of peers) await node.peerStore.merge(p.peerId, { multiaddrs: p.getMultiaddrs() });
  cleanups.push(() => node.stop());
  const store = await newStore();
  const fetchNode: FetchNode = {
    libp2p: node,
    isDirectPeer: () => true,
    onPeerGone: (listener, signal) => watchPeersGone(node, listener, signal),
  };
  const fetchBlob = (hash: string, options: FetchOptions) =>
    fetchContent(fetchNode, store, listed(peers), hash, options);
  return { node, store, fetchBlob };
}

/** The hash of the bytes `store` holds for `hash`. */
const storedSha = async (store: ContentStore, hash: string) =>
  sha(new Uint8Array(await (await store.getBlob(hash)).arrayBuffer()));

async function spread(shards: number[], onServe?: Parameters<typeof holder>[3]) {
  const src = await newStore();
  const data = testBytes(SIZE, 9);
  const m = await src.put(data, { name: 'spread.bin' });
  expect(m.encoding).toBe('rs-4-7');
  const holders = await Promise.all(shards.map((s) => holder(src, m, s, onServe)));
  return { data, m, holders };
}

describe('fetching an rs-4-7 blob whose shards are spread over peers', () => {
  it('holders answer Holds with their shards, Have/Get for their shard hash only', async () => {
    const { m, holders } = await spread([2]);
    const [h] = holders as [Holder];
    const { node } = await fetcher([h.node]);
    expect(await fetchHolding(node, h.node.peerId, m.blob_hash)).toEqual([2]);
    expect(await shardHave(node, h.node.peerId, m.shard_hashes[2] as string)).toBe(true);
    expect(await shardHave(node, h.node.peerId, m.shard_hashes[3] as string)).toBe(false);
    // It keeps a shard, not the blob: Rust peers asking for the blob hear no.
    expect(await shardHave(node, h.node.peerId, m.blob_hash)).toBe(false);
    const other = sha(new Uint8Array([1]));
    await expect(fetchHolding(node, h.node.peerId, other)).rejects.toBeInstanceOf(
      ShardNotFoundError,
    );
    // The connected-peers finder sees shard holders too.
    const found = await connectedPeersFinder(() => [h.node.peerId.toString()], node).findHolders(
      m.blob_hash,
      { signal: AbortSignal.timeout(5_000) },
    );
    expect(found.map(String)).toEqual([h.node.peerId.toString()]);
  });

  it('a holder whose connection is cut mid-transfer is asked again on a new one', async () => {
    // Four holders, one shard each: no other shard can stand in, so shard 0 must come from
    // its holder even after libp2p closed the connection its stream ran on (as it does with
    // one of two connections two browsers opened to each other at once).
    let fetcherId: PeerId | undefined;
    let cut = false;
    const { data, m, holders } = await spread([0, 1, 2, 3], (served, node) => {
      if (cut || served !== 5 || node !== holders[0]?.node || !fetcherId) return;
      cut = true;
      for (const c of node.getConnections(fetcherId)) c.abort(new Error('connection replaced'));
    });
    const { node, store, fetchBlob } = await fetcher(holders.map((h) => h.node));
    fetcherId = node.peerId;
    const dropped: string[] = [];
    const got = await fetchBlob(m.blob_hash, {
      timeoutMs: 5_000,
      onProgress: (p) =>
        dropped.push(...p.peers.filter((x) => x.state === 'dropped').map((x) => x.peerId)),
    });
    expect(cut).toBe(true);
    expect(dropped).toEqual([]);
    expect(got.blob_hash).toBe(m.blob_hash);
    expect(await storedSha(store, m.blob_hash)).toBe(sha(data));
  });

  it('7 holders with 3 of them gone: the other 4 rebuild it, verified', async () => {
    const { data, m, holders } = await spread([0, 1, 2, 3, 4, 5, 6]);
    // Data shards 0, 2 and 3 are gone: two of the four must come from parity.
    for (const h of [holders[0], holders[2], holders[3]] as Holder[]) await h.node.stop();
    const { store, fetchBlob } = await fetcher(holders.map((h) => h.node));
    const live = [holders[1], holders[4], holders[5], holders[6]] as Holder[];
    const got = await fetchBlob(m.blob_hash, { timeoutMs: 3_000 });
    expect(got.blob_hash).toBe(m.blob_hash);
    expect(await storedSha(store, m.blob_hash)).toBe(sha(data));
    const perShard = (m.piece_hashes[0] as string[]).length;
    for (const h of live) expect(h.served()).toBe(perShard);
    expect((await store.repair(m.blob_hash)).repaired).toEqual([]);
  });

  it('a holder vanishing mid-transfer: its shard is replaced by one a live holder has', async () => {
    let victim: Libp2p | undefined;
    const { data, m, holders } = await spread([0, 1, 2, 3, 5], (served, node) => {
      if (node === victim && served === 3) void node.stop();
    });
    victim = (holders[0] as Holder).node;
    const { store, fetchBlob } = await fetcher(holders.map((h) => h.node));
    const got = await fetchBlob(m.blob_hash, { timeoutMs: 3_000, piecesPerRequest: 2 });
    expect(await storedSha(store, got.blob_hash)).toBe(sha(data));
    expect((holders[4] as Holder).served()).toBeGreaterThan(0); // shard 5 stood in for shard 0
  });

  it('a holder with nothing left to send that goes offline shows as gone, not as waiting', async () => {
    // Shard 0's last piece waits on both its holders until released, so the fetch stays in
    // its end-game while the holder of shard 1, done with its shard, has nothing to do.
    let release!: () => void;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    let lastPiece = -1;
    const { data, m, holders } = await spread([0, 0, 1, 2, 3], (_served, _node, shard, piece) =>
      shard === 0 && piece === lastPiece ? released : undefined,
    );
    lastPiece = (m.piece_hashes[0]?.length ?? 0) - 1;
    const done = holders[2] as Holder;
    const { store, fetchBlob } = await fetcher(holders.map((h) => h.node));
    let states: FetchPeerProgress['state'][] = [];
    const fetching = fetchBlob(m.blob_hash, {
      piecesPerRequest: 2,
      onProgress: (p) => {
        const state = p.peers.find((x) => x.peerId === done.node.peerId.toString())?.state;
        if (state && state !== states.at(-1)) states = [...states, state];
      },
    });
    await expect.poll(() => done.served(), { timeout: 10_000 }).toBe(m.piece_hashes[1]?.length);
    await expect.poll(() => states.at(-1), { timeout: 10_000 }).toBe('idle');
    await done.node.stop();
    await expect.poll(() => states.at(-1), { timeout: 10_000 }).toBe('dropped');
    release();
    const got = await fetching;
    expect(await storedSha(store, got.blob_hash)).toBe(sha(data));
  });

  it('a holder sending a wrong piece is dropped for this fetch; the blob comes verified', async () => {
    const src = await newStore();
    const data = testBytes(SIZE, 12);
    const m = await src.put(data, { name: 'lied.bin' });
    const liar = await holder(src, m, 0, undefined, (shard, piece, bytes) => {
      if (shard !== 0 || piece !== 1) return bytes;
      const wrong = bytes.slice();
      wrong[0] = (wrong[0] ?? 0) ^ 0xff;
      return wrong;
    });
    const honest = await Promise.all([1, 2, 3, 4].map((s) => holder(src, m, s)));
    const { store, fetchBlob } = await fetcher([liar, ...honest].map((h) => h.node));
    const dropped: string[] = [];
    const got = await fetchBlob(m.blob_hash, {
      timeoutMs: 3_000,
      onProgress: (p) => {
        for (const peer of p.peers) {
          if (peer.state === 'dropped' && peer.reason) dropped.push(peer.reason);
        }
      },
    });
    expect(await storedSha(store, got.blob_hash)).toBe(sha(data));
    // Named as the holder's fault, with the piece (its hash is checked once, as it is written).
    expect(dropped.some((r) => /sent bad data for .* shard 0 piece 1/.test(r))).toBe(true);
    expect((await store.repair(m.blob_hash)).repaired).toEqual([]);
  });

  it('holders at hand with too few shards: it waits for the slower search before giving up', async () => {
    const { data, m, holders } = await spread([1, 4, 5, 6]);
    const [first] = holders as [Holder];
    const { node, store } = await fetcher(holders.map((h) => h.node));
    // The quick search names one holder; only a search that waits (as the trust layer's
    // dials are waited for when the caller names the holders it has) finds the rest.
    const asked: (string[] | undefined)[] = [];
    const finder: HolderFinder = {
      findHolders: async (_hash, { known }) => {
        asked.push(known && [...known]);
        return (known ? holders : [first]).map((h) => h.node.peerId as PeerId);
      },
    };
    const got = await fetchContent(
      { libp2p: node, isDirectPeer: () => true },
      store,
      finder,
      m.blob_hash,
      {
        timeoutMs: 3_000,
      },
    );
    expect(await storedSha(store, got.blob_hash)).toBe(sha(data));
    expect(asked).toContainEqual([first.node.peerId.toString()]);
  });

  it('only 3 shards online: fails with AllHoldersFailedError, and keeps nothing', async () => {
    const { m, holders } = await spread([1, 4, 6]);
    const { store, fetchBlob } = await fetcher(holders.map((h) => h.node));
    const error = await fetchBlob(m.blob_hash, { timeoutMs: 3_000 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AllHoldersFailedError);
    // Nobody failed: the holders had too little, and the message says so (not "failed ()").
    expect((error as Error).message).toMatch(/hold only part of .*too little to rebuild it/);
    expect(await store.has(m.blob_hash)).toBe(false);
    expect((await store.stats()).pendingPuts).toBe(0);
  });
});

/** A `ContentStreamer` over `fetcher`'s store, pulling from holders of `shards` of a spread blob. */
async function streaming(
  shards: number[],
  options: ContentStreamerOptions = {},
  onServe?: Parameters<typeof holder>[3],
) {
  const { data, m, holders } = await spread(shards, onServe);
  const { node, store } = await fetcher(holders.map((h) => h.node));
  // Counts what the streamer asks of the store, by method.
  const lookups = new Map<string, number>();
  const counted = new Proxy(store, {
    get(target, property) {
      const value = Reflect.get(target, property, target);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        lookups.set(String(property), (lookups.get(String(property)) ?? 0) + 1);
        return value.apply(target, args);
      };
    },
  });
  const streamer = new ContentStreamer(
    { libp2p: node, isDirectPeer: () => true },
    counted,
    listed(holders.map((h) => h.node)),
    { timeoutMs: 3_000, ...options },
  );
  cleanups.push(() => streamer.close());
  return { data, m, holders, store, streamer, lookups };
}

describe('streaming an rs-4-7 blob whose shards are spread over peers', () => {
  it('a range in a shard nobody has is rebuilt from the stripe; the import completes', async () => {
    const { data, m, store, streamer } = await streaming([1, 3, 4, 6]);
    const opened = await streamer.open(m.blob_hash);
    // Bytes of data shard 0 (nobody has it), from its third piece on, then into shard 1.
    const start = 2 * PIECE + 17;
    const end = m.shard_size + 3 * PIECE;
    const stream = store.readPartial(opened, {
      start,
      end,
      ensure: (pieces, signal) => streamer.ensure(m.blob_hash, pieces, { signal }),
    });
    const got = new Uint8Array(await new Response(stream).arrayBuffer());
    expect(sha(got)).toBe(sha(data.subarray(start, end)));
    // A read of the whole of it completes the import: the blob joins the store, verified.
    const all = store.readPartial(opened, {
      ensure: (pieces, signal) => streamer.ensure(m.blob_hash, pieces, { signal }),
    });
    expect(sha(new Uint8Array(await new Response(all).arrayBuffer()))).toBe(sha(data));
    await expect.poll(() => store.has(m.blob_hash), { timeout: 10_000 }).toBe(true);
  });

  it('accept sees the manifest first: a refused item is asked no piece and leaves nothing', async () => {
    const seen: string[] = [];
    const refusal = new Error('not for this streamer');
    const { m, holders, store, streamer } = await streaming([0, 1, 2, 3], {
      accept: (manifest) => {
        seen.push(manifest.blob_hash);
        throw refusal;
      },
    });
    await expect(streamer.open(m.blob_hash)).rejects.toBe(refusal);
    expect(seen).toEqual([m.blob_hash]);
    expect(holders.map((h) => h.served())).toEqual([0, 0, 0, 0]);
    expect((await store.stats()).pendingPuts).toBe(0);
    expect(await streamer.stats(m.blob_hash)).toBeUndefined();
  });

  it('discard ends one stream and removes what it wrote', async () => {
    const { m, store, streamer } = await streaming([0, 1, 2, 3]);
    await streamer.open(m.blob_hash);
    await streamer.ensure(m.blob_hash, [{ shard: 0, piece: 0 }]);
    expect((await streamer.stats(m.blob_hash))?.bytesFetched).toBe(PIECE);
    expect((await store.stats()).pendingPuts).toBe(1);
    streamer.discard(m.blob_hash);
    expect(await streamer.stats(m.blob_hash)).toBeUndefined();
    await expect.poll(async () => (await store.stats()).pendingPuts).toBe(0);
    await expect(streamer.ensure(m.blob_hash, [{ shard: 0, piece: 1 }])).rejects.toThrow(
      /open it first/,
    );
  });

  it('a range that goes away stops what only it waited for; shared pieces still come', async () => {
    // Holders answer only once the gate opens: the fetches are in flight when ranges go away.
    let open!: () => void;
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    let asked = 0;
    const { data, m, store, streamer } = await streaming([0, 1, 2, 3], {}, async () => {
      asked++;
      await gate;
    });
    const opened = await streamer.open(m.blob_hash);
    const first = [{ shard: 0, piece: 0 }];
    const shared = [{ shard: 1, piece: 0 }];

    // Alone on its pieces: aborting it stops that fetch, so asking again fetches anew.
    const leaving = new AbortController();
    const left = streamer.ensure(m.blob_hash, first, { signal: leaving.signal });
    await expect.poll(() => asked).toBe(1);
    leaving.abort(new Error('seeked away'));
    await expect(left).rejects.toThrow('seeked away');
    const again = streamer.ensure(m.blob_hash, first);
    await expect.poll(() => asked).toBe(2);

    // Two ranges on the same piece: one leaving does not stop it for the other.
    const quitter = new AbortController();
    const quits = streamer.ensure(m.blob_hash, shared, { signal: quitter.signal });
    const stays = streamer.ensure(m.blob_hash, shared);
    await expect.poll(() => asked).toBe(3);
    quitter.abort(new Error('seeked away'));
    await expect(quits).rejects.toThrow('seeked away');

    open();
    await again;
    await stays;
    expect(asked).toBe(3);
    const read = store.readPartial(opened, {
      start: 0,
      end: 10,
      ensure: (pieces, signal) => streamer.ensure(m.blob_hash, pieces, { signal }),
    });
    expect(new Uint8Array(await new Response(read).arrayBuffer())).toEqual(data.subarray(0, 10));
  });

  it("a range's first piece is not queued behind another range's read-ahead", async () => {
    // Holder 0 (shard 0) serves the read-ahead's first piece only once the gate opens.
    let open!: () => void;
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    let holder0: Libp2p | undefined;
    let servedBy0 = 0;
    const { data, m, holders, store, streamer } = await streaming(
      [0, 1, 2, 3],
      {},
      async (_served, node) => {
        if (node !== holder0) return;
        servedBy0++;
        if (servedBy0 === 1) await gate;
      },
    );
    holder0 = (holders[0] as Holder).node;
    const opened = await streamer.open(m.blob_hash);
    const readAhead = Array.from({ length: 8 }, (_, i) => ({ shard: 0, piece: 2 + i }));
    let readAheadDone = false;
    const ahead = streamer.ensure(m.blob_hash, readAhead).then(() => {
      readAheadDone = true;
    });
    await expect.poll(() => servedBy0).toBe(1);
    // A seek elsewhere in the same shard, from the same holder: it arrives at once.
    await streamer.ensure(m.blob_hash, [{ shard: 0, piece: 14 }]);
    expect(readAheadDone).toBe(false);
    const at = 14 * PIECE;
    const read = store.readPartial(opened, {
      start: at,
      end: at + PIECE,
      ensure: (pieces, signal) => streamer.ensure(m.blob_hash, pieces, { signal }),
    });
    expect(new Uint8Array(await new Response(read).arrayBuffer())).toEqual(
      data.subarray(at, at + PIECE),
    );
    open();
    await ahead;
  });

  it('a second range of an open stream asks the store for neither manifest nor blob', async () => {
    const { m, streamer, lookups } = await streaming([0, 1, 2, 3]);
    await streamer.open(m.blob_hash);
    await streamer.ensure(m.blob_hash, [{ shard: 0, piece: 0 }]);
    const before = { manifest: lookups.get('manifest'), has: lookups.get('has') };
    await streamer.open(m.blob_hash);
    await streamer.ensure(m.blob_hash, [{ shard: 1, piece: 3 }]);
    expect({ manifest: lookups.get('manifest'), has: lookups.get('has') }).toEqual(before);
  });
});
