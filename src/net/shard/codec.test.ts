import { describe, expect, it } from 'vitest';
import { cidOf } from '../../content/index.ts';
import {
  BadBytesError,
  BadMsgpackError,
  decodeMsgpack,
  encodeFrame,
  encodeMsgpack,
  FrameTooLargeError,
  frameLength,
  IntBytes,
  TruncatedFrameError,
  UnexpectedMessageError,
  unframe,
  WireProtocolError,
} from '../../wire/index.ts';
import {
  decodePieceRequest,
  decodePieceResponse,
  decodeShardRequest,
  decodeShardResponse,
  encodeDataHeader,
  encodePieceRequest,
  encodePieceResponse,
  encodeShardRequest,
  encodeShardResponse,
  type RemoteManifest,
  shardLimits,
} from './index.ts';

const HEX = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const HASH = `sha256-${HEX}` as const;

const ascii = (s: string) => [...new TextEncoder().encode(s)];
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
/** 4-byte big-endian length + body. */
const frame = (body: number[]) => {
  const n = body.length;
  return new Uint8Array([
    (n >>> 24) & 0xff,
    (n >>> 16) & 0xff,
    (n >>> 8) & 0xff,
    n & 0xff,
    ...body,
  ]);
};
const body = (b: number[]) => new Uint8Array(b);
// "sha256-<64 hex>" is 71 bytes: str8 (d9 47).
const HASH_MP = [0xd9, 0x47, ...ascii(HASH)];
const MAX = 1 << 20;
const FRAME_CAP = shardLimits({ maxBytes: MAX }).maxFrameBytes;
const reqOf = (f: Uint8Array) => decodeShardRequest(unframe(f, FRAME_CAP), { maxBytes: MAX });
const respOf = (f: Uint8Array) => decodeShardResponse(unframe(f, FRAME_CAP), { maxBytes: MAX });

