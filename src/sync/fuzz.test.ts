/**
 * Fault / bad-input suite of the sync layer: over a thousand deterministic, seeded frames of
 * `/elohim/positions/1.0.0` and `/elohim/automerge/1.0.0` (truncated, oversized, garbage
 * MessagePack and CBOR, wrong shapes, types and variants, unknown documents, positions from
 * the future, bad change bytes, bad hellos, spoofed senders) sent to a real libp2p node
 * running the SyncService and the Libp2pNetworkAdapter over one pre-established connection;
 * and the answers of a rogue peer to that node's own DocRequests and SyncRequests (bad
 * changes, bad pages). After every batch the node must still answer a valid SyncRequest and
 * serve a document over the automerge protocol, and its EventLog and its Repo's documents
 * must be exactly as seeded: nothing from bad input is stored. A summary (category → count,
 * outcomes) is printed at the end.
 */
import 'fake-indexeddb/auto';
import * as Automerge from '@automerge/automerge';
import { cbor, type DocHandle } from '@automerge/automerge-repo';
import type { Libp2p } from '@libp2p/interface';
import type { Multiaddr } from '@multiformats/multiaddr';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { addrOf, loopbackNode, readAll } from '../test-support/libp2p.ts';
import { FrameReader } from '../wire/index.ts';
import { generate } from './fuzz-cases.ts';
import {
  BATCH,
  CAP,
  type Case,
  cborFrame,
  classifySync,
  drain,
  type Fixture,
  MAX_GAP,
  type Outcome,
  type Rogue,
  rogueServe,
  SEED,
  TIMEOUT_MS,
} from './fuzz-support.ts';
import {
  AUTOMERGE_PROTOCOL,
  createLibrary,
  decodeSyncResponse,
  encodeSyncMessage,
  POSITIONS_PROTOCOL,
  seedItem,
} from './index.ts';
import { connect, type TestPeer, testPeer, until } from './test-support.ts';

// ---------------------------------------------------------------------------------------------

