import { describe, expect, it } from 'vitest';
import { agentKeyFromEd25519 } from '../../reach/index.ts';
import { encodeFrame, UnexpectedMessageError, unframe } from '../../wire/index.ts';
import {
  decodeAnswer,
  decodeOffer,
  encodeAnswer,
  encodeOffer,
  MAX_ANSWER_FRAME_BYTES,
  type ReplicaOffer,
} from './index.ts';

const hash = `sha256-${'ab'.repeat(32)}` as const;
const owner = agentKeyFromEd25519(new Uint8Array(32).fill(7));
const body = (frame: Uint8Array) => unframe(frame, 1 << 20);
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const str = (s: string) => hex(new TextEncoder().encode(s));

describe('replicate codec', () => {
  it('writes the Offer as rmp-serde does: a one-key map of positional fields', () => {
    const offer: ReplicaOffer = { hash, reach: 'commons', owner: null, totalSize: 70_000 };
    const frame = encodeOffer(offer);
    // {"Offer": [str8(71) hash, fixstr "commons", nil, uint32 70000]}
    expect(hex(body(frame))).toBe(
      `81a5${str('Offer')}94d947${str(hash)}a7${str('commons')}c0ce${(70_000).toString(16).padStart(8, '0')}`,
    );
    expect(decodeOffer(body(frame))).toEqual(offer);
    const owned = { ...offer, reach: 'neighborhood' as const, owner };
    expect(decodeOffer(body(encodeOffer(owned)))).toEqual(owned);
  });

  it('writes an OfferShard the same way, with the shard index after the hash', () => {
    const offer: ReplicaOffer = { hash, reach: 'commons', owner, totalSize: 70_000, shard: 6 };
    const b = body(encodeOffer(offer));
    expect(hex(b).startsWith(`81aa${str('OfferShard')}95d947${str(hash)}06`)).toBe(true);
    expect(decodeOffer(b)).toEqual(offer);
    const named = encodeFrame({
      OfferShard: { hash, shard: 2, reach: 'commons', owner: null, total_size: 9 },
    });
    expect(decodeOffer(body(named))).toEqual({
      hash,
      reach: 'commons',
      owner: null,
      totalSize: 9,
      shard: 2,
    });
    expect(() =>
      decodeOffer(body(encodeFrame({ OfferShard: [hash, -1, 'commons', null, 9] }))),
    ).toThrow(/OfferShard.shard/);
    expect(() =>
      decodeOffer(body(encodeFrame({ OfferShard: [hash, 'commons', null, 9] }))),
    ).toThrow(/takes the fields \[hash, shard, reach, owner, total_size\]/);
  });

  it('accepts the named-field form and bare-hex hashes', () => {
    const named = encodeFrame({
      Offer: { hash: 'ab'.repeat(32), reach: 'commons', owner, total_size: 5 },
    });
    expect(decodeOffer(body(named))).toEqual({ hash, reach: 'commons', owner, totalSize: 5 });
  });

  it.each([
    ['another variant', { Get: [hash] }, /expected Offer/],
    ['wrong arity', { Offer: [hash, 'commons', null] }, /takes the fields/],
    ['a bad hash', { Offer: ['sha256-xyz', 'commons', null, 1] }, /Offer.hash/],
    ['an unknown reach', { Offer: [hash, 'galactic', null, 1] }, /unknown reach/],
    ['an owner that is no agent key', { Offer: [hash, 'commons', 'alice', 1] }, /agent key/],
    ['a negative size', { Offer: [hash, 'commons', null, -1] }, /non-negative integer/],
    ['a fractional size', { Offer: [hash, 'commons', null, 1.5] }, /non-negative integer/],
    ['a bare string', 'Offer', /takes the fields/],
  ])('rejects an Offer with %s', (_what, value, why) => {
    const run = () => decodeOffer(body(encodeFrame(value)));
    expect(run).toThrow(UnexpectedMessageError);
    expect(run).toThrow(why);
  });

  it('round-trips every answer; unit variants are bare strings', () => {
    expect(hex(body(encodeAnswer({ type: 'Accepted' })))).toBe(`a8${str('Accepted')}`);
    for (const a of [
      { type: 'Accepted' },
      { type: 'Progress', bytes: 123_456 },
      { type: 'Stored', hash },
      { type: 'Declined', reason: 'quota: full' },
      { type: 'Error', message: 'broken' },
    ] as const) {
      expect(decodeAnswer(body(encodeAnswer(a)))).toEqual(a);
    }
    expect(() => decodeAnswer(body(encodeFrame({ Stored: 'nope' })))).toThrow(/Stored/);
    expect(() => decodeAnswer(body(encodeFrame('PushAck')))).toThrow(/Unknown replicate answer/);
  });

  it('cuts long texts so that an answer always fits the answer frame cap', () => {
    const frame = encodeAnswer({ type: 'Error', message: '€'.repeat(100_000) });
    expect(frame.byteLength).toBeLessThan(MAX_ANSWER_FRAME_BYTES);
    const back = decodeAnswer(body(frame));
    expect(back.type === 'Error' && back.message.endsWith('…')).toBe(true);
  });
});
