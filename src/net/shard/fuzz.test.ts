/**
 * Fault / bad-input suite: over a thousand deterministic, seeded frames (truncated, oversized,
 * garbage, wrong shapes and types, wrong hashes, out-of-range pieces, replicate Offers) sent
 * one per stream to a real libp2p node serving the shard, pieces and replicate protocols from
 * a fake-indexeddb store. After every batch the node must still answer a valid Have and its
 * store must hold exactly what the valid Pushes added; no bad Push is ever acknowledged.
 * A summary (category → count, outcomes) is printed at the end.
 */
import 'fake-indexeddb/auto';
import { createHash } from 'node:crypto';
import type { Libp2p } from '@libp2p/interface';
import type { Multiaddr } from '@multiformats/multiaddr';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ContentHash, ContentStore } from '../../content/index.ts';
import { openTestStore, recordCounts } from '../../test-support/content-store.ts';
import { concat, framed, prng, type Rng, splitFrames } from '../../test-support/fuzz.ts';
import { addrOf, loopbackNode, readAll, testBytes } from '../../test-support/libp2p.ts';
import { type Encodable, encodeFrame, encodeMsgpack, logger } from '../../wire/index.ts';
import {
  decodeAnswer,
  encodeOffer,
  REPLICATE_PROTOCOL,
  type ReplicateServer,
  registerReplicateProtocol,
} from '../replicate/index.ts';
import {
  decodePieceResponse,
  decodeShardResponse,
  encodePieceRequest,
  encodeShardRequest,
  PIECES_PROTOCOL,
  registerShardProtocol,
  SHARD_PROTOCOL,
  type ShardServer,
  shardHave,
  shardLimits,
} from './index.ts';

const KiB = 1024;
const PIECE = KiB;
const MAX_BYTES = 64 * KiB;
const SHARD_FRAME_CAP = shardLimits({ maxBytes: MAX_BYTES }).maxFrameBytes;
/** The pieces and replicate handlers both cap requests at 4 KiB. */
const SMALL_FRAME_CAP = 4096;
const REPLICA_MAX_BYTES = 32 * KiB;
const BATCH = 16;
const SEED = 0x5eed_f022;

const sha = (b: Uint8Array) => `sha256-${createHash('sha256').update(b).digest('hex')}` as const;

type Protocol = typeof SHARD_PROTOCOL | typeof PIECES_PROTOCOL | typeof REPLICATE_PROTOCOL;

/** How the server's answer is summed up: the first answer, and the last when there are several. */
type Outcome = string;

interface Case {
  category: string;
  protocol: Protocol;
  bytes: Uint8Array;
  /** Outcomes that are correct for this input. */
  allowed: readonly Outcome[];
  /** A valid Push: the only input allowed to change the store. */
  push?: { hash: string; size: number };
}

/** `{"<name>": [<fields>]}` with each field given as raw MessagePack (for values our encoder never writes). */
function rawVariant(name: string, fields: Uint8Array[]): Uint8Array {
  return framed(
    concat(
      encodeMsgpack({ [name]: [] }).subarray(0, -1),
      Uint8Array.of(0x90 | fields.length),
      ...fields,
    ),
  );
}

function flip(bytes: Uint8Array, at: number, mask: number): void {
  bytes[at] = (bytes[at] as number) ^ mask;
}

const U64_MAX = Uint8Array.of(0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff);
const I64_MIN = Uint8Array.of(0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0);

/** A MessagePack value of any type, nested up to `depth`. */
function junk(r: Rng, depth = 2): Encodable {
  switch (r.int(depth > 0 ? 12 : 9)) {
    case 0:
      return null;
    case 1:
      return r.int(2) === 0;
    case 2:
      return r.pick([-1, -129, -(2 ** 31), 2 ** 32, 2 ** 53 + 2, -(2 ** 60), 0.5, -0.0, 1e300]);
    case 3:
      return r.int(1 << 20);
    case 4:
      return r.pick([
        '',
        'Get',
        'Have',
        'Push',
        'Offer',
        'sha256-',
        '\u0000',
        'é'.repeat(r.int(50)),
      ]);
    case 5:
      return r.bytes(r.int(40));
    case 6:
      return Array.from({ length: r.int(5) }, () => r.int(300) - 20);
    case 7:
      return Number.NaN;
    case 8:
      return r.pick([Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 256, 1.5]);
    case 9:
      return Array.from({ length: r.int(4) }, () => junk(r, depth - 1));
    case 10: {
      const o: Record<string, Encodable> = {};
      for (let i = r.int(4); i > 0; i--)
        o[r.pick(['Get', 'hash', 'a', 'Push', 'x'])] = junk(r, depth - 1);
      return o;
    }
    default:
      return { [r.pick(['Get', 'Have', 'Push', 'Pieces', 'Offer', 'Data'])]: junk(r, depth - 1) };
  }
}

