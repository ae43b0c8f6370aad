import 'fake-indexeddb/auto';
import { createHash } from 'node:crypto';
import type { Libp2p, PeerId } from '@libp2p/interface';
import { afterEach, describe, expect, it } from 'vitest';
import { type ContentStore, isKept, type StoredManifest } from '../../content/index.ts';
import { agentKeyFromEd25519, agentKeyOfPeer, type TrustView } from '../../reach/index.ts';
import { openTestStore, recordCounts } from '../../test-support/content-store.ts';
import { loopbackNode, testBytes } from '../../test-support/libp2p.ts';
import { registerShardProtocol, shardGet } from '../shard/index.ts';
import {
  holdGate,
  NotHeldError,
  pushPolicy,
  type ReplicaPolicy,
  type ReplicateReport,
  registerReplicateProtocol,
  replicate,
  replicationGate,
} from './index.ts';

const KiB = 1024;
const sha = (b: Uint8Array) => `sha256-${createHash('sha256').update(b).digest('hex')}`;

interface Peer {
  node: Libp2p;
  store: ContentStore;
  /** Manifests this peer's replicate server reported as newly stored. */
  stored: StoredManifest[];
  /** Bytes this peer received on any stream of any protocol. */
  bytesIn: () => number;
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function peer(
  opts: { policy?: ReplicaPolicy; pieceSize?: number; onError?: (e: unknown) => void } = {},
): Promise<Peer> {
  const store = await openTestStore('replicate-test', { pieceSize: opts.pieceSize ?? 16 * KiB });
  const node = await loopbackNode();
  let bytesIn = 0;
  // Every inbound stream of every protocol counts its bytes.
  const counting = {
    dial: node.dial.bind(node),
    unhandle: node.unhandle.bind(node),
    handle: ((protocol, handler, options) =>
      node.handle(
        protocol,
        (stream, connection) => {
          stream.addEventListener('message', (e) => {
            bytesIn += e.data.byteLength;
          });
          return handler(stream, connection);
        },
        options,
      )) as Libp2p['handle'],
  };
  const stored: StoredManifest[] = [];
  const shard = await registerShardProtocol(counting, store, { timeoutMs: 5_000 });
  const repl = await registerReplicateProtocol(counting, store, {
    policy: opts.policy,
    timeoutMs: 5_000,
    pieceTimeoutMs: 5_000,
    onStored: (m) => {
      stored.push(m);
    },
    onError: opts.onError,
  });
  cleanups.push(async () => {
    await repl.stop();
    await shard.stop();
    await node.stop();
    store.close();
  });
  return { node, store, stored, bytesIn: () => bytesIn };
}

/** Candidates are dialled by PeerId: tell every node where the others listen (no connection). */
async function group<T extends Promise<Peer>[]>(
  starting: [...T],
): Promise<{ [K in keyof T]: Peer }> {
  const peers = await Promise.all(starting);
  for (const x of peers) {
    for (const y of peers) {
      if (x !== y)
        await x.node.peerStore.merge(y.node.peerId, { multiaddrs: y.node.getMultiaddrs() });
    }
  }
  return peers as { [K in keyof T]: Peer };
}

/** Records of the store's database: nothing half-stored means all three stay as they were. */
const counts = (store: ContentStore) => recordCounts(store, ['manifests', 'pieces', 'pending']);
const EMPTY = { manifests: 0, pieces: 0, pending: 0 };

async function eventually(check: () => Promise<boolean>, what: string, ms = 5_000) {
  const until = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The receiver holds exactly `data`: readable, hash equal, every piece verified. */
async function expectHolds(p: Peer, data: Uint8Array) {
  const m = await p.store.manifest(sha(data));
  expect(m?.blob_hash).toBe(sha(data));
  const blob = new Uint8Array(await (await p.store.getBlob(sha(data))).arrayBuffer());
  expect(sha(blob)).toBe(sha(data));
  expect(Buffer.compare(blob, data)).toBe(0);
  expect((await p.store.stats()).pendingPuts).toBe(0);
  return m as StoredManifest;
}

const ids = (r: ReplicateReport) => r.peers.map((p) => [p.peer, p.state]);

describe('replicate over /elohim/replicate/1.0.0', () => {
  it('a commons item replicates to 2 of 3 peers; each verifies, announces and serves it', async () => {
    const [a, b, c, d] = await group([peer(), peer(), peer(), peer()]);
    const data = testBytes(100 * KiB, 1); // chunked: 7 shards
    const m = await a.store.put(data);
    expect(m.encoding).toBe('chunked');
    const seen: ReplicateReport[] = [];

    const report = await replicate(
      a.node,
      a.store,
      m.blob_hash,
      [b.node.peerId, c.node.peerId, d.node.peerId],
      { onProgress: (p) => seen.push(p) },
    );

    expect(report.stored.sort()).toEqual([b.node.peerId, c.node.peerId].map(String).sort());
    expect(report.peers.map((p) => p.state)).toEqual(['stored', 'stored']);
    for (const p of [b, c]) {
      const held = await expectHolds(p, data);
      expect(held.reach).toBe('commons');
      expect(p.stored.map((s) => s.blob_hash)).toEqual([m.blob_hash]);
    }
    // The third candidate was not needed: never contacted.
    expect(d.bytesIn()).toBe(0);
    expect(await counts(d.store)).toEqual(EMPTY);
    expect(seen.some((p) => p.peers.some((x) => x.state === 'pulling'))).toBe(true);
    // A replica serves it on, with the offerer gone.
    await a.node.stop();
    expect(sha(await shardGet(d.node, b.node.peerId, m.blob_hash))).toBe(m.blob_hash);
  });

  it('a peer the gate refuses receives zero bytes (not even an Offer) and is skipped', async () => {
    const [a, b, c] = await group([peer(), peer(), peer()]);
    const m = await a.store.put(testBytes(3000, 2));
    const refused = c.node.peerId;
    const report = await replicate(a.node, a.store, m.blob_hash, [refused, b.node.peerId], {
      copies: 1,
      gate: (p: PeerId) => (p.equals(refused) ? { allow: false, reason: 'not trusted' } : true),
    });
    expect(report.peers).toEqual([
      { peer: refused.toString(), state: 'refused', bytes: 0, reason: 'not trusted' },
      { peer: b.node.peerId.toString(), state: 'stored', bytes: 3000 },
    ]);
    expect(c.bytesIn()).toBe(0);
    expect(c.node.getConnections(a.node.peerId)).toEqual([]);
    expect(await counts(c.store)).toEqual(EMPTY);
    await expectHolds(b, testBytes(3000, 2));
  });

  it('declining peers are skipped (unwilling, too large); a holder confirms at once', async () => {
    const [a, unwilling, small, b] = await group([
      peer(),
      peer({ policy: { willing: () => false } }),
      peer({ policy: { maxBytes: 1000 } }),
      peer(),
    ]);
    const data = testBytes(5000, 3);
    const m = await a.store.put(data);
    const report = await replicate(
      a.node,
      a.store,
      m.blob_hash,
      [unwilling.node.peerId, small.node.peerId, b.node.peerId],
      { copies: 1 },
    );
    expect(report.peers.map((p) => [p.state, p.reason?.split(':')[0]])).toEqual([
      ['declined', 'unwilling'],
      ['declined', 'too large'],
      ['stored', undefined],
    ]);
    expect(report.peers[1]?.reason).toMatch(/5000 bytes is over this peer's limit of 1000 bytes/);
    for (const p of [unwilling, small]) expect(await counts(p.store)).toEqual(EMPTY);

    // A peer that already holds it confirms at once, and does not announce it again.
    const again = await replicate(a.node, a.store, m.blob_hash, [b.node.peerId], { copies: 1 });
    expect(again.stored).toEqual([b.node.peerId.toString()]);
    expect(b.stored).toHaveLength(1);
  });

  const ME = agentKeyFromEd25519(new Uint8Array(32).fill(1));
  it("a copy of the person's own item from their own device is taken even when keeping nothing for others, and is theirs", async () => {
    const [a, other] = await group([peer(), peer()]);
    const mine = await group([
      peer({
        policy: {
          willing: () => false,
          mayHold: () => true,
          ownCopy: (offer, from) => offer.owner === ME && from.equals(a.node.peerId),
        },
      }),
    ]);
    const device = mine[0];
    await device.node.peerStore.merge(a.node.peerId, { multiaddrs: a.node.getMultiaddrs() });
    await a.node.peerStore.merge(device.node.peerId, { multiaddrs: device.node.getMultiaddrs() });
    const data = testBytes(4000, 9);
    const m = await a.store.put(data, { authorId: ME });
    const report = await replicate(a.node, a.store, m.blob_hash, [device.node.peerId], {
      copies: 1,
    });
    expect(report.stored).toEqual([device.node.peerId.toString()]);
    const held = await expectHolds(device, data);
    // In the person's library, not among the copies kept for others.
    expect(isKept(held)).toBe(false);
    // Someone else's item, offered by the same device, is still declined.
    const theirs = await other.store.put(testBytes(4000, 10), {
      authorId: agentKeyFromEd25519(new Uint8Array(32).fill(2)),
    });
    await other.node.peerStore.merge(device.node.peerId, {
      multiaddrs: device.node.getMultiaddrs(),
    });
    const declined = await replicate(
      other.node,
      other.store,
      theirs.blob_hash,
      [device.node.peerId],
      {
        copies: 1,
      },
    );
    expect(declined.peers[0]?.state).toBe('declined');
  });

  it('reach: trust-scoped content goes only to linked peers that take it (both gates)', async () => {
    const key = (p: Peer) => agentKeyOfPeer(p.node.peerId) as string;
    const view = (me: Peer, linkedTo: Peer[]): TrustView => ({
      me: key(me),
      myDevices: new Set(),
      links: new Map(linkedTo.map((p) => [key(p), 'neighbor'])),
      cluster: new Set(),
    });
    // `linked` holds what its trust view allows (known once its key exists);
    // `unlinkedReceiver` keeps the default hold policy (commons only).
    let linkedTrust: TrustView | undefined;
    const [a, linked, stranger, unlinkedReceiver] = await group([
      peer(),
      peer({ policy: { mayHold: (o, from) => holdGate(linkedTrust as TrustView)(o, from) } }),
      peer(),
      peer(),
    ]);
    linkedTrust = view(linked, [a]);
    const owner = key(a);
    const data = testBytes(4000, 4);
    const m = await a.store.put(data, { reach: 'neighborhood', authorId: owner });
    const trustA = view(a, [linked, unlinkedReceiver]);
    const report = await replicate(
      a.node,
      a.store,
      m.blob_hash,
      [stranger.node.peerId, unlinkedReceiver.node.peerId, linked.node.peerId],
      { copies: 2, gate: replicationGate({ reach: 'neighborhood', owner }, trustA) },
    );
    expect(report.peers.map((p) => p.state)).toEqual(['refused', 'declined', 'stored']);
    expect(report.peers[0]?.reason).toMatch(/no known trust link/);
    expect(report.peers[1]?.reason).toMatch(/^reach: neighborhood: only commons replicates/);
    expect(stranger.bytesIn()).toBe(0);
    const held = await expectHolds(linked, data);
    expect([held.reach, held.author_id]).toEqual(['neighborhood', owner]);

    // Without a gate, only commons is offered.
    const noGate = await replicate(a.node, a.store, m.blob_hash, [unlinkedReceiver.node.peerId]);
    expect(noGate.peers[0]?.state).toBe('refused');
  });

  it('an offer of an item the receiver is already pulling is declined as busy', async () => {
    const [a1, a2, b] = await group([peer(), peer(), peer()]);
    const data = testBytes(90 * KiB, 11);
    const m = await a1.store.put(data);
    await a2.store.put(data);
    const read = a1.store.readPiece.bind(a1.store);
    let pulling!: () => void;
    const started = new Promise<void>((r) => {
      pulling = r;
    });
    a1.store.readPiece = async (h, s, p) => {
      pulling();
      await new Promise((r) => setTimeout(r, 20));
      return read(h, s, p);
    };
    const first = replicate(a1.node, a1.store, m.blob_hash, [b.node.peerId], { copies: 1 });
    await started;
    const second = await replicate(a2.node, a2.store, m.blob_hash, [b.node.peerId], { copies: 1 });
    expect(second.peers[0]).toMatchObject({
      state: 'declined',
      reason: 'busy: this peer is already receiving it',
    });
    expect((await first).stored).toEqual([b.node.peerId.toString()]);
    await expectHolds(b, data);
  });

  it('quota exhausted on the receiver mid-pull → Declined "quota", nothing half-stored', async () => {
    const [a, full, b] = await group([peer(), peer(), peer()]);
    const data = testBytes(90 * KiB, 5); // chunked: 6 pieces
    const m = await a.store.put(data);
    const proto = IDBObjectStore.prototype;
    const original = proto.put;
    let writes = 0;
    proto.put = function (this: IDBObjectStore, ...args: Parameters<IDBObjectStore['put']>) {
      if (
        this.name === 'pieces' &&
        this.transaction.db.name === full.store.dbName &&
        ++writes > 2
      ) {
        throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
      }
      return original.apply(this, args);
    };
    let report: ReplicateReport;
    try {
      report = await replicate(a.node, a.store, m.blob_hash, [full.node.peerId, b.node.peerId], {
        copies: 1,
      });
    } finally {
      proto.put = original;
    }
    expect(writes).toBeGreaterThan(2);
    expect(ids(report)).toEqual([
      [full.node.peerId.toString(), 'declined'],
      [b.node.peerId.toString(), 'stored'],
    ]);
    expect(report.peers[0]?.reason).toMatch(/^quota: this peer ran out of storage/);
    expect(await counts(full.store)).toEqual(EMPTY);
    expect(full.stored).toEqual([]);
    await expectHolds(b, data);
  });

  it('the offerer vanishing mid-pull: the receiver discards the import', async () => {
    const errors: unknown[] = [];
    const [a, b] = await group([
      peer({ pieceSize: 4 * KiB }),
      peer({ pieceSize: 4 * KiB, onError: (e) => errors.push(e) }),
    ]);
    const data = testBytes(200 * KiB, 6); // chunked: 13 shards, 50 pieces
    const m = await a.store.put(data);
    const begin = b.store.beginImport.bind(b.store);
    let written = 0;
    b.store.beginImport = async (manifest, opts) => {
      const session = await begin(manifest, opts);
      const write = session.writePiece.bind(session);
      session.writePiece = async (shard, piece, bytes) => {
        await write(shard, piece, bytes);
        written++;
      };
      return session;
    };
    const read = a.store.readPiece.bind(a.store);
    let reads = 0;
    a.store.readPiece = async (h, s, p) => {
      if (++reads === 5) void a.node.stop();
      await new Promise((r) => setTimeout(r, 10));
      return read(h, s, p);
    };
    const report = await replicate(a.node, a.store, m.blob_hash, [b.node.peerId], { copies: 1 });
    expect(report.peers[0]?.state).toBe('failed');
    await eventually(
      async () => JSON.stringify(await counts(b.store)) === JSON.stringify(EMPTY),
      'the receiver has discarded the import',
    );
    expect(written).toBeGreaterThan(0);
    expect(written).toBeLessThan(50);
    expect(b.stored).toEqual([]);
    expect(errors.length).toBeGreaterThan(0);
  });

  it('a receiver vanishing mid-transfer: the sender moves on to the next candidate', async () => {
    const [a, b, c] = await group([
      peer({ pieceSize: 4 * KiB }),
      peer({ pieceSize: 4 * KiB }),
      peer({ pieceSize: 4 * KiB }),
    ]);
    const data = testBytes(120 * KiB, 7);
    const m = await a.store.put(data);
    const begin = b.store.beginImport.bind(b.store);
    b.store.beginImport = async (manifest, opts) => {
      const session = await begin(manifest, opts);
      const write = session.writePiece.bind(session);
      session.writePiece = async (shard, piece, bytes) => {
        await write(shard, piece, bytes);
        void b.node.stop();
      };
      return session;
    };
    const report = await replicate(a.node, a.store, m.blob_hash, [b.node.peerId, c.node.peerId], {
      copies: 1,
    });
    expect(ids(report)).toEqual([
      [b.node.peerId.toString(), 'failed'],
      [c.node.peerId.toString(), 'stored'],
    ]);
    expect(report.peers[0]?.reason).toMatch(/did not confirm storing/);
    await expectHolds(c, data);
    await eventually(
      async () => JSON.stringify(await counts(b.store)) === JSON.stringify(EMPTY),
      'the vanished receiver has discarded the import',
    );
  });

  it('an rs-4-7 blob replicates; the receiver rebuilds and verifies its parity', async () => {
    const [a, b] = await group([peer(), peer()]);
    const data = testBytes(300 * KiB + 17, 8);
    const m = await a.store.put(data);
    expect(m.encoding).toBe('rs-4-7');
    const report = await replicate(a.node, a.store, m.blob_hash, [b.node.peerId], { copies: 1 });
    expect(report.stored).toEqual([b.node.peerId.toString()]);
    const held = await expectHolds(b, data);
    expect(held.shard_hashes).toEqual(m.shard_hashes);
    const parity = await b.store.readPiece(m.blob_hash, 6, 0);
    expect(parity).toEqual(await a.store.readPiece(m.blob_hash, 6, 0));
  });

  it('typed failures: a blob not held, a bad copy count, an aborted run', async () => {
    const [a, b] = await group([peer(), peer()]);
    const missing = sha(testBytes(10, 9));
    const err = await replicate(a.node, a.store, missing, [b.node.peerId]).catch((e) => e);
    expect(err).toBeInstanceOf(NotHeldError);
    expect(err.message).toMatch(/Store or fetch it first/);
    const m = await a.store.put(testBytes(10, 10));
    await expect(replicate(a.node, a.store, m.blob_hash, [], { copies: 0 })).rejects.toThrow(
      RangeError,
    );
    const reason = new Error('user cancelled');
    const ac = new AbortController();
    ac.abort(reason);
    await expect(
      replicate(a.node, a.store, m.blob_hash, [b.node.peerId], { signal: ac.signal }),
    ).rejects.toBe(reason);
    const none = await replicate(a.node, a.store, m.blob_hash, []);
    expect(none).toEqual({ hash: m.blob_hash, wanted: 2, stored: [], peers: [] });
  });
});

describe('offering one shard of an rs-4-7 blob (OfferShard)', () => {
  const held = async (p: Peer, hash: string) =>
    (await p.store.holding(hash))?.shards.map((s) => s.index) ?? [];

  it('each receiver keeps the one shard offered; a peer keeping another declines; a holder re-offers its shard', async () => {
    const [a, b, c, d] = await group([peer(), peer(), peer(), peer()]);
    const data = testBytes(300 * KiB, 7);
    const m = await a.store.put(data);
    expect(m.encoding).toBe('rs-4-7');

    const one = await replicate(a.node, a.store, m.blob_hash, [b.node.peerId], {
      copies: 1,
      shard: 5,
    });
    expect(one.stored).toEqual([b.node.peerId.toString()]);
    expect(one.peers[0]?.bytes).toBe(m.shard_size);
    expect(await held(b, m.blob_hash)).toEqual([5]);
    // It keeps the shard, not the blob, and announced nothing as a whole copy.
    expect(await b.store.has(m.blob_hash)).toBe(false);
    expect(b.stored).toEqual([]);
    const perShard = (m.piece_hashes[5] as string[]).length;
    expect((await counts(b.store)).pieces).toBe(perShard);

    // b keeps shard 5 already: shard 2 goes to another peer; shard 5 again is confirmed at once.
    const two = await replicate(a.node, a.store, m.blob_hash, [b.node.peerId, c.node.peerId], {
      copies: 1,
      shard: 2,
    });
    expect(ids(two)).toEqual([
      [b.node.peerId.toString(), 'declined'],
      [c.node.peerId.toString(), 'stored'],
    ]);
    expect(two.peers[0]?.reason).toMatch(/^distinct: /);
    expect(await held(c, m.blob_hash)).toEqual([2]);
    expect(
      (await replicate(a.node, a.store, m.blob_hash, [b.node.peerId], { copies: 1, shard: 5 }))
        .stored,
    ).toEqual([b.node.peerId.toString()]);

    // A holder offers the shard it keeps on (the author gone): d pulls it from b.
    await a.node.stop();
    const on = await replicate(b.node, b.store, m.blob_hash, [d.node.peerId], {
      copies: 1,
      shard: 5,
    });
    expect(on.stored).toEqual([d.node.peerId.toString()]);
    expect(await held(d, m.blob_hash)).toEqual([5]);
    // It cannot offer a shard it does not keep, nor the whole blob.
    await expect(
      replicate(b.node, b.store, m.blob_hash, [d.node.peerId], { copies: 1, shard: 2 }),
    ).rejects.toBeInstanceOf(NotHeldError);
    await expect(
      replicate(b.node, b.store, m.blob_hash, [d.node.peerId], { copies: 1 }),
    ).rejects.toBeInstanceOf(NotHeldError);
  });

  it('a shard offer for a blob that is not rs-4-7 is refused before a byte moves', async () => {
    const [a, b] = await group([peer(), peer()]);
    const m = await a.store.put(testBytes(100 * KiB, 8));
    await expect(
      replicate(a.node, a.store, m.blob_hash, [b.node.peerId], { copies: 1, shard: 0 }),
    ).rejects.toThrow(/only rs-4-7 blobs are offered by shard/);
    expect(b.bytesIn()).toBe(0);
  });
});

describe('pushPolicy: who may Push into this store', () => {
  it("takes pushes from this person's other devices only, within the shared budget", async () => {
    const [me, device, stranger] = [
      await loopbackNode(),
      await loopbackNode(),
      await loopbackNode(),
    ];
    cleanups.push(async () => {
      await Promise.all([me, device, stranger].map((n) => n.stop()));
    });
    const trust: TrustView = {
      me: agentKeyOfPeer(me.peerId) as string,
      myDevices: new Set([agentKeyOfPeer(device.peerId) as string]),
      links: new Map([[agentKeyOfPeer(stranger.peerId) as string, 'friend']]),
      cluster: new Set(),
    };
    let left: number | undefined = 10_000;
    const policy = pushPolicy(() => trust, { maxBytes: 5000, spaceLeft: async () => left });
    expect(await policy.from(device.peerId)).toBe(true);
    // A contact is not a device: a link lets it read what reach allows, never write here.
    expect(await policy.from(stranger.peerId)).toBe(false);
    expect(await policy.refuse?.(device.peerId, 'sha256-00', 4000)).toBeUndefined();
    expect(await policy.refuse?.(device.peerId, 'sha256-00', 6000)).toMatch(
      /6000 bytes is over this peer's limit of 5000 bytes/,
    );
    left = 3000;
    expect(await policy.refuse?.(device.peerId, 'sha256-00', 4000)).toMatch(
      /quota: 4000 bytes offered, 3000 bytes left/,
    );
  });
});