describe('fuzzed sync frames against a live peer', () => {
  let server: TestPeer;
  let honest: TestPeer;
  let rogue: Libp2p;
  let addr: Multiaddr;
  let fixture: Fixture;
  const rogueState: Rogue = { docs: new Map(), page: undefined, asked: { doc: 0, page: 0 } };

  beforeAll(async () => {
    server = await testPeer('server', {
      adapter: { maxFrameBytes: CAP, timeoutMs: TIMEOUT_MS },
      service: { maxFrameBytes: CAP, timeoutMs: TIMEOUT_MS, maxGap: MAX_GAP },
    });
    honest = await testPeer('honest', { adapter: true });
    await connect(honest, server);
    await until(() => server.repo.peers.includes(honest.repo.peerId), 'the honest repo peer');

    const library = createLibrary(server.repo, server.node.peerId.toString(), server.service);
    const { meta } = seedItem(
      server.repo,
      library,
      {
        blob_hash: `sha256-${'5'.repeat(64)}`,
        blob_cid: 'bafkreifuzz',
        total_size: 1234,
        mime_type: 'text/plain',
        reach: 'commons',
        name: 'fuzz.txt',
      },
      { tracker: server.service, tags: ['seed'] },
    );
    await until(async () => (await server.log.localHead()) === 3, 'the 3 seed events');

    let foreign = Automerge.change(Automerge.init<{ n: number }>(), (d) => {
      d.n = 1;
    });
    foreign = Automerge.change(foreign, (d) => {
      d.n = 2;
    });
    const [first, second] = Automerge.getAllChanges(foreign) as [Uint8Array, Uint8Array];
    const [, opening] = Automerge.generateSyncMessage(Automerge.init(), Automerge.initSyncState());
    fixture = {
      library: library.documentId,
      meta: meta.documentId,
      libraryHeads: Automerge.getHeads(library.doc()),
      serverRepoPeer: server.repo.peerId as string,
      honestRepoPeer: honest.repo.peerId as string,
      foreign: {
        first,
        second,
        firstHash: Automerge.decodeChange(first).hash,
        secondHash: Automerge.decodeChange(second).hash,
      },
      openingSync: opening as Uint8Array,
    };

    rogue = await loopbackNode(false);
    await rogue.handle(POSITIONS_PROTOCOL, rogueServe(rogueState), { maxInboundStreams: 64 });
    addr = addrOf(server.node);
    // One connection for the whole run: concurrent first dials would race to create several.
    await rogue.dial(addr);
    await until(() => server.node.getConnections(rogue.peerId).length > 0, 'the rogue connection');
  });

  afterAll(async () => {
    await rogue?.stop();
    await honest?.stop();
    await server?.stop();
  });

  /** The node's stored state: its log, and its Repo's documents that hold content. */
  async function snapshot() {
    const docs: Record<string, string[]> = {};
    for (const [id, h] of Object.entries(server.repo.handles)) {
      const handle = h as DocHandle<unknown>;
      if (handle.isReady()) docs[id] = Automerge.getHeads(handle.doc() as Automerge.Doc<unknown>);
    }
    const rogueId = rogue.peerId.toString();
    return {
      local: (await server.log.localSince(0, 100)).events,
      fromRogue: await server.log.remoteEvents(rogueId),
      rogueCursor: await server.log.contiguous(rogueId),
      knownDocs: (await server.log.knownDocs()).sort(),
      docs,
    };
  }

  /** The node still answers a SyncRequest and still serves a document over automerge. */
  async function alive(probe: number): Promise<void> {
    const s = await rogue.dialProtocol(addr, POSITIONS_PROTOCOL);
    s.send(encodeSyncMessage({ type: 'SyncRequest', since: 0, limit: 10 }));
    await s.close();
    const answer = await readAll(s, 5_000);
    const decoded = decodeSyncResponse(answer.subarray(4));
    expect(decoded.type === 'SyncResponse' && decoded.events.map((e) => e.position)).toEqual([
      1, 2, 3,
    ]);

    const me = `probe-${probe}`;
    const a = await rogue.dialProtocol(addr, AUTOMERGE_PROTOCOL);
    const reader = new FrameReader(a);
    try {
      a.send(
        cborFrame({ type: 'elohim-hello', protocolVersion: 1, senderId: me, peerMetadata: {} }),
      );
      a.send(
        cborFrame({
          type: 'request',
          senderId: me,
          targetId: fixture.serverRepoPeer,
          documentId: fixture.library,
          data: fixture.openingSync,
        }),
      );
      const deadline = Date.now() + 5_000;
      for (;;) {
        const payload = await reader.read({ maxFrameBytes: CAP, timeoutMs: deadline - Date.now() });
        expect(payload).toBeDefined();
        const m = cbor.decode(payload as Uint8Array) as { type: string; documentId?: string };
        if (m.type === 'sync' && m.documentId === fixture.library) break;
      }
    } finally {
      reader.dispose();
      await a.close().catch(() => a.abort(new Error('probe done')));
    }
  }

  it('survives ≥ 1000 bad frames: no crash, nothing stored, still serving', async () => {
    const cases = generate(fixture);
    const before = await snapshot();
    expect(Object.keys(before.docs).sort()).toEqual([fixture.library, fixture.meta].sort());
    expect(before.local.length).toBe(3);

    const outcomes = new Map<string, Map<Outcome, number>>();
    const wrong: string[] = [];
    const note = (c: Case, outcome: Outcome) => {
      const row = outcomes.get(c.category) ?? new Map<Outcome, number>();
      row.set(outcome, (row.get(outcome) ?? 0) + 1);
      outcomes.set(c.category, row);
      if (!c.allowed.includes(outcome)) {
        wrong.push(`${c.category}: got ${outcome}, expected ${c.allowed.join(' | ')}`);
      }
    };

    const send = async (c: Case): Promise<void> => {
      if (c.doc) rogueState.docs.set(c.doc.id, c.doc.answer);
      let outcome: Outcome;
      try {
        const stream = await rogue.dialProtocol(addr, c.protocol as string);
        if (c.bytes && c.bytes.byteLength > 0) stream.send(c.bytes);
        await stream.close();
        const { bytes, reset } = await drain(stream);
        if (c.protocol === POSITIONS_PROTOCOL)
          outcome = reset ? 'reset' : classifySync(bytes as Uint8Array);
        else outcome = reset ? 'reset' : 'closed';
      } catch {
        outcome = 'reset';
      }
      note(c, outcome);
    };
    const catchUp = async (c: Case): Promise<void> => {
      if (c.doc) rogueState.docs.set(c.doc.id, c.doc.answer);
      rogueState.page = c.page;
      try {
        const stored = await server.service?.catchUp(rogue.peerId);
        note(c, `resolved(${stored})`);
      } catch (e) {
        note(c, 'rejected');
        const row = outcomes.get(`  ↳ ${c.category}: errors`) ?? new Map<Outcome, number>();
        const name = e instanceof Error ? e.name : 'thrown';
        row.set(name, (row.get(name) ?? 0) + 1);
        outcomes.set(`  ↳ ${c.category}: errors`, row);
      } finally {
        rogueState.page = undefined;
      }
    };

    // automerge-repo logs what it refuses (console.log): keep the output to the summary.
    const quiet = vi.spyOn(console, 'log').mockImplementation(() => {});
    const quietErrors = vi.spyOn(console, 'error').mockImplementation(() => {});
    const started = performance.now();
    let probes = 0;
    try {
      for (let i = 0; i < cases.length; i += BATCH) {
        const batch = cases.slice(i, i + BATCH);
        // Catch-ups from one peer run one at a time in the node anyway.
        await Promise.all(batch.filter((c) => c.protocol).map(send));
        for (const c of batch.filter((c) => !c.protocol)) await catchUp(c);
        await alive(++probes);
        expect(await snapshot()).toEqual(before);
      }
      // Whatever the node still had in flight has had time to finish: still nothing stored.
      await new Promise((resolve) => setTimeout(resolve, 2 * TIMEOUT_MS));
      await alive(++probes);
      expect(await snapshot()).toEqual(before);
    } finally {
      quiet.mockRestore();
      quietErrors.mockRestore();
    }
    const seconds = (performance.now() - started) / 1000;

    const rows = [...outcomes].map(([category, row]) => ({
      category,
      count: [...row.values()].reduce((a, b) => a + b, 0),
      outcomes: [...row].map(([o, n]) => `${o} ${n}`).join(', '),
    }));
    const total = rows.filter((r) => !r.category.startsWith(' ')).reduce((a, r) => a + r.count, 0);
    console.log(
      `fuzzed /elohim/positions/1.0.0 and /elohim/automerge/1.0.0 frames (seed ${SEED.toString(16)}):\n` +
        rows
          .map((r) => `  ${r.category.padEnd(62)} ${String(r.count).padStart(5)}   ${r.outcomes}`)
          .join('\n') +
        `\n  ${'total'.padEnd(62)} ${String(total).padStart(5)}   in ${seconds.toFixed(1)} s; ` +
        `the node asked the rogue ${rogueState.asked.doc} DocRequests, ${rogueState.asked.page} SyncRequests; ` +
        `${probes} liveness probes; errors reported by the node: ${server.errors.length}`,
    );
    expect(wrong).toEqual([]);
    expect(total).toBeGreaterThanOrEqual(1000);
    // The bad answers were really asked for (the Announce and catch-up cases reached the rogue).
    expect(rogueState.asked.doc).toBeGreaterThan(150);
    expect(rogueState.asked.page).toBeGreaterThanOrEqual(84);
  }, 300_000);
});
