import 'fake-indexeddb/auto';
import { createHash } from 'node:crypto';
import type { Libp2p, PeerId } from '@libp2p/interface';
import { afterEach, describe, expect, it } from 'vitest';
import type { ContentStore, ImportSession } from '../content/index.ts';
import { openTestStore } from '../test-support/content-store.ts';
import { loopbackNode, testBytes } from '../test-support/libp2p.ts';
import { type FetchPeerProgress, fetchContent } from './fetch.ts';
import {
  createPacer,
  type PacerClock,
  PIECES_PROTOCOL,
  registerShardProtocol,
} from './shard/index.ts';

const KiB = 1024;
const PIECE = 4 * KiB;
/** rs-4-7, 4 data shards of 32+ pieces: many requests, so every holder gets some. */
const SIZE = 4 * 32 * PIECE + 4 * 1000 + 3 + 256 * KiB;
const sha = (b: Uint8Array) => `sha256-${createHash('sha256').update(b).digest('hex')}`;

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function newStore(): Promise<ContentStore> {
  const store = await openTestStore('endgame-test', { pieceSize: PIECE });
  cleanups.push(() => store.close());
  return store;
}

/** A node holding all of `data`, each piece it reads first passing `beforeServe`. */
async function holder(
  data: Uint8Array,
  beforeServe: (served: number) => void | Promise<void> = () => {},
  uploadBytesPerSecond?: number,
) {
  const store = await newStore();
  const m = await store.put(data);
  const node = await loopbackNode();
  let served = 0;
  const gated = new Proxy(store, {
    get(target, property) {
      if (property === 'readPiece') {
        return async (hash: string, s: number, p: number) => {
          await beforeServe(++served);
          return target.readPiece(hash, s, p);
        };
      }
      const value = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  const server = await registerShardProtocol(node, gated, {
    timeoutMs: 30_000,
    uploadBytesPerSecond,
  });
  cleanups.push(async () => {
    await server.stop().catch(() => {});
    await node.stop();
  });
  return { node, m, served: () => served };
}

/** A fetcher whose imports count every `writePiece` per piece. */
async function fetcher(peers: Libp2p[], options: { rejoinAfterMs?: number } = {}) {
  const node = await loopbackNode(false);
  for (const p of peers) await node.peerStore.merge(p.peerId, { multiaddrs: p.getMultiaddrs() });
  cleanups.push(() => node.stop());
  const store = await newStore();
  const writes = new Map<string, number>();
  const counting = new Proxy(store, {
    get(target, property) {
      if (property === 'beginImport') {
        return async (...args: Parameters<ContentStore['beginImport']>) => {
          const session = await target.beginImport(...args);
          const write = session.writePiece.bind(session);
          (session as ImportSession).writePiece = (shard, piece, bytes) => {
            const key = `${shard}/${piece}`;
            writes.set(key, (writes.get(key) ?? 0) + 1);
            return write(shard, piece, bytes);
          };
          return session;
        };
      }
      const value = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  const peersSeen = new Map<string, FetchPeerProgress['state'][]>();
  const fetchBlob = (hash: string) =>
    fetchContent(
      { libp2p: node, isDirectPeer: () => true },
      counting,
      { findHolders: async () => peers.map((p) => p.peerId as PeerId) },
      hash,
      {
        // Far beyond the test's timeout: only the end-game can finish while a holder stalls.
        timeoutMs: 120_000,
        ...options,
        onProgress: (p) => {
          for (const peer of p.peers) {
            const states = peersSeen.get(peer.peerId) ?? [];
            if (states.at(-1) !== peer.state) states.push(peer.state);
            peersSeen.set(peer.peerId, states);
          }
        },
      },
    );
  return { node, store, writes, peersSeen, fetchBlob };
}

describe('end-game: duplicates of the last pieces', () => {
  it('finishes a fetch whose one holder stalls forever, cancels the stalled request, writes each piece once', async () => {
    const data = testBytes(SIZE, 5);
    // The stalling holder sends its first piece, then never another (a gate that never
    // opens). The healthy ones wait until it has stalled, so it surely holds a request.
    let stalled!: () => void;
    const hasStalled = new Promise<void>((resolve) => {
      stalled = resolve;
    });
    const never = new Promise<void>(() => {});
    const stalling = await holder(data, (served) => {
      if (served === 1) return;
      stalled();
      return never;
    });
    const a = await holder(data, () => hasStalled);
    const b = await holder(data, () => hasStalled);
    const { node, store, writes, peersSeen, fetchBlob } = await fetcher([
      stalling.node,
      a.node,
      b.node,
    ]);
    const m = stalling.m;
    const got = await fetchBlob(m.blob_hash);
    expect(got.blob_hash).toBe(m.blob_hash);
    const bytes = new Uint8Array(await (await store.getBlob(m.blob_hash)).arrayBuffer());
    expect(sha(bytes)).toBe(sha(data));
    // Every piece written once: duplicates' copies are dropped before writePiece.
    expect(writes.size).toBeGreaterThan(0);
    for (const [key, count] of writes) expect(count, key).toBe(1);
    // The stalled holder was not dropped (it sent nothing bad), and its request is gone:
    // no piece stream to it is left open.
    expect(peersSeen.get(stalling.node.peerId.toString())).not.toContain('dropped');
    const open = node
      .getConnections(stalling.node.peerId)
      .flatMap((c) => c.streams)
      .filter((s) => s.protocol === PIECES_PROTOCOL && s.status === 'open');
    expect(open).toEqual([]);
    // Asked past its first piece (maybe again, for a duplicate), it never sent a second.
    expect(stalling.served()).toBeGreaterThanOrEqual(2);
  }, 30_000);
});

describe('holders that could not be reached', () => {
  it('joins again a holder whose first try failed; never one that said it holds nothing', async () => {
    const data = testBytes(SIZE, 7);
    // B cannot be asked at first (no piece protocol yet); A sends nothing until B has sent a
    // piece, so the fetch can only finish if B is tried again.
    let bServed!: () => void;
    const fromB = new Promise<void>((resolve) => {
      bServed = resolve;
    });
    const a = await holder(data, () => fromB);
    const bStore = await newStore();
    await bStore.put(data);
    const b = await loopbackNode();
    cleanups.push(() => b.stop());
    // C answers: it holds nothing.
    const c = await holder(testBytes(1000, 8));
    const { store, peersSeen, fetchBlob } = await fetcher([a.node, b, c.node], {
      rejoinAfterMs: 0,
    });
    const bId = b.peerId.toString();
    let registered: Promise<unknown> | undefined;
    const watch = setInterval(() => {
      if (!registered && peersSeen.get(bId)?.includes('dropped')) {
        registered = registerShardProtocol(b, bStore, {
          timeoutMs: 30_000,
          onSent: () => bServed(),
        });
      }
    }, 10);
    try {
      const got = await fetchBlob(a.m.blob_hash);
      expect(got.blob_hash).toBe(a.m.blob_hash);
    } finally {
      clearInterval(watch);
    }
    const bytes = new Uint8Array(await (await store.getBlob(a.m.blob_hash)).arrayBuffer());
    expect(sha(bytes)).toBe(sha(data));
    // B: dropped, then back, and sending.
    expect(peersSeen.get(bId)?.slice(0, 3)).toEqual(['idle', 'dropped', 'idle']);
    expect(peersSeen.get(bId)).toContain('active');
    // C said it holds nothing: dropped once, for good.
    expect(peersSeen.get(c.node.peerId.toString())).toEqual(['idle', 'dropped']);
  }, 30_000);

  it('waits neither for the manifest nor at the end for a holder that never answers', async () => {
    const data = testBytes(SIZE, 9);
    const a = await holder(data);
    // A peer that takes the piece protocol's requests and never answers.
    const silent = await loopbackNode();
    await silent.handle(PIECES_PROTOCOL, () => {});
    cleanups.push(() => silent.stop());
    // The silent one is named first: the manifest is asked of A too a second later.
    const { store, fetchBlob } = await fetcher([silent, a.node]);
    // Its timeouts are 120 s: finishing within the test's 30 s means it was not waited for.
    await fetchBlob(a.m.blob_hash);
    expect(await store.has(a.m.blob_hash)).toBe(true);
  }, 30_000);
});

describe('the bench-only upload limit', () => {
  it('a token bucket lets out a burst, then the rate', async () => {
    let now = 0;
    const sleeps: number[] = [];
    const clock: PacerClock = {
      now: () => now,
      sleep: async (ms) => {
        sleeps.push(ms);
        now += ms;
      },
    };
    const pacer = createPacer(1000, { burstBytes: 500, clock });
    const signal = new AbortController().signal;
    await pacer.take(500, signal); // the burst: no wait
    expect(sleeps).toEqual([]);
    await pacer.take(250, signal); // in debt by 250 bytes at 1000 B/s: 250 ms
    expect(sleeps).toEqual([250]);
    now += 10_000; // idle: the bucket refills to the burst, no more
    await pacer.take(500, signal);
    await pacer.take(100, signal);
    expect(sleeps).toEqual([250, 100]);
    // Over any window the bytes out are at most burst + rate × time.
    const started = now;
    let sent = 0;
    for (let i = 0; i < 50; i++) {
      await pacer.take(300, signal);
      sent += 300;
    }
    expect(sent).toBeLessThanOrEqual(500 + ((now - started) / 1000) * 1000);
  });

  it('a wait ends when its signal aborts', async () => {
    const pacer = createPacer(1, { burstBytes: 1 });
    const ac = new AbortController();
    const waiting = pacer.take(1_000_000, ac.signal);
    ac.abort(new Error('gone'));
    await expect(waiting).rejects.toThrow('gone');
    expect(() => createPacer(0)).toThrow(RangeError);
  });

  it('a limited holder sends no faster than its limit', async () => {
    const data = testBytes(SIZE, 6);
    const rate = 400_000;
    const h = await holder(data, () => {}, rate);
    const { store, fetchBlob } = await fetcher([h.node]);
    const started = performance.now();
    await fetchBlob(h.m.blob_hash);
    const seconds = (performance.now() - started) / 1000;
    // The data shards' bytes at most a half-second burst ahead of the rate: a lower bound
    // that pacing guarantees, however fast the machine.
    const sent = SIZE;
    expect(seconds).toBeGreaterThanOrEqual((sent - rate / 2) / rate);
    expect(await store.has(h.m.blob_hash)).toBe(true);
  }, 30_000);
});
