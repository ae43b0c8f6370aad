import 'fake-indexeddb/auto';
import { afterEach, describe, expect, it } from 'vitest';
import type { ContentStore, Reach } from '../../content/index.ts';
import { type AgentKey, agentKeyOfPeer } from '../../reach/index.ts';
import { testBytes } from '../../test-support/libp2p.ts';
import type { Replicator } from './index.ts';
import {
  cleanUp,
  eventually,
  healthOf,
  KiB,
  type Network,
  network,
  type Peer,
  peer,
  start,
} from './test-support.ts';

afterEach(cleanUp);

const id = (p: Peer) => p.node.peerId.toString();

/** Until the replicator's health of `hash` lists exactly `doorways` as keeping it. */
const whenKept = (r: Replicator, hash: string, doorways: Peer[]) =>
  eventually(() => {
    const h = healthOf(r, hash);
    return h?.doorways?.join() === doorways.map(id).join() && h;
  }, `${hash} is kept on ${doorways.length} doorway(s)`);

/** What a peer's store holds: whole blobs and shard holdings. */
async function contents(store: ContentStore) {
  return {
    whole: (await store.list()).map((m) => m.blob_hash).sort(),
    holdings: (await store.holdings()).map((h) => h.blob_hash),
    pending: (await store.stats()).pendingPuts,
  };
}

/** Counts how often the replicator looked for doorways: one per doorway step, at least. */
function countLooks(net: Network): () => number {
  let looks = 0;
  const connected = net.node.connectedDoorways.bind(net.node);
  net.node.connectedDoorways = () => {
    looks++;
    return connected();
  };
  return () => looks;
}