describe('shard/1.0.0 golden frames (rmp-serde shapes)', () => {
  it('Get', () => {
    const f = encodeShardRequest({ type: 'Get', hash: HASH });
    expect(hex(f)).toBe(hex(frame([0x81, 0xa3, ...ascii('Get'), 0x91, ...HASH_MP])));
    expect(hex(f.subarray(0, 12))).toBe('0000004f81a3476574' + '91d947');
    expect(reqOf(f)).toEqual({ type: 'Get', hash: HASH });
  });

  it('Have (request)', () => {
    const f = encodeShardRequest({ type: 'Have', hash: HASH });
    expect(hex(f)).toBe(hex(frame([0x81, 0xa4, ...ascii('Have'), 0x91, ...HASH_MP])));
    expect(reqOf(f)).toEqual({ type: 'Have', hash: HASH });
  });

  it('Push with bin8 / bin16 / bin32', () => {
    const f = encodeShardRequest({ type: 'Push', hash: HASH, data: body([1, 2, 3]) });
    expect(hex(f)).toBe(
      hex(frame([0x81, 0xa4, ...ascii('Push'), 0x92, ...HASH_MP, 0xc4, 3, 1, 2, 3])),
    );
    expect(reqOf(f)).toEqual({ type: 'Push', hash: HASH, data: body([1, 2, 3]) });

    const b300 = new Uint8Array(300).fill(7);
    const f300 = encodeShardRequest({ type: 'Push', hash: HASH, data: b300 });
    expect(hex(f300.subarray(4 + 1 + 5 + 1 + 73, 4 + 1 + 5 + 1 + 73 + 3))).toBe('c5012c');
    const b70k = new Uint8Array(70_000).fill(9);
    const f70k = encodeShardRequest({ type: 'Push', hash: HASH, data: b70k });
    expect(hex(f70k.subarray(4 + 80, 4 + 85))).toBe('c600011170');
    expect(reqOf(f70k)).toEqual({ type: 'Push', hash: HASH, data: b70k });
  });

  it('Data, Have(bool), PushAck, NotFound, Error', () => {
    expect(hex(encodeShardResponse({ type: 'Data', data: body([1, 2, 3]) }))).toBe(
      hex(frame([0x81, 0xa4, ...ascii('Data'), 0xc4, 3, 1, 2, 3])),
    );
    expect(hex(encodeShardResponse({ type: 'Data', data: new Uint8Array(0) }))).toBe(
      hex(frame([0x81, 0xa4, ...ascii('Data'), 0xc4, 0])),
    );
    expect(hex(encodeShardResponse({ type: 'Have', have: true }))).toBe(
      hex(frame([0x81, 0xa4, ...ascii('Have'), 0xc3])),
    );
    expect(hex(encodeShardResponse({ type: 'Have', have: false }))).toBe(
      hex(frame([0x81, 0xa4, ...ascii('Have'), 0xc2])),
    );
    expect(hex(encodeShardResponse({ type: 'PushAck' }))).toBe('00000008a750757368416' + '36b');
    expect(hex(encodeShardResponse({ type: 'NotFound' }))).toBe(
      hex(frame([0xa8, ...ascii('NotFound')])),
    );
    expect(hex(encodeShardResponse({ type: 'Error', message: 'boom' }))).toBe(
      hex(frame([0x81, 0xa5, ...ascii('Error'), 0xa4, ...ascii('boom')])),
    );
  });

  it('a streamed Data header + payload equals the Data frame', () => {
    for (const n of [0, 3, 255, 256, 65535, 65536, 70_000]) {
      const data = new Uint8Array(n).fill(n & 0xff);
      const whole = encodeShardResponse({ type: 'Data', data });
      expect(hex(new Uint8Array([...encodeDataHeader(n), ...data]))).toBe(hex(whole));
    }
  });

  it('round-trips every response', () => {
    for (const r of [
      { type: 'Data', data: body([0, 127, 128, 255]) },
      { type: 'Have', have: true },
      { type: 'Have', have: false },
      { type: 'PushAck' },
      { type: 'NotFound' },
      { type: 'Error', message: 'ünïcødé ✓' },
    ] as const) {
      expect(respOf(encodeShardResponse(r))).toEqual(r);
    }
  });

  it('decodes bytes written as an integer array (rmp-serde Vec<u8>) as well as bin', () => {
    // {"Data": [1, 255, 0]}: fixarray, fixint, uint8 0xff, fixint
    const f = frame([0x81, 0xa4, ...ascii('Data'), 0x93, 0x01, 0xcc, 0xff, 0x00]);
    expect(respOf(f)).toEqual({ type: 'Data', data: body([1, 255, 0]) });
    // array16 of 20 bytes 200..219 (each cc xx)
    const vals = Array.from({ length: 20 }, (_, i) => 200 + i);
    const f16 = frame([
      0x81,
      0xa4,
      ...ascii('Data'),
      0xdc,
      0x00,
      20,
      ...vals.flatMap((v) => [0xcc, v]),
    ]);
    expect(respOf(f16)).toEqual({ type: 'Data', data: body(vals) });
    // Non-minimal ints (uint16 0x0005) are still bytes: the generic path validates them.
    const fWide = frame([0x81, 0xa4, ...ascii('Data'), 0x92, 0xcd, 0x00, 0x05, 0x07]);
    expect(respOf(fWide)).toEqual({ type: 'Data', data: body([5, 7]) });
    // Push with an int array.
    const push = frame([0x81, 0xa4, ...ascii('Push'), 0x92, ...HASH_MP, 0x92, 0x0a, 0xcc, 0x80]);
    expect(reqOf(push)).toEqual({ type: 'Push', hash: HASH, data: body([10, 128]) });
  });

  it('accepts raw hex, named struct fields and {"NotFound": nil}', () => {
    const raw = frame([0x81, 0xa3, ...ascii('Get'), 0x91, 0xd9, 64, ...ascii(HEX)]);
    expect(reqOf(raw)).toEqual({ type: 'Get', hash: HASH });
    const named = frame([0x81, 0xa3, ...ascii('Get'), 0x81, 0xa4, ...ascii('hash'), ...HASH_MP]);
    expect(reqOf(named)).toEqual({ type: 'Get', hash: HASH });
    expect(respOf(frame([0x81, 0xa8, ...ascii('NotFound'), 0xc0]))).toEqual({ type: 'NotFound' });
  });
});

