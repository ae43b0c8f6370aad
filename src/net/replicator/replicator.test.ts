import 'fake-indexeddb/auto';
import { afterEach, describe, expect, it } from 'vitest';
import { type AgentKey, agentKeyOfPeer, type TrustView } from '../../reach/index.ts';
import { testBytes } from '../../test-support/libp2p.ts';
import { type ReplicaHealth, Replicator } from './index.ts';
import {
  atCleanUp,
  cleanUp,
  eventually,
  healthOf,
  KiB,
  type Network,
  network,
  type Peer,
  peer,
  start,
  TestNode,
  whenState,
} from './test-support.ts';

afterEach(cleanUp);

describe('Replicator', () => {
  it('offers what this device authored to `copies` direct peers; others’ items stay put', async () => {
    const net = await network(3);
    const [b, c, d] = net.others as [Peer, Peer, Peer];
    net.node.connect(b, c, d);
    const replicator = start(net, { copies: 2 });
    const events: ReplicaHealth[] = [];
    replicator.addEventListener('change', (e) => {
      const { health } = e.detail;
      if (health) events.push(health);
    });

    const data = testBytes(100 * KiB, 1);
    const mine = await net.a.store.put(data, { reach: 'commons', authorId: net.me });
    const theirs = await net.a.store.put(testBytes(5 * KiB, 2), {
      reach: 'commons',
      authorId: agentKeyOfPeer(b.node.peerId) as AgentKey,
    });

    const done = await whenState(replicator, mine.blob_hash, 'replicated');
    expect(done.wanted).toBe(2);
    expect(done.stored.sort()).toEqual([b, c].map((p) => p.node.peerId.toString()).sort());
    for (const p of [b, c]) {
      const blob = new Uint8Array(await (await p.store.getBlob(mine.blob_hash)).arrayBuffer());
      expect(Buffer.compare(blob, data)).toBe(0);
    }
    // Two copies asked for: the third peer was not needed.
    expect(d.offers()).toBe(0);
    expect(await d.store.has(mine.blob_hash)).toBe(false);
    expect(events.map((h) => h.state)).toContain('replicating');
    expect(events.at(-1)).toMatchObject({ state: 'replicated' });

    // An item authored elsewhere (here: fetched from b) is its author's to spread.
    expect(healthOf(replicator, theirs.blob_hash)).toBeUndefined();
    for (const p of [b, c, d]) expect(await p.store.has(theirs.blob_hash)).toBe(false);

    // Removed here: no longer tracked.
    await net.a.store.remove(mine.blob_hash);
    await eventually(() => !healthOf(replicator, mine.blob_hash), 'the removed item is untracked');
  });

  it("offers copies to the person's own devices first", async () => {
    const net = await network(3, [{}, {}, { mayHold: () => true }]);
    const [b, c, phone] = net.others as [Peer, Peer, Peer];
    // Connected in this order: the phone last.
    net.node.connect(b, c, phone);
    const trust: TrustView = {
      ...net.trust,
      myDevices: new Set([agentKeyOfPeer(phone.node.peerId) as AgentKey]),
    };
    const replicator = start(net, { copies: 1, trust: () => trust });
    const open = await net.a.store.put(testBytes(20 * KiB, 7), {
      reach: 'commons',
      authorId: net.me,
    });
    expect((await whenState(replicator, open.blob_hash, 'replicated')).stored).toEqual([
      phone.node.peerId.toString(),
    ]);
    for (const p of [b, c]) expect(p.offers()).toBe(0);
  });

  it('never offers a private item: it stays local, peers are sent nothing', async () => {
    const net = await network(2);
    const [b, c] = net.others as [Peer, Peer];
    net.node.connect(b, c);
    const replicator = start(net, { copies: 2 });

    const secret = await net.a.store.put(testBytes(40 * KiB, 3), {
      reach: 'private',
      authorId: net.me,
    });
    const open = await net.a.store.put(testBytes(20 * KiB, 4), {
      reach: 'commons',
      authorId: net.me,
    });
    await whenState(replicator, open.blob_hash, 'replicated');
    const local = await whenState(replicator, secret.blob_hash, 'local');
    expect(local.stored).toEqual([]);
    expect(local.reason).toMatch(/^private: no peer this device knows may hold it/);
    for (const p of [b, c]) {
      expect(p.offers()).toBe(1); // the commons item only
      expect(await p.store.has(secret.blob_hash)).toBe(false);
      expect((await p.store.stats()).pendingPuts).toBe(0);
    }
  });

  it('replicates items stored before it started, once a peer appears', async () => {
    const net = await network(1);
    const [b] = net.others as [Peer];
    const m = await net.a.store.put(testBytes(30 * KiB, 5), {
      reach: 'commons',
      authorId: net.me,
    });
    const replicator = start(net, { copies: 1 });
    const waiting = await whenState(replicator, m.blob_hash, 'waiting');
    expect(waiting.reason).toBe('no other peer is online');

    net.node.connect(b);
    const done = await whenState(replicator, m.blob_hash, 'replicated');
    expect(done.stored).toEqual([b.node.peerId.toString()]);
    expect(await b.store.has(m.blob_hash)).toBe(true);
  });

  it('retries a short round with backoff, gives up after its attempts, resumes for a new peer', async () => {
    let busyFor = 2;
    const net = await network(1, [{ willing: () => busyFor-- <= 0 }]);
    const [flaky] = net.others as [Peer];
    const retry = { firstMs: 20, maxMs: 40, attempts: 3 };

    // Declined twice, then taken: the timed retries get there without any new peer.
    net.node.connect(flaky);
    const replicator = start(net, { copies: 1, retry });
    const first = await net.a.store.put(testBytes(10 * KiB, 6), {
      reach: 'commons',
      authorId: net.me,
    });
    await whenState(replicator, first.blob_hash, 'replicated');
    expect(flaky.offers()).toBe(3);

    // A peer that always declines: 1 round + 3 retries, then the item waits for a new peer.
    const net2 = await network(2, [{ willing: () => false }]);
    const [refuser, later] = net2.others as [Peer, Peer];
    net2.node.connect(refuser);
    const r2 = start(net2, { copies: 1, retry });
    const m = await net2.a.store.put(testBytes(10 * KiB, 7), {
      reach: 'commons',
      authorId: net2.me,
    });
    await eventually(() => refuser.offers() === 4, 'four offers were declined');
    await new Promise((r) => setTimeout(r, 300));
    expect(refuser.offers()).toBe(4);
    const short = healthOf(r2, m.blob_hash);
    expect(short?.state).toBe('waiting');
    expect(short?.reason).toMatch(/declined: unwilling/);

    net2.node.connect(later);
    const done = await whenState(r2, m.blob_hash, 'replicated');
    expect(done.stored).toEqual([later.node.peerId.toString()]);
  });

  it('a copy its keeper let go of counts as lost; a keeper gone offline does not', async () => {
    const net = await network(3);
    const [b, c, d] = net.others as [Peer, Peer, Peer];
    net.node.connect(b, c);
    const replicator = start(net, { copies: 2, checkEveryMs: 200 });
    const m = await net.a.store.put(testBytes(20 * KiB, 8), { reach: 'commons', authorId: net.me });
    const done = await whenState(replicator, m.blob_hash, 'replicated');
    expect(done.lost ?? 0).toBe(0);

    // c goes offline: fewer copies reachable, but nothing was lost.
    await c.node.stop();
    net.node.disconnect(c);
    const offline = await eventually(() => {
      const h = healthOf(replicator, m.blob_hash);
      return h?.stored.length === 1 && h;
    }, 'the copy on the offline peer stops counting');
    expect(offline.lost ?? 0).toBe(0);

    // b lets go of its copy and answers so: that one is lost, until b takes a copy again.
    const seen: ReplicaHealth[] = [];
    replicator.addEventListener('change', (e) => e.detail.health && seen.push(e.detail.health));
    net.node.disconnect(b); // so that the next check finds the loss before offering again
    await b.store.remove(m.blob_hash);
    net.node.connect(b);
    const remade = await eventually(() => {
      const h = healthOf(replicator, m.blob_hash);
      return seen.some((x) => x.lost === 1) && h?.lost === 0 && h.stored.length === 1 && h;
    }, 'the copy b let go of was lost, then made again on b');
    expect(remade.state).toBe('waiting');
    expect(await b.store.has(m.blob_hash)).toBe(true);

    // A second peer online: all copies again, nothing lost.
    net.node.connect(d);
    const healed = await whenState(replicator, m.blob_hash, 'replicated');
    expect(healed.lost ?? 0).toBe(0);
  });

  it('a keeper away at a check is asked again when it is back: without its copy, that copy was lost', async () => {
    const { net, b, bId, replicator, m } = await replicatedOnTwo(9);

    // b goes away (a page reloading) and a check runs meanwhile: b's copy stops counting,
    // nothing is lost, and b is remembered.
    await goAway(net, b);
    const away = await eventually(() => {
      const h = healthOf(replicator, m.blob_hash);
      return h?.stored.length === 1 && h.away?.some((a) => a.peer === bId) && h;
    }, 'b is away');
    expect(away.lost ?? 0).toBe(0);

    // b let its copy go while away, and comes back: the next check asks it and counts the
    // loss (forgotten, b would only have been offered a new copy).
    const seen: ReplicaHealth[] = [];
    replicator.addEventListener('change', (e) => e.detail.health && seen.push(e.detail.health));
    await b.store.remove(m.blob_hash);
    await comeBack(net, b);
    await eventually(() => seen.some((x) => x.lost === 1), 'the copy b let go of counts as lost');
  });

  it('a keeper away at a check that comes back with its copy counts again, with nothing lost', async () => {
    const { net, b, bId, replicator, m } = await replicatedOnTwo(10);
    await goAway(net, b);
    await eventually(
      () => healthOf(replicator, m.blob_hash)?.away?.some((a) => a.peer === bId),
      'b is away',
    );
    const seen: ReplicaHealth[] = [];
    replicator.addEventListener('change', (e) => e.detail.health && seen.push(e.detail.health));
    await comeBack(net, b);
    const back = await eventually(() => {
      const h = healthOf(replicator, m.blob_hash);
      return h?.state === 'replicated' && h.stored.includes(bId) && h;
    }, 'b counts again');
    expect(back.away).toBeUndefined();
    expect(seen.every((x) => (x.lost ?? 0) === 0)).toBe(true);
  });

  it('close aborts the round in flight and ends the loop for good', async () => {
    const net = await network(2);
    const [b, c] = net.others as [Peer, Peer];
    const read = net.a.store.readPiece.bind(net.a.store);
    let pulling!: () => void;
    const started = new Promise<void>((r) => {
      pulling = r;
    });
    net.a.store.readPiece = async (h, s, p) => {
      pulling();
      await new Promise((r) => setTimeout(r, 50));
      return read(h, s, p);
    };
    net.node.connect(b);
    const replicator = start(net, { copies: 2 });
    const m = await net.a.store.put(testBytes(200 * KiB, 8), {
      reach: 'commons',
      authorId: net.me,
    });
    await started;
    expect(healthOf(replicator, m.blob_hash)?.state).toBe('replicating');
    let changes = 0;
    replicator.addEventListener('change', () => changes++);

    await replicator.close();
    // After close: a new peer and a new item start nothing.
    net.node.connect(c);
    await net.a.store.put(testBytes(5 * KiB, 9), { reach: 'commons', authorId: net.me });
    await new Promise((r) => setTimeout(r, 200));
    expect(c.offers()).toBe(0);
    expect(changes).toBe(0);
    // The receiver hears the offer withdrawn and keeps nothing of it.
    await eventually(
      async () => !(await b.store.has(m.blob_hash)) && (await b.store.stats()).pendingPuts === 0,
      'the receiver has discarded the pull',
    );
  });
});