describe('Replicator: keeping commons items on the doorways', () => {
  it('offers each commons item authored here whole to the doorway (none, chunked, rs-4-7); the doorway does not count as a copy', async () => {
    const net = await network(2);
    const [b, doorway] = net.others as [Peer, Peer];
    net.node.connectDoorway(doorway);
    const replicator = start(net, { copies: 1 });

    const put = (size: number, seed: number) =>
      net.a.store.put(testBytes(size, seed), { reach: 'commons', authorId: net.me });
    const items = [await put(5 * KiB, 1), await put(100 * KiB, 2), await put(300 * KiB, 3)];
    expect(items.map((m) => m.encoding)).toEqual(['none', 'chunked', 'rs-4-7']);

    for (const m of items) {
      const h = await whenKept(replicator, m.blob_hash, [doorway]);
      // No direct peer yet: short of peers, kept on the doorway all the same.
      expect(h.stored).toEqual([]);
      // Whole, every encoding: blob and manifest verified by the doorway.
      const blob = new Uint8Array(await (await doorway.store.getBlob(m.blob_hash)).arrayBuffer());
      expect(Buffer.compare(blob, testBytes(m.total_size, items.indexOf(m) + 1))).toBe(0);
    }
    expect(await contents(doorway.store)).toEqual({
      whole: items.map((m) => m.blob_hash).sort(),
      holdings: [],
      pending: 0,
    });
    expect(doorway.offers()).toBe(3);
    const copiesItem = items[1]?.blob_hash as string;
    expect(healthOf(replicator, copiesItem)).toMatchObject({
      state: 'waiting',
      reason: 'no other peer is online',
    });

    // A direct peer arrives: it takes the copy asked for; the doorway stays beside it.
    net.node.connect(b);
    const done = await eventually(() => {
      const h = healthOf(replicator, copiesItem);
      return h?.state === 'replicated' && h;
    }, 'the chunked item has its copy on b');
    expect(done.stored).toEqual([id(b)]);
    expect(done.doorways).toEqual([id(doorway)]);
    expect(done.wanted).toBe(1);
    // Nothing was offered to the doorway twice: it answered Holds "all" at every look.
    expect(doorway.offers()).toBe(3);
  });

  it('never offers other reaches, nor items that came from peers, even while they spread to own devices', async () => {
    // A doorway that would take anything: only the sender keeps these items off it.
    const net = await network(2, [{ mayHold: () => true }, { mayHold: () => true }]);
    const [own, doorway] = net.others as [Peer, Peer];
    // `own` is this person's other device: private, invited and local items go to it.
    net.trust = { ...net.trust, myDevices: new Set([agentKeyOfPeer(own.node.peerId) as AgentKey]) };
    net.node.connect(own);
    net.node.connectDoorway(doorway);
    const replicator = start(net, { copies: 1 });

    const reaches: Reach[] = ['private', 'invited', 'local', 'neighborhood', 'regional'];
    const narrow = [];
    for (const [i, reach] of reaches.entries()) {
      narrow.push(await net.a.store.put(testBytes(20 * KiB, 10 + i), { reach, authorId: net.me }));
    }
    // Came from peers: a commons item someone else authored, stored whole here…
    const theirs = await net.a.store.put(testBytes(30 * KiB, 20), {
      reach: 'commons',
      authorId: agentKeyOfPeer(own.node.peerId) as AgentKey,
    });
    // …and a shard kept here for someone else's rs-4-7 item.
    const source = await peer();
    const big = await source.store.put(testBytes(300 * KiB, 21), { reach: 'commons' });
    const { storage_key: _key, ...manifest } = big;
    const session = await net.a.store.beginShardImport(manifest, [2]);
    for (const { piece } of session.needed) {
      await session.writePiece(2, piece, await source.store.readPiece(big.blob_hash, 2, piece));
    }
    await session.commit();
    // The one item that does go to the doorway, to show it was looked at all along.
    const mine = await net.a.store.put(testBytes(10 * KiB, 22), {
      reach: 'commons',
      authorId: net.me,
    });

    await whenKept(replicator, mine.blob_hash, [doorway]);
    for (const m of narrow) {
      const h = await eventually(() => {
        const x = healthOf(replicator, m.blob_hash);
        return x?.state === 'replicated' && x;
      }, `${m.reach} reached this person's other device`);
      expect(h.stored).toEqual([id(own)]);
      expect(h.doorways).toBeUndefined();
    }
    expect(healthOf(replicator, theirs.blob_hash)).toBeUndefined();
    expect(healthOf(replicator, big.blob_hash)?.kind).toBe('kept');
    expect(healthOf(replicator, big.blob_hash)?.doorways).toBeUndefined();

    expect(doorway.offers()).toBe(1);
    expect(await contents(doorway.store)).toEqual({
      whole: [mine.blob_hash],
      holdings: [],
      pending: 0,
    });
  });

  it('with the setting off nothing is offered; turned on, the next check offers it', async () => {
    const net = await network(2);
    const [b, doorway] = net.others as [Peer, Peer];
    net.node.connect(b);
    net.node.connectDoorway(doorway);
    const looks = countLooks(net);
    let keep = false;
    const replicator = start(net, { copies: 1, checkEveryMs: 100, keepOnDoorway: () => keep });
    const m = await net.a.store.put(testBytes(40 * KiB, 30), {
      reach: 'commons',
      authorId: net.me,
    });

    await eventually(() => healthOf(replicator, m.blob_hash)?.state === 'replicated', 'copied');
    // Several checks later, the doorway was still asked nothing.
    const before = looks();
    await eventually(() => looks() >= before + 5, 'five more checks ran');
    expect(doorway.offers()).toBe(0);
    expect(await contents(doorway.store)).toEqual({ whole: [], holdings: [], pending: 0 });
    expect(healthOf(replicator, m.blob_hash)?.doorways).toEqual([]);

    keep = true;
    await whenKept(replicator, m.blob_hash, [doorway]);
    expect(await doorway.store.has(m.blob_hash)).toBe(true);
    expect(healthOf(replicator, m.blob_hash)?.stored).toEqual([id(b)]);
  });

  it('a doorway that lost its copy is noticed at the next check and offered it again', async () => {
    const net = await network(1);
    const [doorway] = net.others as [Peer];
    net.node.connectDoorway(doorway);
    const replicator = start(net, { copies: 1, checkEveryMs: 200 });
    const m = await net.a.store.put(testBytes(60 * KiB, 40), {
      reach: 'commons',
      authorId: net.me,
    });
    await whenKept(replicator, m.blob_hash, [doorway]);
    expect(doorway.offers()).toBe(1);

    await doorway.store.remove(m.blob_hash);
    await eventually(
      async () => doorway.offers() === 2 && (await doorway.store.has(m.blob_hash)),
      'the doorway was offered the item again and keeps it',
    );
    await whenKept(replicator, m.blob_hash, [doorway]);
  });

  it('a doorway whose offer failed is asked again on the retry backoff, not only at the next check', async () => {
    // The first offer fails on the doorway's side (as a doorway busy or restarting would);
    // the second is taken.
    let failures = 1;
    const net = await network(1, [
      {
        willing: () => {
          if (failures-- > 0) throw new Error('the doorway stumbled');
          return true;
        },
      },
    ]);
    const [doorway] = net.others as [Peer];
    net.node.connectDoorway(doorway);
    // The periodic check is far away: only the retry can bring the second offer.
    const replicator = start(net, {
      copies: 1,
      checkEveryMs: 10 * 60_000,
      retry: { firstMs: 100 },
    });
    const m = await net.a.store.put(testBytes(30 * KiB, 45), {
      reach: 'commons',
      authorId: net.me,
    });
    await whenKept(replicator, m.blob_hash, [doorway]);
    expect(doorway.offers()).toBe(2);
    expect(await doorway.store.has(m.blob_hash)).toBe(true);
  });

  it('a doorway that connects later is offered what is already replicated, without waiting for the next check', async () => {
    const net = await network(2);
    const [b, doorway] = net.others as [Peer, Peer];
    net.node.connect(b);
    // The periodic check is far away: only the doorway's arrival can start the round.
    const replicator = start(net, { copies: 1, checkEveryMs: 10 * 60_000 });
    const m = await net.a.store.put(testBytes(30 * KiB, 50), {
      reach: 'commons',
      authorId: net.me,
    });
    await eventually(() => healthOf(replicator, m.blob_hash)?.state === 'replicated', 'copied');
    expect(doorway.offers()).toBe(0);

    net.node.connectDoorway(doorway);
    await whenKept(replicator, m.blob_hash, [doorway]);
    expect(await doorway.store.has(m.blob_hash)).toBe(true);
  });
});