/** A value that is anything but a valid content hash string. */
function notAHash(r: Rng): Encodable {
  const hex = 'ab'.repeat(32);
  return r.pick<() => Encodable>([
    () => `sha256-${hex.slice(1)}`,
    () => `sha256-${hex}0`,
    () => `sha256-${hex.toUpperCase().replace(/B/g, 'G')}`,
    () => `sha512-${hex}`,
    () => `SHA256-${'g'.repeat(64)}`,
    () => `sha256 -${hex}`,
    () => `sha256-${hex}\u0000`,
    () => `bafkrei${'z'.repeat(51)}`,
    () => `bafkrei${'1'.repeat(52)}`,
    () => `bafy${'a'.repeat(r.int(80))}`,
    () => '',
    () => 'x'.repeat(r.int(10_000)),
    () => 'é'.repeat(64),
    () => hex.slice(0, r.int(64)),
    () => junk(r, 1) as Encodable,
  ])();
}

interface Fixture {
  small: Uint8Array;
  chunkedHash: ContentHash;
  chunkedShards: number;
  /** Pieces per shard of the chunked blob. */
  chunkedPieces: number;
  /** An rs-4-7 blob of which the peer keeps only shard `heldShard`. */
  heldHash: ContentHash;
  heldShard: number;
  heldPieces: number;
}

