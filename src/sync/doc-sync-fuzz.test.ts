/**
 * Abuse of `/elohim/sync/1.0.0` (the Rust message set) against a live SyncService: seeded
 * mutations of the golden request frames, oversized and truncated frames, a stalled stream,
 * lists over their caps, requests about a document the asker may not receive, and more streams
 * at once than the service takes. Every stream must end in bounded time with at most one
 * well-formed answer; nothing is written; the hidden document stays indistinguishable from
 * one that does not exist; and the service still answers afterwards.
 */
import 'fake-indexeddb/auto';
import { readFileSync } from 'node:fs';
import * as Automerge from '@automerge/automerge';
import type { DocHandle } from '@automerge/automerge-repo';
import type { Libp2p } from '@libp2p/interface';
import type { Multiaddr } from '@multiformats/multiaddr';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { framed, prng, splitFrames } from '../test-support/fuzz.ts';
import { addrOf, loopbackNode, readAll } from '../test-support/libp2p.ts';
import {
  APP_ID,
  createLibrary,
  DOC_SYNC_LIMITS,
  type DocSyncRequest,
  type DocSyncResponse,
  decodeDocSyncResponse,
  encodeDocSyncMessage,
  MAX_LIST_LIMIT,
  SYNC_PROTOCOL,
  seedItem,
} from './index.ts';
import { connect, type TestPeer, testPeer, until } from './test-support.ts';

const CAP = 64 * 1024;
const TIMEOUT_MS = 1_500;
const SEED = 0x5eed19;
const MUTATIONS = 300;

const golden = JSON.parse(
  readFileSync(new URL('./golden/sync-1.0.0.json', import.meta.url), 'utf8'),
) as { vectors: { kind: string; name: string; rust: string; bin: string; named: string }[] };
const goldenRequests = golden.vectors
  .filter((v) => v.kind === 'request')
  .flatMap((v) => [v.rust, v.bin, v.named].map((h) => new Uint8Array(Buffer.from(h, 'hex'))));

type Outcome = { answers: DocSyncResponse[] } | 'reset' | 'undecodable';

