import { describe, expect, it } from 'vitest';
import { formatRate, formatTimeLeft, plural } from './format.ts';

describe('formatRate', () => {
  it('says bytes per second in the unit a person reads', () => {
    expect(formatRate(0)).toBe('0 B/s');
    expect(formatRate(512)).toBe('512 B/s');
    expect(formatRate(1.5 * 1024 * 1024)).toBe('1.5 MiB/s');
  });

  it('never shows a negative rate', () => {
    expect(formatRate(-10)).toBe('0 B/s');
  });
});

describe('formatTimeLeft', () => {
  it('is empty when it cannot be told', () => {
    expect(formatTimeLeft(undefined)).toBe('');
    expect(formatTimeLeft(Number.POSITIVE_INFINITY)).toBe('');
    expect(formatTimeLeft(Number.NaN)).toBe('');
    expect(formatTimeLeft(-1)).toBe('');
  });

  it('rounds as a person would say it', () => {
    expect(formatTimeLeft(0.4)).toBe('a few seconds left');
    expect(formatTimeLeft(4.9)).toBe('a few seconds left');
    expect(formatTimeLeft(12)).toBe('10 s left');
    expect(formatTimeLeft(58)).toBe('about 1 min left');
    expect(formatTimeLeft(3599)).toBe('about 1 h left');
    expect(formatTimeLeft(61)).toBe('about 1 min left');
    expect(formatTimeLeft(150)).toBe('about 3 min left');
    expect(formatTimeLeft(3600)).toBe('about 1 h left');
    expect(formatTimeLeft(3600 + 25 * 60)).toBe('about 1 h 25 min left');
  });
});

describe('plural', () => {
  it('counts one and many', () => {
    expect(plural(0, 'peer')).toBe('0 peers');
    expect(plural(1, 'peer')).toBe('1 peer');
    expect(plural(3, 'peer')).toBe('3 peers');
  });
});
