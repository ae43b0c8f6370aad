/**
 * Fault / bad-input suite of the sync layer: over a thousand deterministic, seeded frames of
 * `/elohim/sync/1.0.0` and `/elohim/automerge/1.0.0` (truncated, oversized, garbage
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
import {
  type BinaryDocumentId,
  cbor,
  type DocHandle,
  type DocumentId,
  parseAutomergeUrl,
  stringifyAutomergeUrl,
} from '@automerge/automerge-repo';
import type { Libp2p, Stream } from '@libp2p/interface';
import type { Multiaddr } from '@multiformats/multiaddr';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { addrOf, loopbackNode, readAll } from '../test-support/libp2p.ts';
import { type Encodable, encodeMsgpack, FrameReader } from '../wire/index.ts';
import {
  AUTOMERGE_PROTOCOL,
  createLibrary,
  decodeSyncRequest,
  decodeSyncResponse,
  encodeSyncMessage,
  SYNC_PROTOCOL,
  type SyncEvent,
  seedItem,
} from './index.ts';
import { connect, type TestPeer, testPeer, until } from './test-support.ts';

const KiB = 1024;
/** Frame cap of both protocols on the node under test (small, so oversized frames are cheap). */
const CAP = 64 * KiB;
const BATCH = 16;
const SEED = 0x5eed_5c0d;
/** The node's per-request timeout: a rogue that never answers costs this much. */
const TIMEOUT_MS = 1_500;
const MAX_GAP = 1_000;

/** mulberry32: small, fast, and the same sequence on every run. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  return {
    int,
    pick: <T>(items: readonly T[]): T => items[int(items.length)] as T,
    bytes: (n: number) => {
      const out = new Uint8Array(n);
      for (let i = 0; i < n; i++) out[i] = int(256);
      return out;
    },
  };
}
type Rng = ReturnType<typeof prng>;

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** The 4-byte big-endian length header followed by `body`. */
function framed(body: Uint8Array, declared = body.byteLength): Uint8Array {
  const out = new Uint8Array(4 + body.byteLength);
  new DataView(out.buffer).setUint32(0, declared);
  out.set(body, 4);
  return out;
}

const concat = (...parts: Uint8Array[]) => new Uint8Array(Buffer.concat(parts));
const msgpackFrame = (v: Encodable) => framed(encodeMsgpack(v));
const cborFrame = (v: unknown) => framed(cbor.encode(v));

function flip(bytes: Uint8Array, at: number, mask: number): Uint8Array {
  const out = bytes.slice();
  out[at] = (out[at] as number) ^ (mask || 1);
  return out;
}

/** A valid, random automerge-repo DocumentId nobody holds. */
function unknownDocId(r: Rng): DocumentId {
  return parseAutomergeUrl(stringifyAutomergeUrl(r.bytes(16) as BinaryDocumentId)).documentId;
}

/** A MessagePack value of any type, nested up to `depth`. */
function junk(r: Rng, depth = 2): Encodable {
  switch (r.int(depth > 0 ? 11 : 8)) {
    case 0:
      return null;
    case 1:
      return r.int(2) === 0;
    case 2:
      return r.pick([-1, -129, -(2 ** 31), 2 ** 32, 2 ** 53 + 2, 0.5, -0.0, 1e300, Number.NaN]);
    case 3:
      return r.int(1 << 20);
    case 4:
      return r.pick(['', 'Local', 'SyncRequest', 'Announce', '\u0000', 'é'.repeat(r.int(40))]);
    case 5:
      return r.bytes(r.int(40));
    case 6:
      return Array.from({ length: r.int(5) }, () => r.int(300) - 20);
    case 7:
      return r.pick([Number.POSITIVE_INFINITY, 256, 1.5]);
    case 8:
      return Array.from({ length: r.int(4) }, () => junk(r, depth - 1));
    case 9: {
      const o: Record<string, Encodable> = {};
      for (let i = r.int(4); i > 0; i--) {
        o[r.pick(['since', 'limit', 'doc_id', 'heads', 'event', 'x'])] = junk(r, depth - 1);
      }
      return o;
    }
    default:
      return {
        [r.pick(['SyncRequest', 'DocRequest', 'Announce', 'SyncResponse', 'Foo'])]: junk(
          r,
          depth - 1,
        ),
      };
  }
}

