/**
 * `/elohim/sync/1.0.0` end to end, the way a Rust node uses it: a client that knows only the
 * Rust message set (our codec over a bare libp2p node: no Repo, no automerge-repo adapter)
 * talks over TCP on 127.0.0.1 to a `Peer` started as the doorway starts its own
 * (`startNodePeer`, with sync and the real delivery gate). It lists the documents, reads heads,
 * pulls changes that rebuild the same document in a fresh Automerge doc, and announces a change
 * of its own, which is applied. What the gate would not give it stays `NotFound`.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as Automerge from '@automerge/automerge';
import type { DocumentId } from '@automerge/automerge-repo';
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import type { Libp2p } from '@libp2p/interface';
import { tcp } from '@libp2p/tcp';
import { multiaddr } from '@multiformats/multiaddr';
import { createLibp2p } from 'libp2p';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Peer, startNodePeer } from '../peer/node.ts';
import { pseudoRandomBytes } from '../test-support/bytes.ts';
import {
  APP_ID,
  type DocSyncAnswer,
  type DocSyncRequest,
  type ItemMeta,
  type LibraryDoc,
  RemoteSyncError,
  requestDocSync,
  type SyncRuntime,
  setTitle,
} from './index.ts';
import { openNodeSync } from './node.ts';

const cleanups: (() => Promise<unknown>)[] = [];
let server: Peer;
let sync: SyncRuntime;
let client: Libp2p;
let commonsMeta: DocumentId;
let restrictedMeta: DocumentId;

afterAll(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

beforeAll(async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'elohim-doc-sync-'));
  cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
  let opening: Promise<SyncRuntime> | undefined;
  server = await startNodePeer({
    dataDir,
    copies: 0,
    budget: { maxBytes: 64 * 1024 * 1024, spaceLeft: async () => 64 * 1024 * 1024 },
    sync: (agent) => {
      opening ??= openNodeSync({ agent, dir: dataDir });
      return opening;
    },
  });
  cleanups.push(async () => {
    await server.stop();
    await (await opening)?.shutdown();
    server.store.close();
  });
  sync = await (opening as unknown as Promise<SyncRuntime>);
  // A commons item (anyone may receive it) and one for invited people only.
  const commons = await server.store.put(pseudoRandomBytes(2048, 1), {
    name: 'open.bin',
    reach: 'commons',
  });
  await sync.addItem(commons, { title: 'Open item' });
  commonsMeta = sync.libraries.entry(commons.blob_hash)?.meta_doc as DocumentId;
  const invited = await server.store.put(pseudoRandomBytes(2048, 2), {
    name: 'closed.bin',
    reach: 'invited',
  });
  await sync.addItem(invited, { title: 'Closed item' });
  restrictedMeta = sync.libraries.entry(invited.blob_hash)?.meta_doc as DocumentId;

  client = await createLibp2p({
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionGater: { denyDialMultiaddr: () => false },
  });
  cleanups.push(async () => client.stop());
  const tcpAddrs = server.node.libp2p
    .getMultiaddrs()
    .filter(
      (ma) => ma.toString().startsWith('/ip4/127.0.0.1/tcp/') && !ma.toString().includes('/ws'),
    );
  expect(tcpAddrs.length).toBeGreaterThan(0);
  await client.dial(tcpAddrs.map((ma) => multiaddr(ma.toString())));
}, 60_000);

function ask(req: DocSyncRequest): Promise<DocSyncAnswer> {
  return requestDocSync(client, server.node.peerId, req, {
    maxFrameBytes: 8 * 1024 * 1024,
    timeoutMs: 10_000,
  });
}

async function until(check: () => boolean, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function serverDoc<T>(id: DocumentId): Automerge.Doc<T> {
  return sync.repo.handles[id]?.doc() as Automerge.Doc<T>;
}

/** The client's copy: changes applied to a fresh document, as the Rust node loads them. */
function rebuild<T>(changes: Uint8Array[], base = Automerge.init<T>()): Automerge.Doc<T> {
  let doc = base;
  for (const c of changes) doc = Automerge.loadIncremental(doc, c);
  return doc;
}

