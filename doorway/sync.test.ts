/**
 * The doorway speaks `/elohim/sync/1.0.0`: a real doorway process, a Node peer that reaches it
 * over WebSockets as a browser does (its sync runtime and delivery gate the page's), and a
 * client that knows only the Rust node's message set, over TCP. The doorway keeps and serves
 * the description of a commons item it holds, and nothing else (no one's device, it may
 * receive only what anyone may: on disk too); the descriptions survive a restart; bad frames
 * get an error and it keeps serving.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import * as Automerge from '@automerge/automerge';
import type { DocumentId } from '@automerge/automerge-repo';
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import type { Libp2p } from '@libp2p/interface';
import { peerIdFromString } from '@libp2p/peer-id';
import { tcp } from '@libp2p/tcp';
import { type Multiaddr, multiaddr } from '@multiformats/multiaddr';
import { createLibp2p } from 'libp2p';
import { afterAll, describe, expect, it } from 'vitest';
import type { StoredManifest } from '../src/content/index.ts';
import { replicate } from '../src/net/index.ts';
import { type Peer, startNodePeer } from '../src/peer/node.ts';
import {
  APP_ID,
  type DocSyncAnswer,
  type DocSyncRequest,
  decodeDocSyncResponse,
  encodeDocSyncMessage,
  type ItemMeta,
  requestDocSync,
  SYNC_PROTOCOL,
  type SyncRuntime,
} from '../src/sync/index.ts';
import { FileEventLog, openNodeSync } from '../src/sync/node.ts';
import { pseudoRandomBytes } from '../src/test-support/bytes.ts';
import { framed, splitFrames } from '../src/test-support/fuzz.ts';
import { readAll } from '../src/test-support/libp2p.ts';
import { APP_FILES, runDoorway, sharedTempDir, until } from './test-support.ts';

const KiB = 1024;
/** The doorway's frame cap (the sync service's default). */
const CAP = 8 * 1024 * 1024;

