import { describe, expect, it } from 'vitest';
import { contentDisposition, dispositionName, parseRange } from './http.ts';

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

describe('contentDisposition', () => {
  it('gives an ASCII fallback and the exact name in filename* (RFC 6266, RFC 8187)', () => {
    expect(contentDisposition('inline', 'a b.txt')).toBe(
      `inline; filename="a b.txt"; filename*=UTF-8''a%20b.txt`,
    );
    expect(contentDisposition('attachment', 'été "x"\\.pdf')).toBe(
      `attachment; filename="_t_ _x__.pdf"; filename*=UTF-8''%C3%A9t%C3%A9%20%22x%22%5C.pdf`,
    );
  });

  it("escapes what RFC 8187 does not allow bare: ' ( ) *", () => {
    expect(contentDisposition('inline', "it's (1)*")).toBe(
      `inline; filename="it's (1)*"; filename*=UTF-8''it%27s%20%281%29%2A`,
    );
  });

  it('never lets a line break or a control character into the header', () => {
    const header = contentDisposition('inline', 'a\r\nSet-Cookie: x\u0000');
    expect(header).not.toMatch(/[\r\n\0]/);
  });
});

describe('dispositionName', () => {
  it('reads RFC 6266 names', () => {
    expect(dispositionName(`inline; filename="a.txt"`)).toBe('a.txt');
    expect(dispositionName(`inline; filename="_.txt"; filename*=UTF-8''%C3%BC.txt`)).toBe('ü.txt');
    expect(dispositionName(`inline; filename*=UTF-8''%E0%A4%A`)).toBeUndefined();
    expect(dispositionName(null)).toBeUndefined();
    for (const name of ['plain.txt', 'Grüße (1).pdf', "it's *.bin"]) {
      expect(dispositionName(contentDisposition('inline', name))).toBe(name);
    }
  });
});
