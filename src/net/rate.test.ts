import { describe, expect, it } from 'vitest';
import { RateMeter, secondsLeft } from './rate.ts';

function clock(start = 10_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

describe('RateMeter', () => {
  it('is 0 before anything moved', () => {
    const time = clock();
    expect(new RateMeter({ now: time.now }).rate()).toBe(0);
  });

  it('measures the current rate, not the average since the start', () => {
    const time = clock();
    const meter = new RateMeter({ now: time.now, windowMs: 4_000 });
    // 10 s at 100 KiB/s…
    for (let i = 0; i < 40; i++) {
      meter.add(25 * 1024);
      time.advance(250);
    }
    expect(meter.rate()).toBeCloseTo(100 * 1024, -3);
    // …then 4 s at 1 MiB/s: the rate is the new one, where the average would be ~370 KiB/s.
    for (let i = 0; i < 16; i++) {
      meter.add(256 * 1024);
      time.advance(250);
    }
    expect(meter.rate()).toBeCloseTo(1024 * 1024, -4);
  });

  it('falls to 0 when the transfer stalls for a whole window', () => {
    const time = clock();
    const meter = new RateMeter({ now: time.now, windowMs: 4_000 });
    meter.add(1_000_000);
    time.advance(1_000);
    expect(meter.rate()).toBeGreaterThan(0);
    time.advance(4_000);
    expect(meter.rate()).toBe(0);
  });

  it('does not take one early piece for a burst', () => {
    const time = clock();
    const meter = new RateMeter({ now: time.now });
    time.advance(10);
    meter.add(1_000);
    // Over at least half a second: 2 000 B/s, not 100 000.
    expect(meter.rate()).toBe(2_000);
  });

  it('keeps a bounded number of buckets however many pieces arrive', () => {
    const time = clock();
    const meter = new RateMeter({ now: time.now, windowMs: 1_000, bucketMs: 100 });
    for (let i = 0; i < 100_000; i++) {
      meter.add(1);
      time.advance(1);
    }
    // 1 byte a millisecond.
    expect(meter.rate()).toBeCloseTo(1_000, -2);
  });
});

describe('secondsLeft', () => {
  it('divides what is left by the rate', () => {
    expect(secondsLeft(25, 100, 25)).toBe(3);
  });

  it('cannot be told with nothing moving, no size, or nothing left', () => {
    expect(secondsLeft(0, 100, 0)).toBeUndefined();
    expect(secondsLeft(0, 0, 10)).toBeUndefined();
    expect(secondsLeft(100, 100, 10)).toBeUndefined();
  });
});