describe('malformed input is rejected with typed errors', () => {
  const rejects = (f: () => unknown, cls: new (...a: never[]) => Error, msg?: RegExp) => {
    let err: unknown;
    try {
      f();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(cls);
    expect(err).toBeInstanceOf(WireProtocolError);
    if (msg) expect((err as Error).message).toMatch(msg);
  };

  it('truncated frames', () => {
    rejects(() => unframe(body([0, 0, 0]), 100), TruncatedFrameError, /length header/);
    rejects(() => unframe(body([0, 0, 0, 10, 1, 2, 3]), 100), TruncatedFrameError, /7 of 14/);
    rejects(() => unframe(body([0, 0, 0, 1, 0xc0, 0]), 100), BadMsgpackError, /extra/);
  });

  it('length over the cap, before any body byte', () => {
    rejects(
      () => frameLength(body([0xff, 0xff, 0xff, 0xff]), 1000),
      FrameTooLargeError,
      /4294967295/,
    );
    rejects(() => frameLength(body([0, 0, 0x03, 0xe9]), 1000), FrameTooLargeError, /1001 bytes/);
    expect(frameLength(body([0, 0, 0x03, 0xe8]), 1000)).toBe(1000);
  });

  it('payload over maxBytes', () => {
    const f = encodeShardResponse({ type: 'Data', data: new Uint8Array(101) });
    rejects(
      () => decodeShardResponse(unframe(f, 1000), { maxBytes: 100 }),
      FrameTooLargeError,
      /16 MiB/,
    );
  });

  it('bad msgpack', () => {
    const cases: [number[], RegExp][] = [
      [[], /empty/],
      [[0xc1], /never used/],
      [[0xd4, 0x01, 0x02], /ext type/],
      [[0xa5, ...ascii('ab')], /needs 5/],
      [[0xa7, ...ascii('PushAck'), 0x00], /extra/],
      [[0xa2, 0xff, 0xfe], /UTF-8/],
      [[0xdd, 0xff, 0xff, 0xff, 0xff], /array of 4294967295/],
      [[0x82, 0xa1, 0x61, 0x01, 0xa1, 0x61, 0x02], /duplicate/],
      [[0x81, 0x01, 0x02], /not a string/],
      [[0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], /2\^53/],
      [Array(40).fill(0x91), /nested/],
    ];
    for (const [b, m] of cases) rejects(() => decodeShardResponse(body(b)), BadMsgpackError, m);
  });

  it('wrong shape or variant', () => {
    const cases: [number[], RegExp][] = [
      [[0x05], /variant name or a one-key map/],
      [[0x82, 0xa3, ...ascii('Get'), 0x90, 0xa4, ...ascii('Have'), 0x90], /one-key map/],
      [[0x81, 0xa3, ...ascii('Foo'), 0x91, ...HASH_MP], /Unknown shard request "Foo"/],
      [[0x81, 0xa3, ...ascii('Get'), ...HASH_MP], /as an array/],
      [[0x81, 0xa3, ...ascii('Get'), 0x90], /takes 1 field/],
      [[0x81, 0xa3, ...ascii('Get'), 0x92, ...HASH_MP, ...HASH_MP], /takes 1 field/],
      [[0x81, 0xa3, ...ascii('Get'), 0x91, 0x01], /must be a string/],
      [[0x81, 0xa3, ...ascii('Get'), 0x91, 0xa3, ...ascii('abc')], /not a content address/],
      [[0xa3, ...ascii('Get')], /as an array/],
      [[0x81, 0xa4, ...ascii('Push'), 0x91, ...HASH_MP], /takes 2 field/],
    ];
    for (const [b, m] of cases)
      rejects(() => decodeShardRequest(body(b)), UnexpectedMessageError, m);
    const resp: [number[], RegExp][] = [
      [[0x81, 0xa4, ...ascii('Have'), 0x01], /boolean/],
      [[0xa4, ...ascii('Have')], /needs a value/],
      [[0xa4, ...ascii('Data')], /needs a value/],
      [[0x81, 0xa7, ...ascii('PushAck'), 0x01], /takes no value/],
      [[0x81, 0xa5, ...ascii('Error'), 0x01], /takes a string/],
      [[0xa3, ...ascii('Get')], /Unknown shard response "Get"/],
    ];
    for (const [b, m] of resp)
      rejects(() => decodeShardResponse(body(b)), UnexpectedMessageError, m);
  });

  it('bad byte arrays', () => {
    const data = (x: number[]) => body([0x81, 0xa4, ...ascii('Data'), ...x]);
    const cases: [number[], RegExp][] = [
      [[0x92, 0x01, 0xcd, 0x01, 0x00], /element 1 .* 256/],
      [[0x91, 0xff], /element 0 of the byte array is -1/],
      [[0x91, 0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0], /element 0 .*is 1.5/],
      [[0x92, 0x01, 0xa1, 0x61], /element 1 .*is "a"/],
      [[0x91, 0xc0], /element 0 .*is nil/],
      [[0xa3, ...ascii('abc')], /expected bytes/],
      [[0x01], /expected bytes/],
    ];
    for (const [b, m] of cases) rejects(() => decodeShardResponse(data(b)), BadBytesError, m);
  });
});

describe('pieces/1.0.0 codec', () => {
  const manifest: RemoteManifest = {
    format: 1,
    blob_cid: cidOf(HASH),
    blob_hash: HASH,
    total_size: 5,
    mime_type: 'text/plain',
    encoding: 'none',
    data_shards: 1,
    total_shards: 1,
    shard_size: 5,
    shard_hashes: [HASH],
    reach: 'commons',
    author_id: null,
    created_at: '2024-01-01T00:00:00.000Z',
    verified_at: null,
    piece_size: 4,
    piece_hashes: [[HASH, HASH]],
    name: 'x.txt',
  };

  it('golden request frames', () => {
    expect(hex(encodePieceRequest({ type: 'Manifest', hash: HASH }))).toBe(
      hex(frame([0x81, 0xa8, ...ascii('Manifest'), 0x91, ...HASH_MP])),
    );
    expect(
      hex(encodePieceRequest({ type: 'Pieces', hash: HASH, shard: 2, first: 300, count: 4 })),
    ).toBe(
      hex(frame([0x81, 0xa6, ...ascii('Pieces'), 0x94, ...HASH_MP, 0x02, 0xcd, 0x01, 0x2c, 0x04])),
    );
    expect(hex(encodePieceResponse({ type: 'End' }))).toBe(hex(frame([0xa3, ...ascii('End')])));
    expect(hex(encodePieceResponse({ type: 'Piece', shard: 0, piece: 1, data: body([9]) }))).toBe(
      hex(frame([0x81, 0xa5, ...ascii('Piece'), 0x93, 0x00, 0x01, 0xc4, 0x01, 0x09])),
    );
    expect(hex(encodePieceRequest({ type: 'Holds', hash: HASH }))).toBe(
      hex(frame([0x81, 0xa5, ...ascii('Holds'), 0x91, ...HASH_MP])),
    );
    // Holds(Holding::All) and Holds(Holding::Shards(vec![2, 5])), as rmp-serde writes them.
    expect(hex(encodePieceResponse({ type: 'Holds', holding: 'all' }))).toBe(
      hex(frame([0x81, 0xa5, ...ascii('Holds'), 0xa3, ...ascii('All')])),
    );
    expect(hex(encodePieceResponse({ type: 'Holds', holding: [2, 5] }))).toBe(
      hex(frame([0x81, 0xa5, ...ascii('Holds'), 0x81, 0xa6, ...ascii('Shards'), 0x92, 2, 5])),
    );
  });

  it('round trips', () => {
    for (const r of [
      { type: 'Manifest', hash: HASH },
      { type: 'Pieces', hash: HASH, shard: 6, first: 70000, count: 1 },
      { type: 'Holds', hash: HASH },
    ] as const) {
      expect(decodePieceRequest(unframe(encodePieceRequest(r), 1000))).toEqual(r);
    }
    for (const r of [
      { type: 'Manifest', manifest },
      { type: 'Piece', shard: 3, piece: 9, data: body([1, 2, 3, 4]) },
      { type: 'Holds', holding: 'all' },
      { type: 'Holds', holding: [0, 3, 6] },
      { type: 'End' },
      { type: 'NotFound' },
      { type: 'Error', message: 'nope' },
    ] as const) {
      expect(decodePieceResponse(unframe(encodePieceResponse(r), 100_000), 4)).toEqual(r);
    }
    // Shards come back ascending, whatever order they were sent in.
    expect(
      decodePieceResponse(unframe(encodeFrame({ Holds: { Shards: [6, 0] } }), 1000), 4),
    ).toEqual({ type: 'Holds', holding: [0, 6] });
    // storage_key never leaves the peer, nor why it holds the blob (and for whom)
    const withKey = {
      ...manifest,
      storage_key: 'local',
      origin: { how: 'kept' as const, at: '2026-01-01T00:00:00.000Z', for: 'peer-secret' },
    };
    const f = encodePieceResponse({ type: 'Manifest', manifest: withKey });
    expect(Buffer.from(f).includes('storage_key')).toBe(false);
    expect(Buffer.from(f).includes('origin')).toBe(false);
    expect(Buffer.from(f).includes('peer-secret')).toBe(false);
  });

  it('rejects bad piece messages and inconsistent manifests', () => {
    const piecesReq = (n: number) => unframe(encodeFrame({ Pieces: [HASH, 0, 0, n] }), 1000);
    expect(() => decodePieceRequest(piecesReq(0))).toThrow(/count must be at least 1/);
    expect(() =>
      decodePieceRequest(unframe(encodeFrame({ Pieces: [HASH, -1, 0, 1] }), 1000)),
    ).toThrow(/shard must be a non-negative integer/);
    expect(() =>
      decodePieceResponse(
        unframe(
          encodePieceResponse({ type: 'Piece', shard: 0, piece: 0, data: body([1, 2, 3, 4, 5]) }),
          1000,
        ),
        4,
      ),
    ).toThrow(FrameTooLargeError);
    const bad = (patch: Partial<RemoteManifest>, m: RegExp) =>
      expect(() =>
        decodePieceResponse(
          unframe(encodeFrame({ Manifest: { ...manifest, ...patch } as never }), 100_000),
          4,
        ),
      ).toThrow(m);
    const holds = (v: unknown) => () =>
      decodePieceResponse(unframe(encodeFrame({ Holds: v as never }), 100_000), 4);
    expect(holds('Some')).toThrow(/takes All or Shards/);
    expect(holds({ Shards: [] })).toThrow(/1 to 1024 shard indices/);
    expect(holds({ Shards: [1, 1] })).toThrow(/lists a shard twice/);
    expect(holds({ Shards: [-1] })).toThrow(/non-negative integer/);
    expect(holds({ Shards: Array.from({ length: 1025 }, (_, i) => i) })).toThrow(/1 to 1024/);
    expect(holds({ All: [1] })).toThrow(/takes no value/);
    bad({ piece_hashes: [[HASH]] }, /piece_hashes\[0\] must list 2/);
    bad({ shard_hashes: [] }, /shard_hashes/);
    bad({ format: 2 as 1 }, /format/);
    bad({ encoding: 'zip' as 'none' }, /encoding/);
    bad({ piece_size: 0 }, /piece_size/);
    bad({ blob_hash: 'nope' as typeof HASH }, /blob_hash/);
  });
});

describe('msgpack helpers', () => {
  it('encodes ints, strings and containers minimally', () => {
    const cases: [unknown, string][] = [
      [0, '00'],
      [127, '7f'],
      [128, 'cc80'],
      [255, 'ccff'],
      [256, 'cd0100'],
      [65536, 'ce00010000'],
      [2 ** 32, 'cf0000000100000000'],
      [-1, 'ff'],
      [-32, 'e0'],
      [-33, 'd0df'],
      [-129, 'd1ff7f'],
      [1.5, 'cb3ff8000000000000'],
      [null, 'c0'],
      ['a'.repeat(31), `bf${'61'.repeat(31)}`],
      ['a'.repeat(32), `d920${'61'.repeat(32)}`],
      ['a'.repeat(256), `da0100${'61'.repeat(256)}`],
      [Array(16).fill(0), `dc0010${'00'.repeat(16)}`],
    ];
    for (const [v, h] of cases) expect(hex(encodeMsgpack(v as never))).toBe(h);
  });

  it('decodes what it encodes; small-int arrays come back as IntBytes', () => {
    const v = { a: [1, 2, 3], b: 'x', c: [-1, 300], d: new Uint8Array([5]), e: true, f: null };
    const out = decodeMsgpack(encodeMsgpack(v)) as Map<string, unknown>;
    expect(out.get('a')).toBeInstanceOf(IntBytes);
    expect((out.get('a') as IntBytes).toNumbers()).toEqual([1, 2, 3]);
    expect(out.get('c')).toEqual([-1, 300]);
    expect(out.get('d')).toEqual(new Uint8Array([5]));
    expect(out.get('e')).toBe(true);
    expect(out.get('f')).toBe(null);
  });
});
