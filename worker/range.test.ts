import { describe, expect, it } from 'vitest';
import { parseRange } from './range.ts';

describe('parseRange', () => {
  const size = 1000;

  it('reads first-last, open-ended and suffix ranges', () => {
    expect(parseRange('bytes=0-99', size)).toEqual({ start: 0, end: 100 });
    expect(parseRange('bytes=900-', size)).toEqual({ start: 900, end: 1000 });
    expect(parseRange('bytes=-100', size)).toEqual({ start: 900, end: 1000 });
    expect(parseRange('bytes=990-5000', size)).toEqual({ start: 990, end: 1000 });
    expect(parseRange('bytes=-5000', size)).toEqual({ start: 0, end: 1000 });
  });

  it('says which valid ranges cannot be satisfied', () => {
    expect(parseRange('bytes=1000-', size)).toBe('unsatisfiable');
    expect(parseRange('bytes=5000-6000', size)).toBe('unsatisfiable');
    expect(parseRange('bytes=-0', size)).toBe('unsatisfiable');
    expect(parseRange('bytes=0-', 0)).toBe('unsatisfiable');
  });

  it('ignores what it may ignore: no header, other units, several ranges, bad syntax', () => {
    expect(parseRange(null, size)).toBeUndefined();
    expect(parseRange('items=0-1', size)).toBeUndefined();
    expect(parseRange('bytes=0-1,5-6', size)).toBeUndefined();
    expect(parseRange('bytes=5-1', size)).toBeUndefined();
    expect(parseRange('bytes=-', size)).toBeUndefined();
    expect(parseRange('bytes=abc', size)).toBeUndefined();
  });
});
