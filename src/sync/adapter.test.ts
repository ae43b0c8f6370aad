import 'fake-indexeddb/auto';
import { isDeepStrictEqual } from 'node:util';
import { cbor, type DocHandle, Repo, type PeerId as RepoPeerId } from '@automerge/automerge-repo';
import type { Libp2p } from '@libp2p/interface';
import { afterEach, describe, expect, it } from 'vitest';
import { addrOf, loopbackNode } from '../test-support/libp2p.ts';
import { writeFrame } from '../wire/index.ts';
import {
  AdapterNotConnectedError,
  AUTOMERGE_PROTOCOL,
  addTag,
  createLibrary,
  findItemMeta,
  type ItemMeta,
  Libp2pNetworkAdapter,
  type LibraryDoc,
  libp2pNetworkAdapter,
  SyncFrameTooLargeError,
  SyncProtocolError,
  seedItem,
  setTitle,
  tagsOf,
} from './index.ts';
import { connect, disconnect, type TestPeer, testPeer, until } from './test-support.ts';

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(cleanup.splice(0).map((f) => f()));
});

async function peer(name: string, onError?: (e: unknown) => void): Promise<TestPeer> {
  const p = await testPeer(name, { adapter: onError ? { onError } : true });
  cleanup.push(() => p.stop());
  return p;
}

function frame(message: unknown): Uint8Array {
  const body = cbor.encode(message);
  const out = new Uint8Array(4 + body.byteLength);
  new DataView(out.buffer).setUint32(0, body.byteLength);
  out.set(body, 4);
  return out;
}