/** A Replicator on each peer, every other peer direct to it: keepers looking after what they keep. */
function keepAll(peers: Peer[]): Replicator[] {
  return peers.map((p) => {
    const node = new TestNode(p.node);
    node.connect(...peers.filter((q) => q !== p));
    const trust: TrustView = {
      me: agentKeyOfPeer(p.node.peerId) as AgentKey,
      myDevices: new Set(),
      links: new Map(),
      cluster: new Set(),
    };
    const r = new Replicator({ node, store: p.store, trust: () => trust, checkEveryMs: 200 });
    atCleanUp(() => r.close());
    return r;
  });
}

describe('Replicator: rs-4-7 shards on distinct peers, and their repair', () => {
  const SIZE = 300 * KiB; // rs-4-7 above 256 KiB
  const shardsOf = async (p: Peer, hash: string) =>
    (await p.store.holding(hash))?.shards.map((s) => s.index) ?? [];
  const id = (p: Peer) => p.node.peerId.toString();

  it('an authored rs-4-7 item goes one shard per peer; a shard whose peer left goes to another', async () => {
    const net = await network(8);
    const peers = net.others as Peer[];
    const spare = peers[7] as Peer;
    net.node.connect(...peers.slice(0, 7));
    const replicator = start(net, { copies: 2, checkEveryMs: 200 });
    const m = await net.a.store.put(testBytes(SIZE, 11), { reach: 'commons', authorId: net.me });
    expect(m.encoding).toBe('rs-4-7');

    const done = await whenState(replicator, m.blob_hash, 'replicated');
    expect(done.kind).toBe('shards');
    expect(done.wanted).toBe(7);
    expect(new Set(done.shards).size).toBe(7); // 7 distinct peers
    const kept = await Promise.all(peers.slice(0, 7).map((p) => shardsOf(p, m.blob_hash)));
    expect(kept.map((k) => k.length)).toEqual([1, 1, 1, 1, 1, 1, 1]);
    expect(kept.flat().sort()).toEqual([0, 1, 2, 3, 4, 5, 6]);
    for (const p of peers) expect(await p.store.has(m.blob_hash)).toBe(false);
    done.shards?.forEach((peer, shard) => {
      const holder = peers.find((p) => id(p) === peer) as Peer;
      expect(kept[peers.indexOf(holder)]).toEqual([shard]);
    });

    // The keeper of shard 3 goes away for good; a new peer takes shard 3 in its place.
    const gone = peers.find((p) => id(p) === done.shards?.[3]) as Peer;
    await gone.node.stop();
    net.node.disconnect(gone);
    net.node.connect(spare);
    const again = await eventually(() => {
      const h = healthOf(replicator, m.blob_hash);
      return h?.state === 'replicated' && h.shards?.[3] === id(spare) && h;
    }, 'shard 3 is kept by the new peer');
    expect(again.shards?.filter((p) => p === id(gone))).toEqual([]);
    expect(await shardsOf(spare, m.blob_hash)).toEqual([3]);
  });

  it('an rs-4-7 shard keeper away at a check is asked again when back: without its shard it was lost, with it it keeps it', async () => {
    const net = await network(7);
    const peers = net.others as Peer[];
    net.node.connect(...peers);
    const replicator = start(net, { copies: 2, checkEveryMs: 200 });
    const m = await net.a.store.put(testBytes(SIZE, 12), { reach: 'commons', authorId: net.me });
    const done = await whenState(replicator, m.blob_hash, 'replicated');

    // The keeper of shard 3 goes away and comes back with its shard: it keeps it again.
    const third = peers.find((p) => id(p) === done.shards?.[3]) as Peer;
    await goAway(net, third);
    await eventually(
      () => healthOf(replicator, m.blob_hash)?.away?.some((a) => a.peer === id(third)),
      'the keeper of shard 3 is away',
    );
    const seen: ReplicaHealth[] = [];
    replicator.addEventListener('change', (e) => e.detail.health && seen.push(e.detail.health));
    await comeBack(net, third);
    await eventually(() => {
      const h = healthOf(replicator, m.blob_hash);
      return h?.state === 'replicated' && h.shards?.[3] === id(third) && h.away === undefined;
    }, 'shard 3 is kept by the same peer again');
    expect(seen.every((x) => (x.lost ?? 0) === 0)).toBe(true);

    // Away again, and it lets the shard go meanwhile: back without it, shard 3 was lost; it is
    // placed again (on the only free peer: the same one).
    await goAway(net, third);
    await eventually(
      () => healthOf(replicator, m.blob_hash)?.away?.some((a) => a.peer === id(third)),
      'the keeper of shard 3 is away again',
    );
    await third.store.remove(m.blob_hash);
    await comeBack(net, third);
    await eventually(() => seen.some((x) => x.lost === 1), 'shard 3 counts as lost');
    await eventually(() => {
      const h = healthOf(replicator, m.blob_hash);
      return h?.state === 'replicated' && (h.lost ?? 0) === 0;
    }, 'shard 3 is placed again');
  });

  it('its author gone and 3 holders with it, the first holder by PeerId rebuilds the 3 missing shards on 3 new peers', async () => {
    const net = await network(10);
    const holders = (net.others as Peer[]).slice(0, 7);
    const fresh = (net.others as Peer[]).slice(7);
    net.node.connect(...holders);
    const author = start(net, { copies: 2 });
    const data = testBytes(SIZE, 12);
    const m = await net.a.store.put(data, { reach: 'commons', authorId: net.me });
    await whenState(author, m.blob_hash, 'replicated');
    await author.close();
    await net.a.node.stop();

    // 3 holders leave with the author; the 4 left see each other and 3 newcomers.
    const leaving = holders.slice(4);
    const staying = holders.slice(0, 4);
    for (const p of leaving) await p.node.stop();
    const everyone = [...staying, ...fresh];
    const keepers = keepAll(everyone);
    const lost = (await Promise.all(leaving.map((p) => shardsOf(p, m.blob_hash)))).flat();

    // Every newcomer ends up with one of the lost shards; every holder sees 7 of 7 online.
    await eventually(
      async () => {
        const got = await Promise.all(fresh.map((p) => shardsOf(p, m.blob_hash)));
        return got.every((g) => g.length === 1) && got.flat().sort().join() === lost.sort().join();
      },
      'the newcomers keep the 3 lost shards',
      20_000,
    );
    for (const [i, r] of keepers.slice(0, 4).entries()) {
      const h = await eventually(() => {
        const x = healthOf(r, m.blob_hash);
        return x?.state === 'replicated' && x;
      }, `holder ${i} sees all 7 shards online`);
      expect(h.kind).toBe('kept');
      expect(h.shards?.every((p) => p !== null)).toBe(true);
    }
    // The repairer fetched and rebuilt shards only to give them away: it keeps its own again.
    for (const p of staying) expect((await shardsOf(p, m.blob_hash)).length).toBe(1);

    // The 4 that never left can go too: the 3 rebuilt shards and one original still rebuild it.
    const reader = await peer();
    for (const p of [...staying.slice(1), ...fresh]) {
      await reader.node.peerStore.merge(p.node.peerId, { multiaddrs: p.node.getMultiaddrs() });
    }
    const { fetchContent } = await import('../fetch.ts');
    const got = await fetchContent(
      { libp2p: reader.node, isDirectPeer: () => true },
      reader.store,
      { findHolders: async () => [staying[1] as Peer, ...fresh].map((p) => p.node.peerId) },
      m.blob_hash,
      { timeoutMs: 5_000 },
    );
    expect(got.blob_hash).toBe(m.blob_hash);
    const blob = new Uint8Array(await (await reader.store.getBlob(m.blob_hash)).arrayBuffer());
    expect(Buffer.compare(blob, data)).toBe(0);
  });
});