/** Every category, in a fixed order, from one seeded generator. */
function generate(f: Fixture): Case[] {
  const r = prng(SEED);
  const cases: Case[] = [];
  const smallHash = sha(f.small);
  const add = (n: number, make: (i: number) => Omit<Case, 'category'>, category: string) => {
    for (let i = 0; i < n; i++) cases.push({ category, ...make(i) });
  };
  const protocols: Protocol[] = [SHARD_PROTOCOL, PIECES_PROTOCOL, REPLICATE_PROTOCOL];
  const someValidFrame = (p: Protocol): Uint8Array => {
    if (p === SHARD_PROTOCOL) {
      const data = r.bytes(r.int(200) + 1);
      return r.int(2) === 0
        ? encodeShardRequest({ type: 'Push', hash: sha(data), data })
        : encodeShardRequest({ type: 'Get', hash: smallHash });
    }
    if (p === PIECES_PROTOCOL) {
      return encodePieceRequest({
        type: 'Pieces',
        hash: f.chunkedHash,
        shard: 0,
        first: 0,
        count: 2,
      });
    }
    return encodeOffer({ hash: smallHash, reach: 'commons', owner: null, totalSize: 3000 });
  };
  const ERROR = ['Error'];
  /** A frame the server must answer with an Error. */
  const refused = (protocol: Protocol, bytes: Uint8Array) => ({ protocol, bytes, allowed: ERROR });

  add(
    60,
    (i) => {
      const protocol = r.pick(protocols);
      const bytes = someValidFrame(protocol).subarray(0, i % 4);
      // Nothing sent at all is a clean close, not an error.
      return { protocol, bytes, allowed: bytes.byteLength === 0 ? ['closed'] : ERROR };
    },
    'truncated header',
  );

  add(
    80,
    () => {
      const protocol = r.pick(protocols);
      const frame = someValidFrame(protocol);
      return {
        protocol,
        bytes: frame.subarray(0, 4 + r.int(frame.byteLength - 4)),
        allowed: ERROR,
      };
    },
    'truncated body',
  );

  add(
    60,
    () => {
      const protocol = r.pick(protocols);
      const cap = protocol === SHARD_PROTOCOL ? SHARD_FRAME_CAP : SMALL_FRAME_CAP;
      const declared = cap + 1 + r.int(2 ** 32 - cap - 2);
      return refused(protocol, framed(r.bytes(r.int(64)), declared));
    },
    'declared length over cap',
  );

  add(
    120,
    () => refused(r.pick(protocols), framed(r.bytes(1 + r.int(200)))),
    'random msgpack garbage',
  );

  const arity: Record<string, number> = {
    Get: 1,
    Have: 1,
    Push: 2,
    Manifest: 1,
    Pieces: 4,
    Offer: 4,
  };
  const valid: Record<Protocol, string[]> = {
    [SHARD_PROTOCOL]: ['Get', 'Have', 'Push'],
    [PIECES_PROTOCOL]: ['Manifest', 'Pieces'],
    [REPLICATE_PROTOCOL]: ['Offer'],
  };
  add(
    200,
    (i) => {
      const protocol = r.pick(protocols);
      const names = valid[protocol];
      const name = r.pick(names);
      const n = arity[name] as number;
      const wrongArity = r.pick([0, 1, 2, 3, 5, 6].filter((k) => k !== n));
      let value: Encodable;
      switch (i % 5) {
        case 0: // a variant of another protocol, a response, or made up
          value = {
            [r.pick([
              ...['Data', 'PushAck', 'NotFound', 'Error', 'Accepted', 'Stored', 'End', 'Foo', ''],
              ...protocols.filter((p) => p !== protocol).flatMap((p) => valid[p]),
            ])]: junk(r),
          };
          break;
        case 1:
          value = { [name]: Array.from({ length: wrongArity }, () => junk(r)) };
          break;
        case 2: {
          // Right name and arity; the hash is replaced by a value of another type.
          const first = junk(r, 1);
          value = { [name]: [typeof first === 'string' ? 7 : first, ...Array(n - 1).fill(0)] };
          break;
        }
        case 3: // two variants in one map, or a bare name that needs fields
          value = r.int(2) === 0 ? { [name]: [smallHash], [`${name}s`]: [smallHash] } : name;
          break;
        default: {
          // What our encoder never writes: nesting past the decoder's limit, an integer map
          // key, a duplicate key, an ext type.
          const head = encodeMsgpack({ [name]: null }).subarray(0, -1);
          const tail = r.pick([
            concat(new Uint8Array(40).fill(0x91), Uint8Array.of(0x90)),
            Uint8Array.of(0x81, 0x01, 0x90),
            concat(
              Uint8Array.of(0x82),
              encodeMsgpack('a'),
              Uint8Array.of(0x01),
              encodeMsgpack('a'),
              Uint8Array.of(0x02),
            ),
            Uint8Array.of(0xd4, 0x01, 0x00),
          ]);
          return refused(protocol, framed(concat(head, tail)));
        }
      }
      return refused(protocol, encodeFrame(value));
    },
    'valid msgpack, wrong shape or types',
  );

  add(
    60,
    () => {
      const data = r.bytes(1 + r.int(2000));
      const claimed =
        r.int(2) === 0
          ? sha(r.bytes(data.byteLength))
          : `sha256-${Buffer.from(r.bytes(32)).toString('hex')}`;
      return refused(SHARD_PROTOCOL, encodeFrame({ Push: [claimed, data] }));
    },
    'Push with a wrong hash',
  );

  add(
    60,
    (i) => {
      const data = r.bytes(2 + r.int(2000));
      const hash = sha(data);
      const bad = data.slice();
      let sent: Encodable;
      switch (i % 5) {
        case 0:
          flip(bad, r.int(bad.length), 1 << r.int(8));
          sent = bad;
          break;
        case 1:
          sent = data.subarray(0, data.byteLength - 1);
          break;
        case 2:
          sent = concat(data, Uint8Array.of(r.int(256)));
          break;
        case 3: // rmp-serde's integer-array form, one byte changed
          flip(bad, 0, 0x80);
          sent = Array.from(bad);
          break;
        default: // integer array with an element out of 0..255
          sent = [...Array.from(data.subarray(1)), r.pick([256, -1, 1.5])];
      }
      return refused(SHARD_PROTOCOL, encodeFrame({ Push: [hash, sent] }));
    },
    'Push with wrong bytes for the hash',
  );

  add(
    100,
    () => {
      const name = r.pick(['Get', 'Have', 'Manifest']);
      const protocol = name === 'Manifest' ? PIECES_PROTOCOL : SHARD_PROTOCOL;
      return refused(protocol, encodeFrame({ [name]: [notAHash(r)] }));
    },
    'Get / Have / Manifest with a malformed hash',
  );

  add(
    100,
    (i) => {
      const n = f.chunkedPieces;
      const hash = f.chunkedHash;
      const field = (v: number | string) => encodeMsgpack(v);
      const h = field(hash);
      switch (i % 10) {
        case 0:
          return refused(
            PIECES_PROTOCOL,
            encodePieceRequest({
              type: 'Pieces',
              hash,
              shard: f.chunkedShards + r.int(1000),
              first: 0,
              count: 1,
            }),
          );
        case 1:
          return refused(
            PIECES_PROTOCOL,
            encodePieceRequest({
              type: 'Pieces',
              hash,
              shard: 0,
              first: n + r.int(100),
              count: 1,
            }),
          );
        case 2:
          return refused(
            PIECES_PROTOCOL,
            encodePieceRequest({
              type: 'Pieces',
              hash,
              shard: 0,
              first: r.int(n),
              count: n + 1 + r.int(2 ** 31),
            }),
          );
        case 3:
          return refused(PIECES_PROTOCOL, rawVariant('Pieces', [h, field(0), field(0), field(0)]));
        case 4:
          return refused(
            PIECES_PROTOCOL,
            rawVariant('Pieces', [h, field(-1 - r.int(1000)), field(0), field(1)]),
          );
        case 5:
          return refused(PIECES_PROTOCOL, rawVariant('Pieces', [h, field(0), U64_MAX, field(1)]));
        case 6:
          return refused(PIECES_PROTOCOL, rawVariant('Pieces', [h, field(0), field(0), I64_MIN]));
        case 7:
          return refused(PIECES_PROTOCOL, encodeFrame({ Pieces: [hash, 0.5, 0, 1] }));
        case 8:
          return refused(PIECES_PROTOCOL, encodeFrame({ Pieces: [hash, 0, 2 ** 53 + 2, 1] }));
        default: // a hash nobody here holds: not found, whatever the range
          return {
            protocol: PIECES_PROTOCOL,
            bytes: encodePieceRequest({
              type: 'Pieces',
              hash: sha(r.bytes(8)),
              shard: r.int(9),
              first: r.int(9),
              count: 1 + r.int(9),
            }),
            allowed: ['NotFound'],
          };
      }
    },
    'Pieces with out-of-range shard / piece / count',
  );

  const owner = `uhCAk${'A'.repeat(48)}`;
  add(
    150,
    (i) => {
      const unknown = sha(r.bytes(16));
      const offer = (fields: Encodable) => encodeFrame({ Offer: fields });
      const p = REPLICATE_PROTOCOL;
      switch (i % 10) {
        case 0:
          return {
            protocol: p,
            bytes: offer([unknown, 'commons', null, REPLICA_MAX_BYTES + 1 + r.int(2 ** 40)]),
            allowed: ['Declined'],
          };
        case 1:
          return {
            protocol: p,
            bytes: encodeOffer({
              hash: unknown,
              reach: r.pick(['private', 'invited', 'local', 'neighborhood', 'regional']),
              owner: null,
              totalSize: 100,
            }),
            allowed: ['Declined'],
          };
        case 2:
          return {
            protocol: p,
            bytes: encodeOffer({
              hash: smallHash,
              reach: 'commons',
              owner: null,
              totalSize: f.small.byteLength,
            }),
            allowed: ['Stored'],
          };
        case 3: // accepted, then the pull from this peer (which serves no pieces) fails
          return {
            protocol: p,
            bytes: encodeOffer({
              hash: unknown,
              reach: 'commons',
              owner: null,
              totalSize: 1 + r.int(REPLICA_MAX_BYTES),
            }),
            allowed: ['Accepted→Error', 'Declined'],
          };
        case 4:
          return refused(p, offer([unknown, r.pick(['galactic', '', 'COMMONS', 7]), null, 1]));
        case 5:
          return refused(p, offer([unknown, 'commons', r.pick([owner, 'alice', 42, '']), 1]));
        case 6:
          return refused(
            p,
            offer([unknown, 'commons', null, r.pick([-1, 0.5, 'big', null, 2 ** 53 + 2])]),
          );
        case 7:
          return refused(p, offer([notAHash(r), 'commons', null, 1]));
        case 8: // answers sent as requests
          return refused(
            p,
            encodeFrame(
              r.pick<Encodable>([
                'Accepted',
                { Stored: smallHash },
                { Declined: 'no' },
                { Progress: 5 },
              ]),
            ),
          );
        default:
          return refused(p, offer(Array.from({ length: r.pick([0, 1, 3, 5, 9]) }, () => junk(r))));
      }
    },
    'replicate Offers (bad, declined, held, accepted)',
  );

  add(
    120,
    (i) => {
      const held = f.heldHash;
      const other = (f.heldShard + 1 + r.int(6)) % 7;
      const shardOffer = (fields: Encodable) => encodeFrame({ OfferShard: fields });
      switch (i % 12) {
        case 0:
          return refused(PIECES_PROTOCOL, encodeFrame({ Holds: [notAHash(r)] }));
        case 1:
          return {
            protocol: PIECES_PROTOCOL,
            bytes: encodePieceRequest({ type: 'Holds', hash: sha(r.bytes(12)) }),
            allowed: ['NotFound'],
          };
        case 2:
          return {
            protocol: PIECES_PROTOCOL,
            bytes: encodePieceRequest({ type: 'Holds', hash: r.pick([held, smallHash]) }),
            allowed: ['Holds'],
          };
        case 3: // a shard the peer does not keep
          return refused(
            PIECES_PROTOCOL,
            encodePieceRequest({
              type: 'Pieces',
              hash: held,
              shard: other,
              first: 0,
              count: 1,
            }),
          );
        case 4: // the shard it keeps, past its end
          return refused(
            PIECES_PROTOCOL,
            encodePieceRequest({
              type: 'Pieces',
              hash: held,
              shard: f.heldShard,
              first: f.heldPieces,
              count: 1 + r.int(5),
            }),
          );
        case 5: // the blob of a kept shard is not served whole on the Rust protocol
          return {
            protocol: SHARD_PROTOCOL,
            bytes: encodeShardRequest({ type: r.pick(['Get', 'Have'] as const), hash: held }),
            allowed: ['NotFound', 'Have(false)'],
          };
        case 6: // another shard of a blob it keeps one of: distinct peers only
          return {
            protocol: REPLICATE_PROTOCOL,
            bytes: encodeOffer({
              hash: held,
              reach: 'commons',
              owner: null,
              totalSize: 1,
              shard: other,
            }),
            allowed: ['Declined'],
          };
        case 7: // the shard it keeps, or a shard of a blob it stores whole
          return {
            protocol: REPLICATE_PROTOCOL,
            bytes: encodeOffer(
              r.int(2) === 0
                ? { hash: held, reach: 'commons', owner: null, totalSize: 1, shard: f.heldShard }
                : { hash: smallHash, reach: 'commons', owner: null, totalSize: 1, shard: 0 },
            ),
            allowed: ['Stored'],
          };
        case 8:
          return refused(
            REPLICATE_PROTOCOL,
            shardOffer([sha(r.bytes(8)), r.pick([-1, 0.5, 'two', null]), 'commons', null, 9]),
          );
        case 9:
          return refused(
            REPLICATE_PROTOCOL,
            shardOffer(Array.from({ length: r.pick([0, 4, 6]) }, () => junk(r))),
          );
        case 10: // accepted, then the pull from this peer (which serves no pieces) fails
          return {
            protocol: REPLICATE_PROTOCOL,
            bytes: encodeOffer({
              hash: sha(r.bytes(8)),
              reach: 'commons',
              owner: null,
              totalSize: 1 + r.int(REPLICA_MAX_BYTES),
              shard: r.int(1000),
            }),
            allowed: ['Accepted→Error'],
          };
        default: // the kept shard, served
          return {
            protocol: PIECES_PROTOCOL,
            bytes: encodePieceRequest({
              type: 'Pieces',
              hash: held,
              shard: f.heldShard,
              first: 0,
              count: f.heldPieces,
            }),
            allowed: ['Piece…End'],
          };
      }
    },
    'Holds, kept shards and OfferShard (bad, unheld, distinct)',
  );

  add(
    60,
    (i) => {
      switch (i % 4) {
        case 0: {
          const data = testBytes(200 + i, 10_000 + i); // one piece each
          return {
            protocol: SHARD_PROTOCOL,
            bytes: encodeShardRequest({ type: 'Push', hash: sha(data), data }),
            allowed: ['PushAck'],
            push: { hash: sha(data), size: data.byteLength },
          };
        }
        case 1:
          return {
            protocol: SHARD_PROTOCOL,
            bytes: encodeShardRequest({ type: 'Have', hash: smallHash }),
            allowed: ['Have(true)'],
          };
        case 2:
          return {
            protocol: SHARD_PROTOCOL,
            bytes: encodeShardRequest({ type: 'Get', hash: smallHash }),
            allowed: ['Data(ok)'],
          };
        default:
          return {
            protocol: PIECES_PROTOCOL,
            bytes: encodePieceRequest({
              type: 'Pieces',
              hash: f.chunkedHash,
              shard: r.int(f.chunkedShards),
              first: 0,
              count: f.chunkedPieces,
            }),
            allowed: ['Piece…End'],
          };
      }
    },
    'valid requests (control)',
  );

  add(
    40,
    () => ({
      protocol: SHARD_PROTOCOL,
      bytes: concat(encodeShardRequest({ type: 'Have', hash: smallHash }), r.bytes(1 + r.int(100))),
      allowed: ['Have(true)'],
    }),
    'valid frame + trailing bytes',
  );

  return cases;
}

