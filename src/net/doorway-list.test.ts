import { describe, expect, it } from 'vitest';
import { DoorwayList, doorwayOrigin } from './doorway-list.ts';

const D1 = 'http://127.0.0.1:8001';
const D2 = 'http://127.0.0.1:8002';
const D3 = 'https://d3.example';

const only =
  (...up: string[]) =>
  (origin: string) =>
    up.includes(origin);

describe('DoorwayList', () => {
  it('prefers list order until a doorway failed, then keeps the one in use while it answers', () => {
    const list = new DoorwayList([D1, D2]);
    expect(list.update(only())).toBeUndefined();
    expect(list.inUse).toBeUndefined();
    // D2 answered first: in use, and no switch (there was none before).
    expect(list.update(only(D2))).toBeUndefined();
    expect(list.inUse).toBe(D2);
    // D1 (the serving origin) answers too: it comes first, still no failover.
    expect(list.update(only(D1, D2))).toBeUndefined();
    expect(list.inUse).toBe(D1);
    expect(list.lastSwitch).toBeUndefined();
    // D1 stops: D2. D1 back: no switching back while D2 answers.
    expect(list.update(only(D2))).toMatchObject({ from: D1, to: D2 });
    expect(list.update(only(D1, D2))).toBeUndefined();
    expect(list.inUse).toBe(D2);
  });

  it('switches to the first doorway still answering, in list order, saying why', () => {
    const list = new DoorwayList([D1, D2]);
    list.learn([D3]);
    list.update(only(D1, D2, D3));
    expect(list.inUse).toBe(D1);
    const switched = list.update(only(D2, D3));
    expect(switched).toMatchObject({ from: D1, to: D2, reason: `${D1} stopped answering` });
    expect(list.lastSwitch).toEqual(switched);
    // None answering: still D2 (nothing to switch to), the last switch kept.
    expect(list.update(only())).toBeUndefined();
    expect(list.inUse).toBe(D2);
    expect(list.update(only(D3))).toMatchObject({ from: D2, to: D3 });
  });

  it('learns http(s) origins only, once each, up to its bound', () => {
    const list = new DoorwayList([D1], { maxLearned: 2 });
    expect(list.learn([`${D2}/path?q`, D1, 'javascript:alert(1)', 'ws://x.example', D2])).toEqual([
      D2,
    ]);
    expect(list.learn(['https://a.example', 'https://b.example'])).toEqual(['https://a.example']);
    expect(list.origins).toEqual([D1, D2, 'https://a.example']);
    expect(list.isConfigured(D1)).toBe(true);
    expect(list.isConfigured(D2)).toBe(false);
  });

  it('names a learned doorway to dial only while none answers, one not tried yet', () => {
    const list = new DoorwayList([D1]);
    list.learn([D2, D3]);
    const started = new Set([D1]);
    expect(list.nextStandby(started, true)).toBeUndefined();
    expect(list.nextStandby(started, false)).toBe(D2);
    started.add(D2);
    expect(list.nextStandby(started, false)).toBe(D3);
    started.add(D3);
    expect(list.nextStandby(started, false)).toBeUndefined();
  });
});

describe('doorwayOrigin', () => {
  it('keeps the origin of http(s) urls, refuses the rest', () => {
    expect(doorwayOrigin('https://d.example/a/b')).toBe('https://d.example');
    expect(doorwayOrigin('http://u:p@d.example')).toBeUndefined();
    expect(doorwayOrigin('ftp://d.example')).toBeUndefined();
    expect(doorwayOrigin('not a url')).toBeUndefined();
  });
});