describe('the doorway serves /elohim/sync/1.0.0 over the commons descriptions it keeps', () => {
  const dir = sharedTempDir('doorway-sync-', APP_FILES);
  const stops: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const stop of stops.splice(0).reverse()) await stop().catch(() => {});
  });

  /** A doorway process on `state`; its TCP address (what a Rust node dials) from its log. */
  async function doorwayOn(state: string) {
    const args = ['--port', '0', '--static', dir(), '--data-dir', state, '--log-level', 'info'];
    const process = runDoorway(args);
    stops.push(async () => {
      process.child.kill('SIGKILL');
      await process.exited;
    });
    const [, url] = await process.waitFor(/Elohim doorway ready at (\S+)\/\n/);
    const [, tcpAddr] = await process.waitFor(
      /p2p listening on (\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\/\S+)\n/,
    );
    return { process, url: url as string, tcpAddr: multiaddr(tcpAddr as string) };
  }

  async function rustClient(): Promise<Libp2p> {
    const client = await createLibp2p({
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      connectionGater: { denyDialMultiaddr: () => false },
    });
    stops.push(async () => client.stop());
    return client;
  }

  const ask = (client: Libp2p, addr: Multiaddr, req: DocSyncRequest): Promise<DocSyncAnswer> =>
    requestDocSync(client, addr.toString().split('/p2p/')[1] as string, req, {
      maxFrameBytes: CAP,
      timeoutMs: 10_000,
    });

  /** Raw bytes on one stream; the answers read back (or 'reset'). */
  async function raw(client: Libp2p, addr: Multiaddr, bytes: Uint8Array) {
    const stream = await client.dialProtocol(addr, SYNC_PROTOCOL);
    stream.send(bytes);
    await stream.close().catch(() => {});
    try {
      const frames = splitFrames(await readAll(stream, 15_000));
      return frames === 'undecodable' ? frames : frames.map((f) => decodeDocSyncResponse(f));
    } catch {
      return 'reset' as const;
    }
  }

  const listed = async (client: Libp2p, addr: Multiaddr) => {
    const list = await ask(client, addr, {
      type: 'ListDocuments',
      appId: APP_ID,
      prefix: null,
      offset: 0,
      limit: 1000,
    });
    if (list.type !== 'DocumentList') throw new Error(`expected a DocumentList, got ${list.type}`);
    return list.documents;
  };

  it('lists and syncs a commons description a browser shared, NotFound for the rest, across a restart', async () => {
    const state = join(dir(), 'state');
    let doorway = await doorwayOn(state);

    // The browser: a Node peer on the doorway's WebSocket address, with sync.
    let opening: Promise<SyncRuntime> | undefined;
    const browser: Peer = await startNodePeer({
      dataDir: join(dir(), 'browser'),
      listen: [],
      doorways: [doorway.url],
      dialListedPeers: false,
      copies: 0,
      trust: false,
      sync: (agent) => {
        opening ??= openNodeSync({ agent, dir: join(dir(), 'browser', 'sync') });
        return opening;
      },
    });
    const browserId = browser.node.peerId.toString();
    const stopBrowser = async () => {
      await browser.stop();
      await (await opening)?.shutdown();
      browser.store.close();
    };
    stops.push(stopBrowser);
    const sync = await (opening as unknown as Promise<SyncRuntime>);
    const doorwayId = await until('the browser to reach the doorway', () => {
      const d = browser.node.snapshot().doorways[0];
      return d?.status === 'connected' ? d.peerId : undefined;
    });

    // A commons item the doorway keeps a copy of; then its description.
    const put = (seed: number, reach: StoredManifest['reach']) =>
      browser.store.put(new Blob([pseudoRandomBytes(4 * KiB, seed)]), { reach });
    const kept = await put(1, 'commons');
    const copied = await replicate(browser.node.libp2p, browser.store, kept.blob_hash, [
      peerIdFromString(doorwayId),
    ]);
    expect(copied.stored).toEqual([doorwayId]);
    await sync.addItem(kept, { title: 'Kept on the doorway' });
    // A commons item the doorway holds no copy of, and one for invited people only.
    const notHeld = await put(2, 'commons');
    await sync.addItem(notHeld, { title: 'Only in the browser' });
    const invited = await put(3, 'invited');
    await sync.addItem(invited, { title: 'Invited only' });
    const metaOf = (hash: string) => sync.libraries.entry(hash)?.meta_doc as DocumentId;
    const keptMeta = metaOf(kept.blob_hash);
    const hidden = [
      metaOf(notHeld.blob_hash),
      metaOf(invited.blob_hash),
      sync.libraries.shared.documentId,
      sync.libraries.own.documentId,
    ];
    const browserDoc = () => sync.repo.handles[keptMeta]?.doc() as Automerge.Doc<ItemMeta>;

    const client = await rustClient();
    await client.dial(doorway.tcpAddr);
    const documents = await until('the doorway to list the description', async () => {
      const docs = await listed(client, doorway.tcpAddr);
      return docs.some((d) => d.docId === keptMeta) ? docs : undefined;
    });
    // That description alone: not the others, nor any library (its own, empty, ones neither).
    expect(documents.map((d) => d.docId)).toEqual([keptMeta]);
    expect(documents.find((d) => d.docId === keptMeta)).toMatchObject({
      docType: 'item-meta',
      heads: Automerge.getHeads(browserDoc()),
    });

    const heads = await ask(client, doorway.tcpAddr, {
      type: 'GetHeads',
      appId: APP_ID,
      docId: keptMeta,
    });
    expect(heads).toMatchObject({ type: 'Heads', heads: Automerge.getHeads(browserDoc()) });
    const changes = await ask(client, doorway.tcpAddr, {
      type: 'SyncChanges',
      appId: APP_ID,
      docId: keptMeta,
      haveHeads: [],
      bloomFilter: new Uint8Array(0),
    });
    if (changes.type !== 'Changes') throw new Error(`expected Changes, got ${changes.type}`);
    let rebuilt = Automerge.init<ItemMeta>();
    for (const c of changes.changes) rebuilt = Automerge.loadIncremental(rebuilt, c);
    expect(rebuilt.title).toBe('Kept on the doorway');
    expect(rebuilt.hash).toBe(kept.blob_hash);
    for (const id of hidden) {
      expect(
        await ask(client, doorway.tcpAddr, { type: 'GetHeads', appId: APP_ID, docId: id }),
      ).toMatchObject({ type: 'NotFound' });
    }

    // A change that would make the description describe another item: refused, nothing applied.
    const moved = Automerge.change(Automerge.clone(rebuilt), (d) => {
      d.hash = notHeld.blob_hash;
    });
    const change = Automerge.getLastLocalChange(moved) as Uint8Array;
    await expect(
      ask(client, doorway.tcpAddr, {
        type: 'AnnounceChange',
        appId: APP_ID,
        docId: keptMeta,
        changeHash: Automerge.decodeChange(change).hash,
        changeData: change,
      }),
    ).rejects.toThrow(/no longer be a document this peer keeps/);
    expect(
      await ask(client, doorway.tcpAddr, { type: 'GetHeads', appId: APP_ID, docId: keptMeta }),
    ).toMatchObject({ heads: Automerge.getHeads(rebuilt) });

    // Garbage and an oversized frame: an error (or the stream cut), and it goes on serving.
    const garbage = await raw(client, doorway.tcpAddr, framed(pseudoRandomBytes(64, 9)));
    expect(garbage).not.toBe('undecodable');
    if (garbage !== 'reset' && garbage !== 'undecodable') {
      expect(garbage).toEqual([expect.objectContaining({ type: 'Error' })]);
    }
    const oversized = await raw(client, doorway.tcpAddr, framed(new Uint8Array(8), CAP + 1));
    expect(oversized).not.toBe('undecodable');
    if (oversized !== 'reset' && oversized !== 'undecodable') {
      expect(oversized[0]).toMatchObject({
        type: 'Error',
        message: expect.stringMatching(/over the cap/),
      });
    }
    const wellFormed = encodeDocSyncMessage({ type: 'GetHeads', appId: APP_ID, docId: keptMeta });
    expect(await raw(client, doorway.tcpAddr, wellFormed)).toMatchObject([
      { type: 'Heads', heads: Automerge.getHeads(browserDoc()) },
    ]);

    // The browser leaves; the doorway restarts on its data directory and still serves it.
    const expected = Automerge.getHeads(browserDoc());
    stops.splice(stops.indexOf(stopBrowser), 1);
    await stopBrowser();
    doorway.process.child.kill('SIGTERM');
    expect(await doorway.process.exited, doorway.process.output().slice(-3000)).toBe(0);
    // What it keeps on disk: that description alone, no other document the browser synced.
    const syncDir = join(state, 'store', 'sync');
    const eventLog = await FileEventLog.open({ file: join(syncDir, 'events.log') });
    const known = await eventLog.knownDocs();
    expect(known).toContain(keptMeta);
    for (const id of hidden) expect(known).not.toContain(id);
    // (The rest is the doorway's own, empty, shared library: local events.)
    const received = await eventLog.remoteEvents(browserId);
    expect(new Set(received.map((e) => e.doc_id))).toEqual(new Set([keptMeta]));
    eventLog.close();
    const docDir = (id: string) => join(syncDir, 'automerge', id.slice(0, 2), id.slice(2));
    expect(existsSync(docDir(keptMeta))).toBe(true);
    for (const id of hidden) expect(existsSync(docDir(id))).toBe(false);

    doorway = await doorwayOn(state);
    await client.dial(doorway.tcpAddr);
    const again = await listed(client, doorway.tcpAddr);
    expect(again.map((d) => d.docId)).toEqual([keptMeta]);
    expect(
      await ask(client, doorway.tcpAddr, { type: 'GetHeads', appId: APP_ID, docId: keptMeta }),
    ).toMatchObject({ type: 'Heads', heads: expected });
  }, 120_000);
});
