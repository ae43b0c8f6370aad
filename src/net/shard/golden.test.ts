/**
 * Golden vectors written by the real rmp-serde (scripts/golden, `make-golden.sh`; rmp-serde
 * 1.1.1 from Debian, whose writing is the 1.3 the Rust node locks): every shard message, and
 * the three Rust manifest shapes, each positional (`to_vec`) and named (`to_vec_named`),
 * bytes as `Vec<u8>` (an integer array) and as `serde_bytes` (`bin`). Each is decoded by our
 * codecs and encoded again: what we send is byte for byte what rmp-serde writes.
 */
import { describe, expect, it } from 'vitest';
import { type ContentHash, cidOf } from '../../content/index.ts';
import { decodeMsgpack, encodeFrame } from '../../wire/index.ts';
import golden from './golden/rmp-serde.json' with { type: 'json' };
import {
  decodeShardRequest,
  decodeShardResponse,
  encodeRustManifest,
  encodeShardRequest,
  encodeShardResponse,
  manifestFromWire,
} from './index.ts';

const vectors = golden as Record<string, string>;
const bytes = (name: string) => {
  const h = vectors[name];
  if (h === undefined) throw new Error(`no golden vector ${name}`);
  return new Uint8Array(Buffer.from(h, 'hex'));
};
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
/** Our frames without their 4-byte length: the MessagePack rmp-serde writes. */
const body = (frame: Uint8Array) => hex(frame.subarray(4));
const HASH = `sha256-${'ab'.repeat(32)}` as ContentHash;
const DATA = new Uint8Array([0, 1, 127, 128, 255]);
const FORMS = ['positional', 'named'] as const;

describe('shard/1.0.0 against rmp-serde', () => {
  it('requests: both forms decode; ours encode as rmp-serde positional with bin', () => {
    const cases = [
      ['Get', { type: 'Get', hash: HASH }, 'Get'],
      ['HaveRequest', { type: 'Have', hash: HASH }, 'HaveRequest'],
      ['Push.ints', { type: 'Push', hash: HASH, data: DATA }, 'Push.bin'],
      ['Push.bin', { type: 'Push', hash: HASH, data: DATA }, 'Push.bin'],
    ] as const;
    for (const [name, want, sent] of cases) {
      for (const form of FORMS) {
        const got = decodeShardRequest(bytes(`${name}.${form}`));
        expect(got).toEqual(want);
        expect(body(encodeShardRequest(got))).toBe(vectors[`${sent}.positional`]);
      }
    }
  });

  it('responses: each decodes and encodes again to the same bytes', () => {
    const cases = [
      ['Data.ints', { type: 'Data', data: DATA }, 'Data.bin'],
      ['Data.bin', { type: 'Data', data: DATA }, 'Data.bin'],
      ['HaveTrue', { type: 'Have', have: true }, 'HaveTrue'],
      ['HaveFalse', { type: 'Have', have: false }, 'HaveFalse'],
      ['PushAck', { type: 'PushAck' }, 'PushAck'],
      ['NotFound', { type: 'NotFound' }, 'NotFound'],
      ['Error', { type: 'Error', message: 'no such shard' }, 'Error'],
    ] as const;
    for (const [name, want, sent] of cases) {
      for (const form of FORMS) {
        const got = decodeShardResponse(bytes(`${name}.${form}`));
        expect(got).toEqual(want);
        expect(body(encodeShardResponse(got))).toBe(vectors[`${sent}.positional`]);
      }
    }
  });

  it('a Vec<u8> as integers is a different byte string from bin, and both decode alike', () => {
    expect(vectors['Data.ints.positional']).not.toBe(vectors['Data.bin.positional']);
    expect(body(encodeFrame({ Data: DATA }))).toBe(vectors['Data.bin.positional']);
  });
});

describe('the three Rust manifests against rmp-serde', () => {
  const total = 100 * 1024 * 1024 + 3;
  for (const shape of ['storage', 'dna', 'doorway'] as const) {
    for (const form of FORMS) {
      it(`${shape}, ${form}: accepted, verified per shard, and written back byte for byte`, () => {
        const m = manifestFromWire(decodeMsgpack(bytes(`manifest.${shape}.${form}`)));
        expect(m.blob_hash).toBe(HASH);
        expect(m.blob_cid).toBe(cidOf(HASH));
        expect(m.encoding).toBe('rs-4-7');
        expect(m.total_size).toBe(total);
        expect(m.shard_size).toBe(Math.ceil(total / 4));
        expect(m.shard_hashes).toHaveLength(7);
        // No piece hashes came: every shard is many pieces, none known yet.
        expect(m.piece_hashes.flat().every((h) => h === '')).toBe(true);
        expect(m.author_id).toBe(shape === 'dna' ? 'uhCAkagent' : null);
        expect(hex(encodeRustManifest(m, shape, form))).toBe(vectors[`manifest.${shape}.${form}`]);
      });
    }
  }
});