/** A CBOR-able value of any type (for automerge-repo message fields). */
function cborJunk(r: Rng): unknown {
  return r.pick<() => unknown>([
    () => null,
    () => undefined,
    () => r.int(1 << 30) - (1 << 29),
    () => 1.5,
    () => '',
    () => 'x'.repeat(r.int(300)),
    () => r.bytes(r.int(64)),
    () => [r.int(5), 'a', null],
    () => ({ nested: { deeper: [1, 2, 3] } }),
    () => new Map<unknown, unknown>([[1, 2]]),
    () => true,
  ])();
}

// ---------------------------------------------------------------------------------------------
// Cases

type Outcome = string;

/** What the rogue peer answers when the node asks it for something (see `rogueServe`). */
type RogueAnswer = Uint8Array | 'close' | 'hang';

interface Case {
  category: string;
  /** Frames sent by the rogue on a stream of `protocol` to the node. */
  protocol?: string;
  bytes?: Uint8Array;
  /** The rogue's answer to the node's DocRequest for this document, if the case causes one. */
  doc?: { id: string; answer: RogueAnswer };
  /** Client side: the node catches up from the rogue, which answers its SyncRequest with this. */
  page?: RogueAnswer;
  /** Outcomes that are correct for this input. */
  allowed: readonly Outcome[];
}

interface Fixture {
  /** The node's own documents (in its log). */
  library: DocumentId;
  meta: DocumentId;
  /** Heads (hex) of the library. */
  libraryHeads: string[];
  /** Repo peer ids an attacker might impersonate. */
  serverRepoPeer: string;
  honestRepoPeer: string;
  /** Changes of a document nobody here holds: [first (no deps), second (depends on first)]. */
  foreign: { first: Uint8Array; second: Uint8Array; secondHash: string; firstHash: string };
  /** A change-free automerge sync message (a fresh peer's opening). */
  openingSync: Uint8Array;
}

const ERROR = ['Error'];

