import { describe, expect, it } from 'vitest';
import type { ContentHash } from '../../content/index.ts';
import { encodeFrame, UnexpectedMessageError, unframe } from '../../wire/index.ts';
import {
  decodeHoldings,
  decodeHoldingsAnswer,
  encodeHoldings,
  encodeHoldingsAnswer,
  MAX_HASHES_PER_MESSAGE,
  MAX_HOLDINGS_ANSWER_BYTES,
  MAX_HOLDINGS_FRAME_BYTES,
} from './codec.ts';

const hashOf = (i: number): ContentHash => `sha256-${i.toString(16).padStart(64, '0')}`;
const body = (frame: Uint8Array) => unframe(frame, MAX_HOLDINGS_FRAME_BYTES);

describe('holdings codec', () => {
  it('round-trips a request and its answers', () => {
    const update = { reset: true, added: [hashOf(1), hashOf(2)], removed: [hashOf(3)] };
    expect(decodeHoldings(body(encodeHoldings(update)))).toEqual(update);
    const ack = { type: 'Ack', held: 2, dropped: 1 } as const;
    expect(
      decodeHoldingsAnswer(unframe(encodeHoldingsAnswer(ack), MAX_HOLDINGS_ANSWER_BYTES)),
    ).toEqual(ack);
    const long = encodeHoldingsAnswer({ type: 'Error', message: 'x'.repeat(50_000) });
    expect(long.byteLength).toBeLessThan(MAX_HOLDINGS_ANSWER_BYTES);
  });

  it('fits the most hashes a message may name in its frame cap', () => {
    const added = Array.from({ length: MAX_HASHES_PER_MESSAGE }, (_, i) => hashOf(i));
    const frame = encodeHoldings({ reset: false, added, removed: [] });
    expect(frame.byteLength - 4).toBeLessThanOrEqual(MAX_HOLDINGS_FRAME_BYTES);
    expect(() =>
      encodeHoldings({ reset: false, added: [...added, hashOf(-1 >>> 1)], removed: [] }),
    ).toThrow(RangeError);
  });

  it('refuses too many hashes, bad hashes and other shapes', () => {
    const many = Array.from({ length: MAX_HASHES_PER_MESSAGE + 1 }, (_, i) => hashOf(i));
    const bad = [
      { Holdings: [false, many, []] },
      { Holdings: [false, ['sha256-nothex'], []] },
      { Holdings: [false, [42], []] },
      { Holdings: ['yes', [], []] },
      { Holdings: [false, [], {}] },
      { Holdings: [false, []] },
      { Other: [false, [], []] },
      'Holdings',
    ];
    for (const value of bad) {
      expect(() => decodeHoldings(body(encodeFrame(value)))).toThrow(UnexpectedMessageError);
    }
    expect(() => decodeHoldingsAnswer(body(encodeFrame({ Ack: [-1, 0] })))).toThrow(
      UnexpectedMessageError,
    );
  });
});
