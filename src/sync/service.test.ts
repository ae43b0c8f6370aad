import 'fake-indexeddb/auto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import type { DocHandle } from '@automerge/automerge-repo';
import { Repo, type PeerId as RepoPeerId } from '@automerge/automerge-repo';
import { BroadcastChannelNetworkAdapter } from '@automerge/automerge-repo-network-broadcastchannel';
import { NodeFSStorageAdapter } from '@automerge/automerge-repo-storage-nodefs';
import { afterEach, describe, expect, it } from 'vitest';
import {
  addTag,
  ChangeRecorder,
  createLibrary,
  encodeSyncMessage,
  IdbEventLog,
  type ItemMeta,
  keepCommonsDescriptions,
  type LibraryDoc,
  type SyncEvent,
  seedItem,
  setTitle,
  tagsOf,
} from './index.ts';
import {
  connect,
  disconnect,
  exchange,
  readyDoc,
  type TestPeer,
  testPeer,
  until,
} from './test-support.ts';

const peers: TestPeer[] = [];
async function peer(name: string, opts: Parameters<typeof testPeer>[1] = { service: true }) {
  const p = await testPeer(name, opts);
  peers.push(p);
  return p;
}

/** Repo storage directories: removed only once every peer has stopped writing to them. */
const dirs: string[] = [];
async function storageDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'elohim-sync-'));
  dirs.push(dir);
  return dir;
}