function generate(f: Fixture): Case[] {
  const r = prng(SEED);
  const cases: Case[] = [];
  const add = (n: number, category: string, make: (i: number) => Omit<Case, 'category'>) => {
    for (let i = 0; i < n; i++) cases.push({ category, ...make(i) });
  };
  const sync = (bytes: Uint8Array, allowed: readonly Outcome[] = ERROR) => ({
    protocol: SYNC_PROTOCOL,
    bytes,
    allowed,
  });
  const someHash = () => hex(r.bytes(32));
  const event = (over: Partial<Record<keyof SyncEvent, Encodable>> = {}): Encodable[] => [
    over.position ?? 1 + r.int(3),
    over.doc_id ?? unknownDocId(r),
    over.change_hash ?? someHash(),
    over.kind ?? 'Local',
    over.timestamp ?? 1_700_000_000_000,
  ];
  const someValidRequest = (): Uint8Array =>
    r.pick<() => Uint8Array>([
      () => encodeSyncMessage({ type: 'SyncRequest', since: 0, limit: 10 }),
      () => encodeSyncMessage({ type: 'DocRequest', docId: f.library, heads: [] }),
      () =>
        encodeSyncMessage({
          type: 'Announce',
          event: {
            position: 1,
            doc_id: unknownDocId(r),
            change_hash: someHash(),
            kind: 'Local',
            timestamp: 1,
          },
        }),
    ])();

  // ---- /elohim/sync/1.0.0, the node serving

  add(40, 'sync: truncated header', (i) => {
    const bytes = someValidRequest().subarray(0, i % 4);
    return sync(bytes, bytes.byteLength === 0 ? ['closed'] : ERROR);
  });
  add(60, 'sync: truncated body', () => {
    const frame = someValidRequest();
    return sync(frame.subarray(0, 4 + r.int(frame.byteLength - 4)));
  });
  add(40, 'sync: declared length over cap', () =>
    sync(framed(r.bytes(r.int(64)), CAP + 1 + r.int(2 ** 32 - CAP - 2))),
  );
  add(80, 'sync: random MessagePack garbage', () => sync(framed(r.bytes(1 + r.int(200)))));

  add(160, 'sync: valid MessagePack, wrong shape / types / variants', (i) => {
    switch (i % 8) {
      case 0: // responses sent as requests, or made-up variants
        return sync(
          msgpackFrame({
            [r.pick(['SyncResponse', 'DocResponse', 'Error', 'Sync', 'Foo', '', 'syncrequest'])]:
              junk(r),
          }),
        );
      case 1: // wrong arity
        return sync(
          msgpackFrame({
            [r.pick(['SyncRequest', 'DocRequest', 'Announce'])]: Array.from(
              { length: r.pick([0, 3, 4, 6]) },
              () => junk(r),
            ),
          }),
        );
      case 2: // SyncRequest with fields of the wrong type
        return sync(
          msgpackFrame({
            SyncRequest: r.pick<Encodable[]>([
              [-1, 10],
              [0.5, 10],
              ['0', 10],
              [0, null],
              [0, -5],
              [2 ** 53 + 2, 1],
              [junk(r), junk(r)],
            ]),
          }),
        );
      case 3: // DocRequest with a bad doc id or bad heads
        return sync(
          msgpackFrame({
            DocRequest: r.pick<Encodable[]>([
              [`automerge:${f.library}`, []],
              ['0OIl', []],
              ['', []],
              ['x'.repeat(200), []],
              [7, []],
              [f.library, 'abc'],
              [f.library, [someHash().toUpperCase()]],
              [f.library, [someHash().slice(1)]],
              [f.library, [junk(r)]],
              [f.library, null],
            ]),
          }),
        );
      case 4: // Announce with a malformed event
        return sync(
          msgpackFrame({
            Announce: [
              r.pick<Encodable>([
                event({ position: 0 }),
                event({ position: -3 }),
                event({ position: 1.5 }),
                event({ doc_id: 'not base58 0OIl' }),
                event({ change_hash: 'zz'.repeat(32) }),
                event({ change_hash: someHash().slice(2) }),
                event({ kind: 'Remote' }),
                event({ kind: { Local: 5 } }),
                event({ kind: 3 }),
                event({ timestamp: -1 }),
                event().slice(0, 4),
                junk(r),
              ]),
            ],
          }),
        );
      case 5: // named-field maps with the wrong names
        return sync(
          msgpackFrame({
            [r.pick(['SyncRequest', 'DocRequest'])]: { since: 0, limt: 10, extra: junk(r) },
          }),
        );
      case 6: // two variants in one map, or a bare name that needs fields
        return sync(
          msgpackFrame(
            r.int(2) === 0
              ? { SyncRequest: [0, 1], DocRequest: [f.library, []] }
              : r.pick(['SyncRequest', 'DocRequest', 'Announce']),
          ),
        );
      default: {
        // What our encoder never writes: deep nesting, an integer map key, an ext type.
        const head = encodeMsgpack({ SyncRequest: null }).subarray(0, -1);
        const tail = r.pick([
          concat(new Uint8Array(40).fill(0x91), Uint8Array.of(0x90)),
          Uint8Array.of(0x81, 0x01, 0x90),
          Uint8Array.of(0xd4, 0x01, 0x00),
          Uint8Array.of(0xc1),
        ]);
        return sync(framed(concat(head, tail)));
      }
    }
  });

  add(60, 'sync: SyncRequest out of range (positions from the future)', (i) => {
    switch (i % 4) {
      case 0:
        return sync(
          encodeSyncMessage({ type: 'SyncRequest', since: 4 + r.int(2 ** 40), limit: 5 }),
        );
      case 1:
        return sync(encodeSyncMessage({ type: 'SyncRequest', since: 0, limit: 0 }));
      case 2:
        return sync(
          encodeSyncMessage({ type: 'SyncRequest', since: 0, limit: 501 + r.int(2 ** 31) }),
        );
      default:
        return sync(
          encodeSyncMessage({ type: 'SyncRequest', since: Number.MAX_SAFE_INTEGER, limit: 1 }),
        );
    }
  });

  add(60, 'sync: DocRequest for unknown documents', (i) =>
    sync(
      encodeSyncMessage({
        type: 'DocRequest',
        docId: i % 5 === 0 ? 'x' : unknownDocId(r),
        heads: i % 2 === 0 ? [] : [someHash()],
      }),
    ),
  );
  add(10, 'sync: DocRequest with too many heads', () =>
    sync(msgpackFrame({ DocRequest: [f.library, Array.from({ length: 1025 }, () => someHash())] })),
  );

  add(40, 'sync: Announce far ahead / overflowing', (i) =>
    sync(
      msgpackFrame({
        Announce: [
          event({
            position: [MAX_GAP + 2 + r.int(1000), 2 ** 53 - 1, 2 ** 40][i % 3] as number,
            doc_id: r.int(2) === 0 ? f.library : unknownDocId(r),
          }),
        ],
      }),
    ),
  );

  // Announces the node must fetch from the rogue: its DocResponse is bad in every way.
  const badDocAnswer = (i: number, docId: string, announced: string): RogueAnswer => {
    const garbageChange = () => r.bytes(1 + r.int(300));
    switch (i % 14) {
      case 0:
        return encodeSyncMessage({ type: 'DocResponse', docId, changes: [garbageChange()] });
      case 1: // a real change, truncated
        return encodeSyncMessage({
          type: 'DocResponse',
          docId,
          changes: [f.foreign.second.subarray(0, r.int(f.foreign.second.byteLength))],
        });
      case 2: // a real change, one bit flipped (its checksum no longer matches)
        return encodeSyncMessage({
          type: 'DocResponse',
          docId,
          changes: [flip(f.foreign.second, r.int(f.foreign.second.byteLength), 1 << r.int(8))],
        });
      case 3: // a real change, but not the one announced
        return encodeSyncMessage({ type: 'DocResponse', docId, changes: [f.foreign.second] });
      case 4: // no changes at all
        return encodeSyncMessage({ type: 'DocResponse', docId, changes: [] });
      case 5: // the changes of another document
        return encodeSyncMessage({
          type: 'DocResponse',
          docId: f.library === docId ? f.meta : f.library,
          changes: [garbageChange()],
        });
      case 6:
        return encodeSyncMessage({ type: 'SyncResponse', events: [], hasMore: false });
      case 7:
        return encodeSyncMessage({ type: 'Error', message: 'no' });
      case 8:
        return framed(r.bytes(1 + r.int(100)));
      case 9: {
        const f2 = encodeSyncMessage({ type: 'DocResponse', docId, changes: [garbageChange()] });
        return f2.subarray(0, 4 + r.int(f2.byteLength - 4));
      }
      case 10:
        return framed(r.bytes(8), CAP + 1 + r.int(1 << 20));
      case 11: // changes as an array of integers, one out of range
        return msgpackFrame({ DocResponse: [docId, [[1, 2, 300]]] });
      case 12:
        return announced === f.foreign.secondHash ? 'close' : r.pick(['close', 'close', 'hang']);
      default:
        return msgpackFrame({ DocResponse: [docId, junk(r)] });
    }
  };
  let hangs = 0;
  add(168, 'sync: Announce, then bad changes in the DocResponse', (i) => {
    // Unknown documents, and the node's own (whose heads must not move).
    const docId = [unknownDocId(r), f.library, f.meta][i % 3] as string;
    // Case 3 of badDocAnswer sends the foreign second change; announce the missing first one
    // instead, or a change with missing dependencies (the second, announced, without the first).
    const announced = i % 14 === 3 ? f.foreign.firstHash : someHash();
    let answer = badDocAnswer(i, docId, announced);
    if (answer === 'hang' && ++hangs > 2) answer = 'close';
    return {
      protocol: SYNC_PROTOCOL,
      bytes: msgpackFrame({
        Announce: [[1 + r.int(5), docId, announced, 'Local', 1_700_000_000_000]],
      }),
      doc: { id: docId, answer },
      allowed: ERROR,
    };
  });
  add(14, 'sync: Announce of a change whose dependencies are missing', (i) => {
    const docId = i % 2 === 0 ? unknownDocId(r) : f.meta;
    return {
      protocol: SYNC_PROTOCOL,
      bytes: msgpackFrame({ Announce: [[1, docId, f.foreign.secondHash, 'Local', 1]] }),
      doc: {
        id: docId,
        answer: encodeSyncMessage({ type: 'DocResponse', docId, changes: [f.foreign.second] }),
      },
      allowed: ERROR,
    };
  });

  add(30, 'sync: valid requests (control)', (i) => {
    switch (i % 3) {
      case 0:
        return sync(
          encodeSyncMessage({ type: 'SyncRequest', since: r.int(4), limit: 1 + r.int(500) }),
          ['SyncResponse'],
        );
      case 1:
        return sync(encodeSyncMessage({ type: 'DocRequest', docId: f.library, heads: [] }), [
          'DocResponse',
        ]);
      default:
        return sync(encodeSyncMessage({ type: 'DocRequest', docId: f.meta, heads: [someHash()] }), [
          'DocResponse',
        ]);
    }
  });
  add(20, 'sync: valid frame + trailing garbage', () =>
    sync(
      concat(
        encodeSyncMessage({ type: 'SyncRequest', since: 0, limit: 2 }),
        r.bytes(1 + r.int(100)),
      ),
      ['SyncResponse→Error'],
    ),
  );

  // ---- /elohim/sync/1.0.0, the node asking (catch-up): bad SyncResponse pages

  const page = (events: Encodable[], more: Encodable = false) =>
    msgpackFrame({ SyncResponse: [events, more] });
  add(84, 'sync client: bad SyncResponse pages', (i) => {
    const docId = unknownDocId(r);
    let doc: Case['doc'];
    let answer: RogueAnswer;
    switch (i % 12) {
      case 0: // positions from the future
        answer = page([event({ position: 50 + r.int(1000) })]);
        break;
      case 1: // a gap
        answer = page([event({ position: 1 }), event({ position: 3 })]);
        break;
      case 2: // more than asked for (limit 100)
        answer = page(Array.from({ length: 101 }, (_, k) => event({ position: k + 1 })));
        break;
      case 3:
        answer = page([], true);
        break;
      case 4:
        answer = page([event({ kind: 'Sideways' })]);
        break;
      case 5:
        answer = page([event({ doc_id: '0OIl' })], 'yes');
        break;
      case 6:
        answer = encodeSyncMessage({ type: 'DocResponse', docId, changes: [] });
        break;
      case 7:
        answer = framed(r.bytes(1 + r.int(64)));
        break;
      case 8:
        answer = page([event()]).subarray(0, 6 + r.int(10));
        break;
      case 9:
        answer = framed(r.bytes(4), CAP + 1 + r.int(1 << 20));
        break;
      case 10:
        answer = r.pick(['close', encodeSyncMessage({ type: 'Error', message: 'later' })]);
        break;
      default: {
        // A well-formed page whose change then comes back bad.
        const hash = someHash();
        answer = page([event({ position: 1, doc_id: docId, change_hash: hash })]);
        doc = { id: docId, answer: badDocAnswer(r.int(12), docId, hash) };
      }
    }
    return { page: answer, ...(doc ? { doc } : {}), allowed: ['rejected'] };
  });

  // ---- /elohim/automerge/1.0.0

  const am = (frames: Uint8Array[], allowed: readonly Outcome[]) => ({
    protocol: AUTOMERGE_PROTOCOL,
    bytes: concat(...frames),
    allowed,
  });
  let rogueRepoPeers = 0;
  const hello = (senderId: unknown = `rogue-${++rogueRepoPeers}`) =>
    cborFrame({ type: 'elohim-hello', protocolVersion: 1, senderId, peerMetadata: {} });
  const msg = (sender: string, m: Record<string, unknown>) =>
    cborFrame({ senderId: sender, targetId: f.serverRepoPeer, ...m });
  // Streams the node keeps (well-formed but dropped messages) end cleanly; streams it resets
  // after a bad frame may still have finished first (the reset races the rogue's close).
  const CLEAN = ['closed'];
  const RESET = ['reset', 'closed'];

  add(40, 'automerge: truncated frames', (i) => {
    const frame = i % 2 === 0 ? hello() : msg('x', { type: 'sync', documentId: f.library });
    const cut = frame.subarray(0, 1 + r.int(frame.byteLength - 1));
    return am(i % 2 === 0 ? [cut] : [hello(), cut], RESET);
  });
  add(30, 'automerge: declared length over cap', (i) =>
    am(
      [
        ...(i % 2 === 0 ? [] : [hello()]),
        framed(r.bytes(r.int(64)), CAP + 1 + r.int(2 ** 32 - CAP - 2)),
      ],
      RESET,
    ),
  );
  add(60, 'automerge: garbage CBOR', (i) =>
    i % 2 === 0
      ? am([framed(r.bytes(1 + r.int(200)))], RESET)
      : // After the hello, bytes that happen to decode are dropped; the rest reset the stream.
        am([hello(), framed(r.bytes(1 + r.int(200)))], RESET),
  );
  add(40, 'automerge: bad hellos', (i) =>
    am(
      [
        cborFrame(
          [
            { type: 'hello', protocolVersion: 1, senderId: 'x' },
            { type: 'elohim-hello', protocolVersion: 2, senderId: 'x' },
            { type: 'elohim-hello', protocolVersion: 1, senderId: '' },
            { type: 'elohim-hello', protocolVersion: 1, senderId: r.int(100) },
            { type: 'elohim-hello', protocolVersion: '1', senderId: 'x' },
            { type: 'join', senderId: 'x', supportedProtocolVersions: ['1'] },
            { type: 'sync', senderId: 'x', targetId: f.serverRepoPeer, documentId: f.library },
            cborJunk(r),
          ][i % 8],
        ),
      ],
      RESET,
    ),
  );
  add(60, 'automerge: spoofed senders', (i) => {
    const me = `rogue-${++rogueRepoPeers}`;
    const victim = r.pick([f.honestRepoPeer, f.serverRepoPeer, 'someone-else']);
    const data = r.pick([f.openingSync, r.bytes(20)]);
    switch (i % 4) {
      case 0: // claims to be the honest peer, which another libp2p peer speaks for
        return am(
          [
            hello(f.honestRepoPeer),
            msg(f.honestRepoPeer, { type: 'sync', documentId: f.library, data }),
          ],
          RESET,
        );
      case 1: // speaks for someone else on its own stream
        return am([hello(me), msg(victim, { type: 'sync', documentId: f.library, data })], CLEAN);
      case 2: // misaddressed
        return am(
          [
            hello(me),
            cborFrame({
              type: 'sync',
              senderId: me,
              targetId: r.pick([f.honestRepoPeer, 'nobody', me]),
              documentId: f.meta,
              data,
            }),
          ],
          CLEAN,
        );
      default: // no sender at all
        return am(
          [
            hello(me),
            cborFrame({ type: 'request', targetId: f.serverRepoPeer, documentId: f.meta, data }),
          ],
          CLEAN,
        );
    }
  });
  add(60, 'automerge: malformed messages', (i) => {
    const me = `rogue-${++rogueRepoPeers}`;
    const m: Record<string, unknown> = [
      { type: r.int(9), documentId: f.library },
      { type: null },
      { type: 'sync', documentId: f.library, data: 'not bytes' },
      { type: 'sync', documentId: f.library, data: [1, 2, 3] },
      { type: 'sync', documentId: f.library, data: r.int(1000) },
      { type: 'sync', data: f.openingSync },
      {
        type: 'sync',
        documentId: r.pick(['', '0OIl', 'automerge:x', 42, null]),
        data: f.openingSync,
      },
      { type: 'foo', documentId: f.library, data: r.bytes(4) },
      {
        type: 'ephemeral',
        documentId: f.library,
        data: r.bytes(r.int(50)),
        count: cborJunk(r),
        sessionId: cborJunk(r),
      },
      { type: 'doc-unavailable', documentId: r.pick([f.library, unknownDocId(r)]) },
      { type: 'remote-subscription-change', add: cborJunk(r), remove: cborJunk(r) },
      { type: 'remote-heads-changed', documentId: f.library, newHeads: cborJunk(r) },
    ][i % 12] as Record<string, unknown>;
    return am([hello(me), msg(me, m)], CLEAN);
  });
  add(100, 'automerge: sync messages with bad data', (i) => {
    const me = `rogue-${++rogueRepoPeers}`;
    const documentId = [f.library, f.meta, unknownDocId(r)][i % 3] as string;
    const withChanges = (changes: Uint8Array[]) =>
      Automerge.encodeSyncMessage({ heads: [], need: [], have: [], changes });
    const makers: (() => Uint8Array)[] = [
      () => r.bytes(1 + r.int(200)),
      () => f.openingSync.subarray(0, r.int(f.openingSync.byteLength)),
      () => flip(f.openingSync, r.int(f.openingSync.byteLength), 1 << r.int(8)),
      () => withChanges([r.bytes(1 + r.int(200))]),
      () => withChanges([f.foreign.second.subarray(0, r.int(f.foreign.second.byteLength))]),
      () =>
        withChanges([
          flip(f.foreign.second, 8 + r.int(f.foreign.second.byteLength - 8), 1 << r.int(8)),
        ]),
      // A change whose dependency nobody sends: it may wait in a queue, never in the heads.
      () => withChanges([f.foreign.second]),
      () =>
        Automerge.encodeSyncMessage({
          heads: [someHash()],
          need: [someHash()],
          have: [],
          changes: [],
        }),
      () => new Uint8Array(0),
      () => Uint8Array.of(0x42),
    ];
    const data = (makers[i % makers.length] as () => Uint8Array)();
    return am([hello(me), msg(me, { type: r.pick(['sync', 'request']), documentId, data })], CLEAN);
  });
  return cases;
}

