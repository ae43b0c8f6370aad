import { type Encodable, encodeMsgpack } from '../wire/index.ts';
import { automergeCases } from './fuzz-automerge-cases.ts';
import {
  CAP,
  type Case,
  concat,
  ERROR,
  type Fixture,
  flip,
  framed,
  hex,
  junk,
  MAX_GAP,
  msgpackFrame,
  type Outcome,
  prng,
  type RogueAnswer,
  SEED,
  unknownDocId,
} from './fuzz-support.ts';
import { encodeSyncMessage, POSITIONS_PROTOCOL, type SyncEvent } from './index.ts';

export function generate(f: Fixture): Case[] {
  const r = prng(SEED);
  const cases: Case[] = [];
  const add = (n: number, category: string, make: (i: number) => Omit<Case, 'category'>) => {
    for (let i = 0; i < n; i++) cases.push({ category, ...make(i) });
  };
  const sync = (bytes: Uint8Array, allowed: readonly Outcome[] = ERROR) => ({
    protocol: POSITIONS_PROTOCOL,
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

  // ---- /elohim/positions/1.0.0, the node serving

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
      protocol: POSITIONS_PROTOCOL,
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
      protocol: POSITIONS_PROTOCOL,
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

  // ---- /elohim/positions/1.0.0, the node asking (catch-up): bad SyncResponse pages

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

  automergeCases({ f, r, add, someHash });
  return cases;
}