afterEach(async () => {
  await Promise.all(peers.splice(0).map((p) => p.stop()));
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

const manifest = (n: number) => ({
  blob_hash: `sha256-${n.toString(16).padStart(64, '0')}`,
  blob_cid: `bafkreitest${n}`,
  total_size: 1000 + n,
  mime_type: 'text/plain',
  reach: 'commons' as const,
  name: `file-${n}.txt`,
});

/** A's library with one item, both documents tracked by A's service. */
function seed(a: TestPeer, n = 1) {
  const library = createLibrary(a.repo, a.node.peerId.toString(), a.service);
  const { item, meta } = seedItem(a.repo, library, manifest(n), {
    tags: ['start'],
    tracker: a.service,
  });
  return { library, item, meta };
}

const ev = (position: number, doc_id: string, change_hash = 'ab'.repeat(32)): SyncEvent => ({
  position,
  doc_id,
  change_hash,
  kind: 'Local',
  timestamp: 1_700_000_000_000,
});

describe('SyncService over /elohim/positions/1.0.0 (no automerge adapter: positions only)', () => {
  it('live edits propagate: Announce → DocRequest → applied, classified New', async () => {
    const a = await peer('a');
    const b = await peer('b', { service: { catchUpOnConnect: false } });
    await connect(b, a);
    const { library, item, meta } = seed(a);
    // createLibrary, seedItem: library init, meta init, library entry = 3 local events.
    await until(() => b.activity.length >= 3, 'B to receive the seed events');
    expect(a.activity.map((x) => [x.kind, x.event.position])).toEqual([
      ['Local', 1],
      ['Local', 2],
      ['Local', 3],
    ]);
    expect(b.activity.map((x) => [x.kind, x.event.position, x.peer])).toEqual([
      ['New', 1, a.node.peerId.toString()],
      ['New', 2, a.node.peerId.toString()],
      ['New', 3, a.node.peerId.toString()],
    ]);
    const lib = await readyDoc<LibraryDoc>(b, library.documentId);
    expect(lib?.items[item.hash]?.meta_doc).toBe(meta.documentId);
    expect((await readyDoc<ItemMeta>(b, meta.documentId))?.title).toBe('file-1.txt');

    setTitle(meta, 'A better title');
    await until(
      async () => (await readyDoc<ItemMeta>(b, meta.documentId))?.title === 'A better title',
      'the title to reach B',
    );
    await until(() => b.activity.length === 4, 'the title event to be stored');
    expect(await b.log.contiguous(a.node.peerId.toString())).toBe(4);
    expect(b.errors).toEqual([]);
    expect(a.errors).toEqual([]);
  });

  it('concurrent offline edits merge on reconnect (title LWW, tags x and y)', async () => {
    const a = await peer('a');
    const b = await peer('b');
    const { meta } = seed(a);
    await until(async () => (await a.log.localHead()) === 3, 'A to record 3 events');
    await connect(a, b); // B catches up: 1-3 as Backfill
    await until(async () => !!(await readyDoc<ItemMeta>(b, meta.documentId)), 'B to get the meta');
    await disconnect(a, b);

    setTitle(meta, 'title from A');
    addTag(meta, 'x');
    const bMeta = b.repo.handles[meta.documentId] as DocHandle<ItemMeta>;
    setTitle(bMeta, 'title from B');
    addTag(bMeta, 'y');

    await connect(a, b); // both sides catch up on connect
    const same = async () => {
      const da = await readyDoc<ItemMeta>(a, meta.documentId);
      const db = await readyDoc<ItemMeta>(b, meta.documentId);
      return isDeepStrictEqual(da, db) && tagsOf(da as ItemMeta).length === 3;
    };
    await until(same, 'both documents to converge');
    const merged = (await readyDoc<ItemMeta>(a, meta.documentId)) as ItemMeta;
    expect(tagsOf(merged).sort()).toEqual(['start', 'x', 'y']);
    expect(['title from A', 'title from B']).toContain(merged.title);
    // Each side stored the other's offline edits (title, tag) as Backfill on reconnect.
    const backfilled = (p: TestPeer) =>
      p.activity.filter((x) => x.kind === 'Backfill').map((x) => x.event.position);
    // The documents can converge a moment before the events are stored.
    await until(() => backfilled(a).length === 2 && backfilled(b).length === 5, 'the events');
    expect(backfilled(a)).toEqual([1, 2]);
    expect(backfilled(b)).toEqual([1, 2, 3, 4, 5]);
    expect(b.activity.filter((x) => x.kind === 'Local').length).toBe(2);
  });

  it('a late joiner backfills the whole history through has_more paging', async () => {
    const a = await peer('a', { service: { pageSize: 4 } });
    const { meta } = seed(a);
    for (let i = 0; i < 7; i++) addTag(meta, `t${i}`);
    await until(async () => (await a.log.localHead()) === 10, 'A to record 10 events');

    // The server pages with has_more.
    const late = await peer('late', { service: { pageSize: 4, catchUpOnConnect: false } });
    const pages = await exchange(late, a, [
      encodeSyncMessage({ type: 'SyncRequest', since: 0, limit: 4 }),
      encodeSyncMessage({ type: 'SyncRequest', since: 8, limit: 4 }),
    ]);
    expect(pages.map((p) => p.type === 'SyncResponse' && [p.events.length, p.hasMore])).toEqual([
      [4, true],
      [2, false],
    ]);

    const stored = await late.service?.catchUp(a.node.peerId.toString());
    expect(stored).toBe(10);
    expect(late.activity.map((x) => x.kind)).toEqual(Array(10).fill('Backfill'));
    expect(late.activity.map((x) => x.event.position)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(await late.log.contiguous(a.node.peerId.toString())).toBe(10);
    const got = await readyDoc<ItemMeta>(late, meta.documentId);
    expect(tagsOf(got as ItemMeta)).toEqual(['start', 't0', 't1', 't2', 't3', 't4', 't5', 't6']);
    // Nothing new: a second catch-up stores nothing.
    expect(await late.service?.catchUp(a.node.peerId.toString())).toBe(0);
  });

  it('a keeper of commons descriptions (a doorway) applies only those; the refused events pass like gaps', async () => {
    const a = await peer('a', { service: { pageSize: 2 } });
    const { library, meta: kept } = seed(a, 1);
    const { meta: other } = seedItem(a.repo, library, manifest(2), { tracker: a.service });
    await until(async () => (await a.log.localHead()) >= 4, 'A to record its events');
    const head = await a.log.localHead();
    const keptHash = manifest(1).blob_hash;
    const doorway = await peer('doorway', {
      service: {
        pageSize: 2,
        catchUpOnConnect: false,
        mayKeep: keepCommonsDescriptions((hash) => hash === keptHash),
      },
    });
    const origin = a.node.peerId.toString();
    await connect(doorway, a);
    await doorway.service?.catchUp(origin);
    // The description of the item it holds, nothing else: not the library, not the other one.
    expect((await readyDoc<ItemMeta>(doorway, kept.documentId))?.hash).toBe(keptHash);
    for (const id of [library.documentId, other.documentId]) {
      // Not even an empty handle stays: a peer naming many documents must not grow its memory.
      expect(doorway.repo.handles[id]).toBeUndefined();
      expect(await doorway.log.knowsDoc(id)).toBe(false);
    }
    expect(new Set(doorway.activity.map((x) => x.event.doc_id))).toEqual(
      new Set([kept.documentId]),
    );
    // The cursor passed every position: the next catch-up asks nothing again.
    expect(await doorway.log.contiguous(origin)).toBe(head);
    // A later change that would make the kept one describe another item is refused too.
    setTitle(kept, 'still kept');
    kept.change((d) => {
      d.hash = manifest(2).blob_hash;
    });
    await until(async () => (await a.log.localHead()) >= head + 2, 'A to record the edits');
    await doorway.service?.catchUp(origin);
    expect((await readyDoc<ItemMeta>(doorway, kept.documentId))?.hash).toBe(keptHash);
    expect(await doorway.log.contiguous(origin)).toBe(head + 2);
    expect(doorway.errors).toEqual([]);
  });

  it('an event after a gap is an Outlier, and the gap is backfilled', async () => {
    const a = await peer('a');
    const b = await peer('b', { service: { catchUpOnConnect: false } });
    await connect(a, b);
    const { meta } = seed(a);
    await until(() => b.activity.length === 3, 'B to get events 1-3');
    await disconnect(a, b);
    addTag(meta, 'missed-1'); // 4: not announced, B is away
    addTag(meta, 'missed-2'); // 5
    await until(async () => (await a.log.localHead()) === 5, 'A to record 5 events');
    await connect(a, b); // B does not catch up by itself
    addTag(meta, 'live'); // 6: announced; B holds 1-3
    await until(() => b.activity.length === 6, 'B to store 6 events');
    expect(b.activity.slice(3).map((x) => [x.event.position, x.kind])).toEqual([
      [6, 'Outlier'],
      [4, 'Backfill'],
      [5, 'Backfill'],
    ]);
    const stored = await b.log.remoteEvents(a.node.peerId.toString());
    expect(stored.map((e) => [e.position, e.kind])).toEqual([
      [1, 'New'],
      [2, 'New'],
      [3, 'New'],
      [4, 'Backfill'],
      [5, 'Backfill'],
      [6, 'Outlier'],
    ]);
    expect(await b.log.contiguous(a.node.peerId.toString())).toBe(6);
    const got = await readyDoc<ItemMeta>(b, meta.documentId);
    expect(tagsOf(got as ItemMeta)).toEqual(['start', 'missed-1', 'missed-2', 'live']);
  });

  it('refuses bad input with {"Error": …}, stores nothing, and keeps serving', async () => {
    const a = await peer('a', { service: { maxLimit: 50, maxGap: 1000 } });
    const evil = await peer('evil', { service: false });
    const { meta } = seed(a);
    await until(async () => (await a.log.localHead()) === 3, 'A to record 3 events');

    // Several bad requests on ONE stream, then a good one: each gets its answer in order.
    const unknownDoc = '2xTnVbL1JhBo3kBqrKSyKyiAF7QK'; // valid shape, never created here
    const answers = await exchange(evil, a, [
      new Uint8Array([0, 0, 0, 1, 0xc1]), // not MessagePack
      encodeSyncMessage({ type: 'Error', message: 'not a request' }),
      encodeSyncMessage({ type: 'SyncRequest', since: 0, limit: 0 }),
      encodeSyncMessage({ type: 'SyncRequest', since: 0, limit: 51 }),
      encodeSyncMessage({ type: 'SyncRequest', since: 99, limit: 10 }),
      encodeSyncMessage({ type: 'DocRequest', docId: unknownDoc, heads: [] }),
      encodeSyncMessage({ type: 'SyncRequest', since: 0, limit: 50 }),
    ]);
    const texts = answers.map((x) => (x.type === 'Error' ? x.message : x.type));
    expect(texts[0]).toMatch(/MessagePack/);
    expect(texts[1]).toMatch(/Unknown sync request "Error"/);
    expect(texts[2]).toMatch(/limit 0 is out of range: ask for 1 to 50/);
    expect(texts[3]).toMatch(/limit 51 is out of range/);
    expect(texts[4]).toMatch(/since 99 is past the end of this peer's log \(last position 3\)/);
    expect(texts[5]).toMatch(/not shared by this peer/);
    expect(texts[6]).toBe('SyncResponse');

    // Announces from evil: from the future; and for a change evil cannot deliver.
    const evilId = evil.node.peerId.toString();
    const refused = await exchange(evil, a, [
      encodeSyncMessage({ type: 'Announce', event: ev(5000, meta.documentId) }),
      encodeSyncMessage({ type: 'Announce', event: ev(1, meta.documentId) }),
    ]);
    expect(refused[0]?.type === 'Error' && refused[0].message).toMatch(
      /Announced position 5000 is more than 1000 past/,
    );
    expect(refused[1]?.type).toBe('Error'); // evil does not serve DocRequest
    expect(refused).toHaveLength(2);
    expect(await a.log.remoteEvents(evilId)).toEqual([]);
    expect(await a.log.contiguous(evilId)).toBe(0);

    // A frame header over the 8 MiB cap: an Error naming the cap, then the stream ends.
    const big = await exchange(evil, a, [new Uint8Array([0x01, 0, 0, 0, 0x81])]);
    expect(big).toHaveLength(1);
    expect(big[0]?.type === 'Error' && big[0].message).toMatch(
      /16777216 bytes is over the cap of 8388608 bytes/,
    );
    // The connection survived and A still serves.
    const ok = await exchange(evil, a, [
      encodeSyncMessage({ type: 'SyncRequest', since: 0, limit: 2 }),
    ]);
    expect(ok[0]?.type === 'SyncResponse' && ok[0].events.map((e) => e.position)).toEqual([1, 2]);
    expect(a.activity.every((x) => x.kind === 'Local')).toBe(true);
    expect(a.errors.length).toBeGreaterThan(0);
  });

  it('refuses changes that do not contain the announced change (nothing stored)', async () => {
    const a = await peer('a');
    const liar = await peer('liar');
    const b = await peer('b', { service: { catchUpOnConnect: false } });
    const { meta } = seed(a);
    // The liar holds A's document (backfilled), then announces a change hash it never made.
    await connect(liar, a);
    await liar.service?.catchUp(a.node.peerId.toString());
    await connect(b, liar);
    const answers = await exchange(liar, b, [
      encodeSyncMessage({ type: 'Announce', event: ev(1, meta.documentId, 'cd'.repeat(32)) }),
    ]);
    expect(answers[0]?.type === 'Error' && answers[0].message).toMatch(
      /unusable changes .* announced change\(s\) cdcd.* are missing\. Nothing was applied or stored/,
    );
    expect(await b.log.remoteEvents(liar.node.peerId.toString())).toEqual([]);
    expect(b.repo.handles[meta.documentId]?.isReady() ?? false).toBe(false);
  });

  it('after a restart, positions continue and known documents are tracked again', async () => {
    const dir = await storageDir();
    const first = await peer('a', { service: true, storage: new NodeFSStorageAdapter(dir) });
    const { meta } = seed(first);
    await until(async () => (await first.log.localHead()) === 3, 'A to record 3 events');
    await first.stop();

    const again = await peer('a', {
      service: true,
      storage: new NodeFSStorageAdapter(dir),
      dbName: first.dbName,
    });
    // The service loads the documents its log names and records edits made here again.
    await again.service?.restored;
    const handle = await again.repo.find<ItemMeta>(meta.documentId);
    expect(tagsOf(handle.doc())).toEqual(['start']);
    addTag(handle, 'after-restart');
    await until(() => again.activity.length === 1, 'the edit to be recorded');
    expect(again.activity[0]?.event).toMatchObject({ position: 4, doc_id: meta.documentId });
    expect(await again.log.localHead()).toBe(4);
  });

  it('edits recorded in another tab are announced by the tab that runs the node', async () => {
    const channelName = `tabs-${Date.now()}`;
    const bc = () => new BroadcastChannelNetworkAdapter({ channelName, peerWaitMs: 50 });
    const a = await peer('a', { service: true, network: [bc()] });
    const b = await peer('b', { service: { catchUpOnConnect: false } });
    await connect(b, a);
    const { meta } = seed(a);
    await until(() => b.activity.length === 3, 'B to get the seed events');

    // Tab 2: the same EventLog database, a Repo over BroadcastChannel only, no libp2p node.
    const tabRepo = new Repo({ network: [bc()], peerId: 'tab-2' as RepoPeerId });
    const tabLog = await IdbEventLog.open({ dbName: a.dbName });
    const recorder = new ChangeRecorder(tabRepo, tabLog);
    try {
      const tabMeta = await tabRepo.find<ItemMeta>(meta.documentId);
      recorder.track(tabMeta);
      addTag(tabMeta, 'from-tab-2');
      await until(() => b.activity.length === 4, 'B to get the tab’s edit');
      expect(b.activity[3]).toMatchObject({ kind: 'New', event: { position: 4 } });
      expect(a.activity[3]).toMatchObject({ kind: 'Local', event: { position: 4 } });
      const got = await readyDoc<ItemMeta>(b, meta.documentId);
      expect(tagsOf(got as ItemMeta)).toEqual(['start', 'from-tab-2']);
      expect(b.errors).toEqual([]);
    } finally {
      await recorder.stop();
      await tabRepo.shutdown();
      tabLog.close();
    }
  });
});