describe('Replicator: a shard kept twice moves to a missing one', () => {
  it('with no free peer, the second keeper of a shard by PeerId rebuilds a missing shard instead', async () => {
    const src = await peer();
    const keepers = await Promise.all(Array.from({ length: 6 }, () => peer()));
    for (const x of keepers) {
      for (const y of keepers) {
        if (x !== y)
          await x.node.peerStore.merge(y.node.peerId, { multiaddrs: y.node.getMultiaddrs() });
      }
    }
    const data = testBytes(300 * KiB, 13);
    const m = await src.store.put(data, { reach: 'commons' });
    const { storage_key: _k, ...manifest } = m;
    // Shards 0–4, shard 4 twice; 5 and 6 are kept by nobody.
    const given = [0, 1, 2, 3, 4, 4];
    for (const [i, p] of keepers.entries()) {
      const shard = given[i] as number;
      const session = await p.store.beginShardImport(manifest, [shard]);
      for (const { piece } of session.needed) {
        await session.writePiece(
          shard,
          piece,
          await src.store.readPiece(m.blob_hash, shard, piece),
        );
      }
      await session.commit();
    }
    await src.node.stop();
    keepAll(keepers);
    const [first, second] = keepers
      .slice(4)
      .sort((x, y) => (x.node.peerId.toString() < y.node.peerId.toString() ? -1 : 1)) as [
      Peer,
      Peer,
    ];
    const shardsOf = async (p: Peer) =>
      (await p.store.holding(m.blob_hash))?.shards.map((s) => s.index) ?? [];
    await eventually(
      async () => (await shardsOf(second)).join() === '5',
      'the second keeper of shard 4 keeps shard 5 instead',
    );
    expect(await shardsOf(first)).toEqual([4]);
    for (const p of keepers.slice(0, 4)) expect((await shardsOf(p)).length).toBe(1);
    // Its new shard is the real one: it serves pieces that verify against the manifest.
    const piece = await second.store.readPiece(m.blob_hash, 5, 0);
    expect(Buffer.compare(piece, await src.store.readPiece(m.blob_hash, 5, 0))).toBe(0);
  });
});

/** An item authored with 2 copies wanted, replicated on two direct peers `b` and `c`. */
async function replicatedOnTwo(seed: number) {
  const net = await network(2);
  const [b, c] = net.others as [Peer, Peer];
  net.node.connect(b, c);
  const replicator = start(net, { copies: 2, checkEveryMs: 200 });
  const m = await net.a.store.put(testBytes(20 * KiB, seed), {
    reach: 'commons',
    authorId: net.me,
  });
  await whenState(replicator, m.blob_hash, 'replicated');
  return { net, b, bId: b.node.peerId.toString(), replicator, m };
}

/** `peer` stops answering: its node stops, and it is no longer a direct peer of the sender. */
async function goAway(net: Network, peer: Peer): Promise<void> {
  net.node.disconnect(peer);
  await peer.node.stop();
}

/** `peer` is back: its node runs again, at addresses the sender learns, and it is direct again. */
async function comeBack(net: Network, peer: Peer): Promise<void> {
  await peer.node.start();
  await net.a.node.peerStore.merge(peer.node.peerId, { multiaddrs: peer.node.getMultiaddrs() });
  net.node.connect(peer);
}