describe('Libp2pNetworkAdapter (/elohim/automerge/1.0.0)', () => {
  it('syncs a Repo document live, and another peer finds an item’s metadata via meta_doc', async () => {
    const a = await peer('a');
    const b = await peer('b');
    await connect(a, b);
    await until(() => a.repo.peers.length === 1 && b.repo.peers.length === 1, 'repo peers');
    // Both sides opened a stream; each kept exactly one for sending.
    expect(a.adapter?.connectedPeers).toEqual([b.repo.peerId]);
    expect(b.adapter?.connectedPeers).toEqual([a.repo.peerId]);

    const library = createLibrary(a.repo, 'agent-a');
    const { item, meta } = seedItem(a.repo, library, {
      blob_hash: `sha256-${'1'.repeat(64)}`,
      blob_cid: 'bafkreiexample',
      total_size: 42,
      mime_type: 'image/png',
      reach: 'neighborhood',
      name: 'cat.png',
    });
    const bLibrary = await b.repo.find<LibraryDoc>(library.url);
    const entry = bLibrary.doc().items[item.hash];
    expect(entry).toMatchObject({
      name: 'cat.png',
      mime: 'image/png',
      size: 42,
      reach: 'neighborhood',
    });
    const bMeta = await findItemMeta(b.repo, entry as { meta_doc: typeof item.meta_doc });
    expect(bMeta.doc().title).toBe('cat.png');

    setTitle(meta, 'A cat');
    await until(() => bMeta.doc().title === 'A cat', 'the edit to reach B');
  });

  it('opens streams to peers connected before the Repo starts', async () => {
    const nodeA = await loopbackNode();
    const nodeB = await loopbackNode();
    await nodeA.dial(addrOf(nodeB));
    // The listener registers its side of the connection a little after the dialer.
    await until(() => nodeB.getConnections().length === 1, 'B to see the connection');
    const repoA = new Repo({
      network: [new Libp2pNetworkAdapter(nodeA)],
      peerId: 'ra' as RepoPeerId,
    });
    const repoB = new Repo({
      network: [new Libp2pNetworkAdapter(nodeB)],
      peerId: 'rb' as RepoPeerId,
    });
    cleanup.push(async () => {
      await Promise.all([repoA.shutdown(), repoB.shutdown()]);
      await Promise.all([nodeA.stop(), nodeB.stop()]);
    });
    const doc = repoA.create({ hello: 'world' });
    const found = await repoB.find<{ hello: string }>(doc.url);
    expect(found.doc().hello).toBe('world');
  });

  it('is a service: the Repo starts it (registering the protocol) and stops it (unregistering)', async () => {
    const node = await loopbackNode();
    cleanup.push(async () => node.stop());
    const adapter = libp2pNetworkAdapter()(node);
    // Without a Repo it has no repo peer id to say hello with.
    await expect(adapter.start()).rejects.toBeInstanceOf(AdapterNotConnectedError);
    expect(node.getProtocols()).not.toContain(AUTOMERGE_PROTOCOL);

    const repo = new Repo({ network: [adapter], peerId: 'service' as RepoPeerId });
    await until(() => node.getProtocols().includes(AUTOMERGE_PROTOCOL), 'the handler');
    await adapter.whenReady();
    await repo.shutdown();
    await until(() => !node.getProtocols().includes(AUTOMERGE_PROTOCOL), 'the handler to go');
  });

  it('merges concurrent offline edits after reconnecting (tags x and y)', async () => {
    const a = await peer('a');
    const b = await peer('b');
    await connect(a, b);
    await until(() => a.repo.peers.length === 1 && b.repo.peers.length === 1, 'repo peers');
    const library = createLibrary(a.repo, 'agent-a');
    const { meta } = seedItem(a.repo, library, {
      blob_hash: `sha256-${'2'.repeat(64)}`,
      blob_cid: 'bafkreiother',
      total_size: 7,
      mime_type: 'text/plain',
      reach: 'commons',
    });
    const bMeta = await b.repo.find<ItemMeta>(meta.url);
    await disconnect(a, b);
    await until(() => a.repo.peers.length === 0 && b.repo.peers.length === 0, 'the peers to part');

    setTitle(meta, 'from A');
    addTag(meta, 'x');
    setTitle(bMeta, 'from B');
    addTag(bMeta, 'y');
    expect(meta.doc().tags).toEqual(['x']);

    await connect(b, a);
    await until(
      () => isDeepStrictEqual(meta.doc(), bMeta.doc()) && meta.doc().tags.length === 2,
      'the documents to converge',
    );
    expect(tagsOf(meta.doc()).sort()).toEqual(['x', 'y']);
    expect(['from A', 'from B']).toContain(bMeta.doc().title);
  });

  it('resets a stream with an oversized frame, a spoofed sender or an impostor of this repo; other peers are unaffected', async () => {
    const errors: unknown[] = [];
    const a = await peer('a', (e) => errors.push(e));
    const b = await peer('b');
    await connect(a, b);
    await until(() => a.repo.peers.length === 1, 'A to see B');

    const rogue: Libp2p = await loopbackNode(false);
    cleanup.push(async () => rogue.stop());
    // A spoofed message is dropped, the stream stays up.
    const s1 = await rogue.dialProtocol(addrOf(a.node), AUTOMERGE_PROTOCOL);
    const hello = { type: 'elohim-hello', protocolVersion: 1, senderId: 'rogue', peerMetadata: {} };
    await writeFrame(s1, frame(hello));
    const spoof = {
      type: 'sync',
      senderId: b.repo.peerId,
      targetId: a.repo.peerId,
      documentId: '2xTnVbL1JhBo3kBqrKSyKyiAF7QK',
      data: new Uint8Array([1]),
    };
    await writeFrame(s1, frame(spoof));
    await until(
      () => errors.some((e) => e instanceof SyncProtocolError),
      'the spoof to be dropped',
    );
    expect(String(errors.find((e) => e instanceof SyncProtocolError))).toMatch(/misaddressed/);
    expect(s1.status).toBe('open');

    // A header declaring 9 MiB: the stream is reset before any of the body is buffered.
    s1.send(new Uint8Array([0x00, 0x90, 0x00, 0x00]));
    await until(() => errors.some((e) => e instanceof SyncFrameTooLargeError), 'the reset');
    expect(String(errors.find((e) => e instanceof SyncFrameTooLargeError))).toMatch(
      /9437184 bytes is over the cap of 8388608 bytes/,
    );
    await until(() => s1.status !== 'open', 'the stream to close');
    expect(a.repo.peers).toEqual([b.repo.peerId]);

    // A peer claiming to be A's own repo is refused outright.
    const s2 = await rogue.dialProtocol(addrOf(a.node), AUTOMERGE_PROTOCOL);
    await writeFrame(s2, frame({ ...hello, senderId: a.repo.peerId }));
    await until(() => s2.status !== 'open', 'the impostor stream to close');
    expect(String(errors.findLast((e) => e instanceof SyncProtocolError))).toMatch(
      /is this repo itself/,
    );
    expect(a.adapter?.libp2pPeerOf(a.repo.peerId)).toBeUndefined();
    expect(a.repo.peers).toEqual([b.repo.peerId]);

    // Sync with B still works.
    const doc = a.repo.create<{ n: number }>({ n: 1 });
    const found: DocHandle<{ n: number }> = await b.repo.find(doc.url);
    expect(found.doc().n).toBe(1);
  });
});