describe('/elohim/sync/1.0.0 served to a client of the Rust message set, over TCP', () => {
  it('lists only what the delivery gate gives the asker; other app_ids are empty', async () => {
    const shared = sync.libraries.shared.documentId;
    await until(() => serverDoc(commonsMeta) !== undefined, 'the description to be ready');
    const list = await ask({
      type: 'ListDocuments',
      appId: APP_ID,
      prefix: null,
      offset: 0,
      limit: 1000,
    });
    expect(list.type).toBe('DocumentList');
    if (list.type !== 'DocumentList') return;
    const ids = list.documents.map((d) => d.docId);
    expect(ids).toContain(shared);
    expect(ids).toContain(commonsMeta);
    expect(ids).not.toContain(restrictedMeta);
    expect(ids).not.toContain(sync.libraries.own.documentId);
    expect(list.total).toBe(ids.length);
    const info = list.documents.find((d) => d.docId === commonsMeta);
    expect(info).toMatchObject({
      docType: 'item-meta',
      heads: Automerge.getHeads(serverDoc(commonsMeta)),
    });
    expect(info?.changeCount).toBeGreaterThanOrEqual(2);
    expect(info?.lastModified).toBeGreaterThan(Date.now() - 600_000);

    // Paging and the type filter.
    const page = await ask({
      type: 'ListDocuments',
      appId: APP_ID,
      prefix: null,
      offset: 0,
      limit: 1,
    });
    expect(page).toMatchObject({ total: list.total, hasMore: list.total > 1 });
    const libraries = await ask({
      type: 'ListDocuments',
      appId: APP_ID,
      prefix: 'library',
      offset: 0,
      limit: 10,
    });
    expect(libraries.type === 'DocumentList' && libraries.documents.map((d) => d.docId)).toEqual([
      shared,
    ]);
    // The Rust node's own sync round asks for "elohim": nothing of ours is there.
    expect(
      await ask({ type: 'ListDocuments', appId: 'elohim', prefix: null, offset: 0, limit: 1000 }),
    ).toEqual({ type: 'DocumentList', appId: 'elohim', documents: [], total: 0, hasMore: false });
  });

  it('GetHeads and SyncChanges rebuild the same document; a later edit comes as a delta', async () => {
    const heads = await ask({ type: 'GetHeads', appId: APP_ID, docId: commonsMeta });
    const before = serverDoc<ItemMeta>(commonsMeta);
    expect(heads).toMatchObject({ type: 'Heads', heads: Automerge.getHeads(before) });

    const all = await ask({
      type: 'SyncChanges',
      appId: APP_ID,
      docId: commonsMeta,
      haveHeads: [],
      bloomFilter: null,
    });
    if (all.type !== 'Changes') throw new Error(`expected Changes, got ${all.type}`);
    expect(all.hasMore).toBe(false);
    const copy = rebuild<ItemMeta>(all.changes);
    expect(Automerge.getHeads(copy)).toEqual(Automerge.getHeads(before));
    expect(Automerge.toJS(copy)).toEqual(Automerge.toJS(before));
    expect(all.newHeads).toEqual(Automerge.getHeads(before));

    const handle = sync.repo.handles[commonsMeta];
    setTitle(handle as never, 'Renamed on the server');
    const delta = await ask({
      type: 'SyncChanges',
      appId: APP_ID,
      docId: commonsMeta,
      haveHeads: Automerge.getHeads(copy),
      bloomFilter: null,
    });
    if (delta.type !== 'Changes') throw new Error(`expected Changes, got ${delta.type}`);
    expect(delta.changes).toHaveLength(1);
    const updated = rebuild(delta.changes, copy);
    expect(updated.title).toBe('Renamed on the server');
    expect(Automerge.getHeads(updated)).toEqual(Automerge.getHeads(serverDoc(commonsMeta)));
  });

  it('GetChanges returns the changes asked for by hash, the rest as not_found', async () => {
    const doc = serverDoc<ItemMeta>(commonsMeta);
    const [head] = Automerge.getHeads(doc);
    const missing = 'ab'.repeat(32);
    const answer = await ask({
      type: 'GetChanges',
      appId: APP_ID,
      docId: commonsMeta,
      changeHashes: [head as string, missing, 'not-a-hash'],
    });
    if (answer.type !== 'RequestedChanges') throw new Error(`got ${answer.type}`);
    expect(answer.changes.map(([h]) => h)).toEqual([head]);
    expect(Automerge.decodeChange((answer.changes[0] as [string, Uint8Array])[1]).hash).toBe(head);
    expect(answer.notFound).toEqual([missing, 'not-a-hash']);
  });

  it('an announced change is applied and acknowledged; a repeat is not new', async () => {
    const all = await ask({
      type: 'SyncChanges',
      appId: APP_ID,
      docId: commonsMeta,
      haveHeads: [],
      bloomFilter: null,
    });
    if (all.type !== 'Changes') throw new Error(`got ${all.type}`);
    // The client edits its copy (its own actor) and pushes the change eagerly.
    const copy = rebuild<ItemMeta>(all.changes);
    const edited = Automerge.change(Automerge.clone(copy), (d) => {
      d.description = 'Written by a Rust-speaking peer';
    });
    const change = Automerge.getLastLocalChange(edited) as Uint8Array;
    const hash = Automerge.decodeChange(change).hash;
    const announce: DocSyncRequest = {
      type: 'AnnounceChange',
      appId: APP_ID,
      docId: commonsMeta,
      changeHash: hash,
      changeData: change,
    };
    expect(await ask(announce)).toEqual({
      type: 'ChangeAck',
      appId: APP_ID,
      docId: commonsMeta,
      wasNew: true,
    });
    expect(serverDoc<ItemMeta>(commonsMeta).description).toBe('Written by a Rust-speaking peer');
    expect(await ask(announce)).toMatchObject({ type: 'ChangeAck', wasNew: false });
    // Announced without data: told whether it is new, nothing applied.
    expect(await ask({ ...announce, changeHash: 'cd'.repeat(32), changeData: null })).toMatchObject(
      { type: 'ChangeAck', wasNew: true },
    );
  });

  it('refuses data that is not the change announced, and writes to what it may not see', async () => {
    const doc = serverDoc<ItemMeta>(commonsMeta);
    const edited = Automerge.change(Automerge.clone(doc), (d) => {
      d.title = 'forged';
    });
    const change = Automerge.getLastLocalChange(edited) as Uint8Array;
    await expect(
      ask({
        type: 'AnnounceChange',
        appId: APP_ID,
        docId: commonsMeta,
        changeHash: 'ef'.repeat(32),
        changeData: change,
      }),
    ).rejects.toThrow(RemoteSyncError);
    expect(serverDoc<ItemMeta>(commonsMeta).title).not.toBe('forged');

    // The restricted description and this agent's own library: as unknown as a made-up id.
    for (const docId of [
      restrictedMeta,
      sync.libraries.own.documentId,
      '2t5Zx1kmPVrGmjBCdtPjQRPJAVsn',
    ]) {
      expect(await ask({ type: 'GetHeads', appId: APP_ID, docId })).toEqual({
        type: 'NotFound',
        appId: APP_ID,
        docId,
      });
      const announced = await ask({
        type: 'AnnounceChange',
        appId: APP_ID,
        docId,
        changeHash: Automerge.decodeChange(change).hash,
        changeData: change,
      });
      expect(announced.type).toBe('NotFound');
    }
    const own = serverDoc<LibraryDoc>(sync.libraries.own.documentId);
    expect(Object.keys(own.items)).toHaveLength(1);
    // The right document under another app_id is not ours either.
    expect(await ask({ type: 'GetHeads', appId: 'elohim', docId: commonsMeta })).toMatchObject({
      type: 'NotFound',
    });
  });
});