describe('/elohim/sync/1.0.0 under abuse', () => {
  let server: TestPeer;
  let friend: TestPeer;
  let attacker: Libp2p;
  let addr: Multiaddr;
  let visible: string;
  let hidden: string;

  beforeAll(async () => {
    server = await testPeer('server', {
      service: { maxFrameBytes: CAP, timeoutMs: TIMEOUT_MS },
      reachAware: {},
    });
    const library = createLibrary(server.repo, server.node.peerId.toString(), server.service);
    const { meta } = seedItem(
      server.repo,
      library,
      {
        blob_hash: `sha256-${'7'.repeat(64)}`,
        blob_cid: 'bafkreiabuse',
        total_size: 10,
        mime_type: 'text/plain',
        reach: 'commons',
        name: 'abuse.txt',
      },
      { tracker: server.service },
    );
    visible = meta.documentId;
    hidden = library.documentId;
    // The attacker may receive the description, never the library.
    server.admit((_peer, docId) => docId === visible);
    await until(async () => (await server.log.localHead()) >= 3, 'the seed events');
    friend = await testPeer('friend');
    attacker = await loopbackNode(false);
    addr = addrOf(server.node);
    await attacker.dial(addr);
    await until(() => server.node.getConnections(attacker.peerId).length > 0, 'the connection');
    await connect(friend, server);
  });

  afterAll(async () => {
    await attacker?.stop();
    await friend?.stop();
    await server?.stop();
  });

  /** Heads of every ready document: nothing from bad input may change them. */
  function snapshot(): Record<string, string[]> {
    const docs: Record<string, string[]> = {};
    for (const [id, h] of Object.entries(server.repo.handles)) {
      const handle = h as DocHandle<unknown>;
      if (handle.isReady()) docs[id] = Automerge.getHeads(handle.doc() as Automerge.Doc<unknown>);
    }
    return docs;
  }

  /** Sends raw bytes on one stream (closing our side unless `stall`), reads until it ends. */
  async function raw(bytes: Uint8Array, stall = false): Promise<Outcome> {
    const stream = await attacker.dialProtocol(addr, SYNC_PROTOCOL);
    if (bytes.byteLength > 0) stream.send(bytes);
    if (!stall) await stream.close().catch(() => {});
    let received: Uint8Array;
    try {
      // Longer than the server's own bound: a stream it failed to end fails the test.
      received = await readAll(stream, TIMEOUT_MS + 3_000);
    } catch {
      return 'reset';
    }
    const bodies = splitFrames(received);
    if (bodies === 'undecodable') return 'undecodable';
    try {
      return { answers: bodies.map((b) => decodeDocSyncResponse(b)) };
    } catch {
      return 'undecodable';
    }
  }

  const ask = async (req: DocSyncRequest): Promise<DocSyncResponse> => {
    const outcome = await raw(encodeDocSyncMessage(req));
    if (typeof outcome === 'string' || outcome.answers.length !== 1) {
      throw new Error(`no single answer to ${req.type}: ${JSON.stringify(outcome)}`);
    }
    return outcome.answers[0] as DocSyncResponse;
  };

  async function alive(): Promise<void> {
    expect(await ask({ type: 'GetHeads', appId: APP_ID, docId: visible })).toMatchObject({
      type: 'Heads',
    });
  }

  it(`${MUTATIONS} seeded mutations of the golden requests: one well-formed answer or a reset each`, async () => {
    const before = snapshot();
    const rng = prng(SEED);
    const counts: Record<string, number> = {};
    for (let i = 0; i < MUTATIONS; i++) {
      const body = new Uint8Array(rng.pick(goldenRequests));
      let mutated: Uint8Array = body;
      switch (rng.int(4)) {
        case 0: // flip bytes
          for (let k = 0; k < 1 + rng.int(4); k++) mutated[rng.int(body.length)] = rng.int(256);
          break;
        case 1: // cut short
          mutated = body.subarray(0, rng.int(body.length));
          break;
        case 2: // trailing garbage
          mutated = new Uint8Array([...body, ...rng.bytes(1 + rng.int(8))]);
          break;
        default: // random bytes
          mutated = rng.bytes(1 + rng.int(64));
      }
      const outcome = await raw(framed(mutated));
      expect(outcome).not.toBe('undecodable');
      if (typeof outcome !== 'string') expect(outcome.answers.length).toBeLessThanOrEqual(1);
      const key = typeof outcome === 'string' ? outcome : (outcome.answers[0]?.type ?? 'none');
      counts[key] = (counts[key] ?? 0) + 1;
    }
    // Mutated AnnounceChange data never carries a valid change: nothing was written.
    expect(snapshot()).toEqual(before);
    expect(counts.Error ?? 0).toBeGreaterThan(MUTATIONS / 4);
    await alive();
  }, 120_000);

  it('an oversized declared length, a truncated frame and a stalled stream end in bounded time', async () => {
    const big = await raw(framed(new Uint8Array(8), CAP + 1));
    expect(big).not.toBe('undecodable');
    if (typeof big !== 'string') {
      expect(big.answers[0]).toMatchObject({ type: 'Error' });
      expect((big.answers[0] as { message: string }).message).toMatch(/over the cap/);
    }
    const body = encodeDocSyncMessage({ type: 'GetHeads', appId: APP_ID, docId: visible }).subarray(
      4,
    );
    const cut = await raw(framed(body, body.byteLength + 50));
    expect(cut).not.toBe('undecodable');
    if (typeof cut !== 'string') expect(cut.answers[0]).toMatchObject({ type: 'Error' });
    const started = Date.now();
    await raw(new Uint8Array(0), true);
    expect(Date.now() - started).toBeLessThan(TIMEOUT_MS + 2_500);
    await alive();
  }, 30_000);

  it('lists over their caps are refused; a huge limit is served at most MAX_LIST_LIMIT', async () => {
    // Short strings: the count is over its cap, the frame is not.
    const hashes = Array.from({ length: DOC_SYNC_LIMITS.maxHashes + 1 }, () => 'a');
    expect(
      await ask({ type: 'GetChanges', appId: APP_ID, docId: visible, changeHashes: hashes }),
    ).toMatchObject({ type: 'Error', message: expect.stringMatching(/at most 1024/) });
    expect(
      await ask({
        type: 'SyncChanges',
        appId: APP_ID,
        docId: visible,
        haveHeads: [],
        bloomFilter: new Uint8Array(DOC_SYNC_LIMITS.maxBloomBytes + 1),
      }),
    ).toMatchObject({ type: 'Error' });
    const list = await ask({
      type: 'ListDocuments',
      appId: APP_ID,
      prefix: null,
      offset: 0,
      limit: 0xffff_ffff,
    });
    expect(list.type === 'DocumentList' && list.documents.length).toBeLessThanOrEqual(
      MAX_LIST_LIMIT,
    );
  });

  it('a document the asker may not receive answers exactly as one that does not exist', async () => {
    const before = snapshot();
    const madeUp = '2t5Zx1kmPVrGmjBCdtPjQRPJAVsn';
    const hiddenDoc = server.repo.handles[hidden as never] as DocHandle<unknown>;
    const change = Automerge.getLastLocalChange(
      Automerge.change(Automerge.clone(hiddenDoc.doc() as Automerge.Doc<{ x?: number }>), (d) => {
        d.x = 1;
      }),
    ) as Uint8Array;
    const hash = Automerge.decodeChange(change).hash;
    const probes = (docId: string): DocSyncRequest[] => [
      { type: 'GetHeads', appId: APP_ID, docId },
      { type: 'SyncChanges', appId: APP_ID, docId, haveHeads: [], bloomFilter: null },
      {
        type: 'GetChanges',
        appId: APP_ID,
        docId,
        changeHashes: Automerge.getHeads(hiddenDoc.doc() as never),
      },
      { type: 'AnnounceChange', appId: APP_ID, docId, changeHash: hash, changeData: change },
    ];
    for (const [i, req] of probes(hidden).entries()) {
      const answer = await ask(req);
      const unknown = await ask(probes(madeUp)[i] as DocSyncRequest);
      expect(answer).toEqual({ type: 'NotFound', appId: APP_ID, docId: hidden });
      expect(unknown).toEqual({ type: 'NotFound', appId: APP_ID, docId: madeUp });
    }
    const list = await ask({
      type: 'ListDocuments',
      appId: APP_ID,
      prefix: null,
      offset: 0,
      limit: 10,
    });
    expect(list).toMatchObject({ type: 'DocumentList', total: 1 });
    expect(list.type === 'DocumentList' && list.documents.map((d) => d.docId)).toEqual([visible]);
    expect(snapshot()).toEqual(before);
  });

  it('pages SyncChanges under the frame cap: has_more and new_heads lead to the whole document', async () => {
    const handle = server.repo.handles[visible as never] as DocHandle<{ title: string }>;
    for (let i = 0; i < 3; i++) {
      handle.change((d) => {
        d.title = `edit ${i}`;
      });
    }
    const target = Automerge.getHeads(handle.doc() as Automerge.Doc<unknown>);
    let copy = Automerge.init<{ title?: string }>();
    let pages = 0;
    for (let more = true; more && pages < 50; pages++) {
      const page = await ask({
        type: 'SyncChanges',
        appId: APP_ID,
        docId: visible,
        haveHeads: Automerge.getHeads(copy),
        bloomFilter: null,
      });
      if (page.type !== 'Changes') throw new Error(`got ${page.type}`);
      for (const c of page.changes) copy = Automerge.loadIncremental(copy, c);
      // new_heads say where the page ends: the asker's heads once it applied the page.
      expect(Automerge.getHeads(copy)).toEqual(page.newHeads);
      more = page.hasMore;
    }
    // This server's frame leaves room for one change per page (64 KiB cap).
    expect(pages).toBeGreaterThanOrEqual(5);
    expect(Automerge.getHeads(copy)).toEqual(target);
    expect(copy.title).toBe('edit 2');
  });

  it('more streams at once than it takes: the rest are reset, and it still answers', async () => {
    const req = encodeDocSyncMessage({ type: 'GetHeads', appId: APP_ID, docId: visible });
    const outcomes = await Promise.all(
      Array.from({ length: 48 }, () => raw(req).catch(() => 'reset' as const)),
    );
    const answered = outcomes.filter((o) => typeof o !== 'string' && o.answers.length === 1);
    expect(answered.length).toBeGreaterThan(0);
    expect(outcomes).not.toContain('undecodable');
    await alive();
  }, 30_000);
});