// ---------------------------------------------------------------------------------------------
// Classifying answers

/** Splits a whole sync-protocol answer into frames and sums it up. */
function classifySync(raw: Uint8Array): Outcome {
  if (raw.byteLength === 0) return 'closed';
  const kinds: string[] = [];
  let off = 0;
  while (off < raw.byteLength) {
    if (raw.byteLength - off < 4) return 'undecodable';
    const n = new DataView(raw.buffer, raw.byteOffset + off, 4).getUint32(0);
    const body = raw.subarray(off + 4, off + 4 + n);
    if (body.byteLength < n) return 'undecodable';
    off += 4 + n;
    try {
      kinds.push(decodeSyncResponse(body).type);
    } catch {
      return 'undecodable';
    }
  }
  return kinds.join('→');
}

/** Reads all a stream sends until the remote ends it ('closed') or resets it ('reset'). */
async function drain(
  stream: Stream,
  timeoutMs = 10_000,
): Promise<{ bytes?: Uint8Array; reset: boolean }> {
  try {
    return { bytes: await readAll(stream, timeoutMs), reset: false };
  } catch {
    return { reset: true };
  }
}

// ---------------------------------------------------------------------------------------------
// The rogue's answers to the node's requests

interface Rogue {
  /** DocRequest answers by document. */
  docs: Map<string, RogueAnswer>;
  /** The answer to the next SyncRequest (default: an empty last page). */
  page: RogueAnswer | undefined;
  asked: { doc: number; page: number };
}

