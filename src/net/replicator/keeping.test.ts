import 'fake-indexeddb/auto';
import type { Libp2p } from '@libp2p/interface';
import { afterEach, describe, expect, it } from 'vitest';
import { type ContentStore, isKept, keptForOthers, releaseAll } from '../../content/index.ts';
import { agentKeyFromEd25519 } from '../../reach/index.ts';
import { openTestStore } from '../../test-support/content-store.ts';
import { loopbackNode, testBytes } from '../../test-support/libp2p.ts';
import { registerReplicateProtocol, replicate } from '../replicate/index.ts';
import { registerShardProtocol } from '../shard/index.ts';
import { keepingPolicy } from './index.ts';

const KiB = 1024;
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface Side {
  node: Libp2p;
  store: ContentStore;
}

/** A peer whose replicate server keeps copies under `keepingPolicy` with these settings. */
async function side(settings: {
  willing: () => boolean;
  capBytes: () => number;
  minAuthorShare?: number;
}): Promise<Side> {
  const store = await openTestStore('keeping-test', { pieceSize: 16 * KiB });
  const node = await loopbackNode();
  const shard = await registerShardProtocol(node, store, { timeoutMs: 5_000 });
  const repl = await registerReplicateProtocol(node, store, {
    timeoutMs: 5_000,
    pieceTimeoutMs: 5_000,
    policy: keepingPolicy(store, {
      ...settings,
      budget: { maxBytes: 1024 ** 3, spaceLeft: async () => undefined },
      mayHold: () => true,
    }),
  });
  cleanups.push(async () => {
    await repl.stop();
    await shard.stop();
    await node.stop();
    store.close();
  });
  return { node, store };
}

async function pair(receiver: Parameters<typeof side>[0]): Promise<[Side, Side]> {
  const a = await side({ willing: () => true, capBytes: () => 0 });
  const b = await side(receiver);
  await a.node.peerStore.merge(b.node.peerId, { multiaddrs: b.node.getMultiaddrs() });
  await b.node.peerStore.merge(a.node.peerId, { multiaddrs: a.node.getMultiaddrs() });
  return [a, b];
}

describe('keeping copies for others', () => {
  it('a copy a peer asked for is kept for that peer, apart from the person’s own, within the cap', async () => {
    let cap = 12 * KiB;
    const [a, b] = await pair({ willing: () => true, capBytes: () => cap });
    const own = await b.store.put(testBytes(3 * KiB, 1));
    const first = await a.store.put(testBytes(10 * KiB, 2));
    const offer = (hash: string) =>
      replicate(a.node, a.store, hash, [b.node.peerId], { copies: 1 });
    expect((await offer(first.blob_hash)).stored).toEqual([b.node.peerId.toString()]);

    const kept = await b.store.manifest(first.blob_hash);
    expect(kept?.origin).toMatchObject({ how: 'kept', for: a.node.peerId.toString() });
    const before = await keptForOthers(b.store);
    expect(before.copies.map((m) => m.blob_hash)).toEqual([first.blob_hash]);
    // What the person added does not count against what they keep for others.
    expect(before.bytes).toBe(10 * KiB);
    expect(isKept(own)).toBe(false);

    // 10 KiB kept, 12 KiB allowed: another 10 KiB would go over.
    const second = await a.store.put(testBytes(10 * KiB, 3));
    const refused = await offer(second.blob_hash);
    expect(refused.peers[0]).toMatchObject({ state: 'declined' });
    expect(refused.peers[0]?.reason).toMatch(/^quota: 10240 bytes offered, 2048 bytes left/);
    expect(await b.store.has(second.blob_hash)).toBe(false);
    cap = 20 * KiB; // read per offer: a higher cap applies at once
    expect((await offer(second.blob_hash)).stored).toHaveLength(1);
  });

  it('stopping: no new copies are taken, and everything kept goes but the person’s own', async () => {
    let willing = true;
    const [a, b] = await pair({ willing: () => willing, capBytes: () => 1024 ** 2 });
    const items = [];
    for (const seed of [4, 5, 6]) items.push(await a.store.put(testBytes(5 * KiB, seed)));
    for (const m of items) {
      await replicate(a.node, a.store, m.blob_hash, [b.node.peerId], { copies: 1 });
    }
    // The person fetched one of them meanwhile: it is theirs now and stays.
    const [mine, ...others] = items as [(typeof items)[0], ...typeof items];
    expect(await b.store.claim(mine.blob_hash)).toMatchObject({ origin: { how: 'fetched' } });

    willing = false;
    expect(await releaseAll(b.store)).toBe(others.length);
    expect(await keptForOthers(b.store)).toEqual({ copies: [], shards: [], bytes: 0 });
    expect((await b.store.list()).map((m) => m.blob_hash)).toEqual([mine.blob_hash]);
    const again = await replicate(
      a.node,
      a.store,
      others[0]?.blob_hash as string,
      [b.node.peerId],
      {
        copies: 1,
      },
    );
    expect(again.peers[0]?.reason).toMatch(/^unwilling/);
    expect(await b.store.has(others[0]?.blob_hash as string)).toBe(false);
  });

  it('one author may have at most a quarter of what is kept for others; other authors still get in', async () => {
    const [a, b] = await pair({ willing: () => true, capBytes: () => 64 * KiB, minAuthorShare: 0 });
    const author = (seed: number) => agentKeyFromEd25519(new Uint8Array(32).fill(seed));
    const [alice, bob] = [author(1), author(2)];
    const put = (bytes: number, seed: number, authorId: string) =>
      a.store.put(testBytes(bytes, seed), { authorId });
    const offer = (hash: string) =>
      replicate(a.node, a.store, hash, [b.node.peerId], { copies: 1 });

    // 64 KiB kept for others at most: 16 KiB for one author.
    const first = await put(10 * KiB, 7, alice);
    expect((await offer(first.blob_hash)).stored).toHaveLength(1);
    const second = await put(10 * KiB, 8, alice);
    const refused = await offer(second.blob_hash);
    expect(refused.peers[0]).toMatchObject({ state: 'declined' });
    expect(refused.peers[0]?.reason).toMatch(
      new RegExp(
        `^share: 10240 bytes of ${alice} are kept here already; one author may have at most 16384`,
      ),
    );
    expect(await b.store.has(second.blob_hash)).toBe(false);
    // Another author's copy is taken: the space was there, only Alice's share was full.
    const other = await put(10 * KiB, 9, bob);
    expect((await offer(other.blob_hash)).stored).toHaveLength(1);
  });
});