/** Splits a whole answer into frames and sums it up as an Outcome. */
function classify(protocol: Protocol, raw: Uint8Array, small: Uint8Array): Outcome {
  if (raw.byteLength === 0) return 'closed';
  const bodies = splitFrames(raw);
  if (bodies === 'undecodable') return bodies;
  const kinds: string[] = [];
  for (const body of bodies) {
    try {
      if (protocol === SHARD_PROTOCOL) {
        const a = decodeShardResponse(body, { maxBytes: MAX_BYTES });
        if (a.type === 'Have') kinds.push(`Have(${a.have})`);
        else if (a.type === 'Data')
          kinds.push(sha(a.data) === sha(small) ? 'Data(ok)' : 'Data(bad)');
        else kinds.push(a.type);
      } else if (protocol === PIECES_PROTOCOL) {
        kinds.push(decodePieceResponse(body, PIECE).type);
      } else {
        const a = decodeAnswer(body);
        if (a.type !== 'Progress') kinds.push(a.type);
      }
    } catch {
      return 'undecodable';
    }
  }
  if (
    kinds.length > 1 &&
    kinds.slice(0, -1).every((k) => k === 'Piece') &&
    kinds.at(-1) === 'End'
  ) {
    return 'Piece…End';
  }
  return kinds.join('→');
}