function rogueServe(rogue: Rogue) {
  return async (stream: Stream): Promise<void> => {
    const reader = new FrameReader(stream);
    try {
      for (;;) {
        const payload = await reader.read({ maxFrameBytes: 1 << 20, timeoutMs: 10_000 });
        if (payload === undefined) break;
        const req = decodeSyncRequest(payload);
        let answer: RogueAnswer;
        if (req.type === 'DocRequest') {
          rogue.asked.doc++;
          answer =
            rogue.docs.get(req.docId) ??
            encodeSyncMessage({ type: 'Error', message: 'not shared here' });
        } else if (req.type === 'SyncRequest') {
          rogue.asked.page++;
          answer =
            rogue.page ?? encodeSyncMessage({ type: 'SyncResponse', events: [], hasMore: false });
        } else {
          continue; // an Announce from the node: nothing to answer
        }
        if (answer === 'hang') {
          await new Promise((resolve) => setTimeout(resolve, TIMEOUT_MS + 500));
          stream.abort(new Error('rogue hung up'));
          return;
        }
        // One answer per stream (the node asks each request on its own stream); ending it
        // after a truncated answer lets the node see the truncation instead of waiting.
        if (answer !== 'close') stream.send(answer);
        break;
      }
      await stream.close();
    } catch (e) {
      stream.abort(e instanceof Error ? e : new Error(String(e)));
    } finally {
      reader.dispose();
    }
  };
}

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
    await rogue.handle(SYNC_PROTOCOL, rogueServe(rogueState), { maxInboundStreams: 64 });
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
    const s = await rogue.dialProtocol(addr, SYNC_PROTOCOL);
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
        if (c.protocol === SYNC_PROTOCOL)
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
      `fuzzed /elohim/sync/1.0.0 and /elohim/automerge/1.0.0 frames (seed ${SEED.toString(16)}):\n` +
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
  }, 120_000);
});