const dbCounts = (store: ContentStore) =>
  recordCounts(store, ['manifests', 'pieces', 'pending', 'holdings']);

describe('fuzzed frames against a live peer', () => {
  let server: Libp2p;
  let client: Libp2p;
  let store: ContentStore;
  let shard: ShardServer;
  let replicas: ReplicateServer;
  let addr: Multiaddr;
  const small = testBytes(3000, 1);
  let fixture: Fixture;

  beforeAll(async () => {
    store = await openTestStore('fuzz', { pieceSize: PIECE });
    await store.put(small);
    const chunked = await store.put(testBytes(80 * KiB, 2));
    // Shard 2 of an rs-4-7 blob stored elsewhere, kept here for the network.
    const elsewhere = await openTestStore('fuzz-source', { pieceSize: PIECE });
    const { storage_key: _k, ...spread } = await elsewhere.put(testBytes(300 * KiB, 3));
    const keep = await store.beginShardImport(spread, [2]);
    for (const { piece } of keep.needed) {
      await keep.writePiece(2, piece, await elsewhere.readPiece(spread.blob_hash, 2, piece));
    }
    await keep.commit();
    elsewhere.close();
    fixture = {
      small,
      chunkedHash: chunked.blob_hash,
      chunkedShards: chunked.total_shards,
      chunkedPieces: chunked.piece_hashes[0]?.length ?? 0,
      heldHash: spread.blob_hash,
      heldShard: 2,
      heldPieces: spread.piece_hashes[2]?.length ?? 0,
    };
    [server, client] = await Promise.all([loopbackNode(), loopbackNode(false)]);
    shard = await registerShardProtocol(server, store, {
      maxBytes: MAX_BYTES,
      timeoutMs: 5_000,
      push: { from: () => true },
    });
    replicas = await registerReplicateProtocol(server, store, {
      policy: { maxBytes: REPLICA_MAX_BYTES },
      timeoutMs: 5_000,
      pieceTimeoutMs: 2_000,
    });
    addr = addrOf(server);
    // One connection for the whole run: concurrent first dials would race to create several.
    await client.dial(addr);
  });

  afterAll(async () => {
    await replicas?.stop();
    await shard?.stop();
    await Promise.all([server?.stop(), client?.stop()]);
    store?.close();
  });

  it('survives ≥ 1000 bad frames: no crash, no bad byte stored, still serving', async () => {
    const cases = generate(fixture);
    const before = await dbCounts(store);
    const outcomes = new Map<string, Map<Outcome, number>>();
    const wrong: string[] = [];
    let pushedManifests = 0;
    let pushedPieces = 0;

    const run = async (c: Case): Promise<void> => {
      let outcome: Outcome;
      try {
        const stream = await client.dialProtocol(addr, c.protocol);
        if (c.bytes.byteLength > 0) stream.send(c.bytes);
        await stream.close();
        outcome = classify(c.protocol, await readAll(stream, 10_000), small);
      } catch {
        outcome = 'reset';
      }
      const row = outcomes.get(c.category) ?? new Map<Outcome, number>();
      row.set(outcome, (row.get(outcome) ?? 0) + 1);
      outcomes.set(c.category, row);
      if (!c.allowed.includes(outcome)) {
        wrong.push(`${c.category}: got ${outcome}, expected ${c.allowed.join(' | ')}`);
      }
      if (c.push && outcome === 'PushAck') {
        pushedManifests++;
        pushedPieces += Math.ceil(c.push.size / PIECE);
      }
    };

    for (let i = 0; i < cases.length; i += BATCH) {
      await Promise.all(cases.slice(i, i + BATCH).map(run));
      // Alive and serving, with exactly what the valid pushes added.
      expect(await shardHave(client, addr, sha(small), { timeoutMs: 5_000 })).toBe(true);
      expect(await dbCounts(store)).toEqual({
        manifests: before.manifests + pushedManifests,
        pieces: before.pieces + pushedPieces,
        pending: 0,
        holdings: before.holdings,
      });
    }

    const rows = [...outcomes].map(([category, row]) => ({
      category,
      count: [...row.values()].reduce((a, b) => a + b, 0),
      outcomes: [...row].map(([o, n]) => `${o} ${n}`).join(', '),
    }));
    const total = rows.reduce((a, r) => a + r.count, 0);
    // The outcome table, for whoever runs this with DEBUG=elohim:shard:fuzz.
    logger('shard:fuzz')(
      `fuzzed shard / pieces / replicate frames (seed ${SEED.toString(16)}):\n` +
        rows
          .map((r) => `  ${r.category.padEnd(50)} ${String(r.count).padStart(5)}   ${r.outcomes}`)
          .join('\n') +
        `\n  ${'total'.padEnd(50)} ${String(total).padStart(5)}   valid pushes stored: ${pushedManifests}`,
    );
    expect(wrong).toEqual([]);
    expect(total).toBeGreaterThanOrEqual(1000);
    expect(pushedManifests).toBe(cases.filter((c) => c.push).length);
  });
});
