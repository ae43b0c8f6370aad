import { afterEach, describe, expect, it } from 'vitest';
import type { ShardSent } from './shard/index.ts';
import { UploadTracker } from './uploads.ts';

const HASH = `sha256-${'ab'.repeat(32)}` as const;
const sent = (peer: string, bytes: number, blobHash = HASH): ShardSent => ({
  peer,
  blobHash,
  name: 'clip.mp4',
  bytes,
  totalBytes: 4096,
});

const trackers: UploadTracker[] = [];
afterEach(() => {
  for (const tracker of trackers.splice(0)) tracker.close();
});

function tracker(max?: number) {
  let now = 1_000;
  const t = new UploadTracker({
    describe: (peer) => ({ direct: peer === 'direct-peer', doorway: peer === 'doorway' }),
    now: () => now,
    idleMs: 3_000,
    keepMs: 15_000,
    ...(max === undefined ? {} : { max }),
  });
  trackers.push(t);
  return { t, advance: (ms: number) => (now += ms) };
}

describe('UploadTracker', () => {
  it('lists what is sent to whom, with the current rate', () => {
    const { t, advance } = tracker();
    let changes = 0;
    t.addEventListener('change', () => changes++);
    t.record(sent('direct-peer', 1024));
    advance(500);
    t.record(sent('direct-peer', 1024));
    const [upload] = t.list();
    expect(upload).toMatchObject({
      name: 'clip.mp4',
      peer: 'direct-peer',
      direct: true,
      doorway: false,
      bytes: 2048,
      totalBytes: 4096,
      state: 'sending',
    });
    expect(upload?.rate).toBeGreaterThan(0);
    // A new upload is announced at once; its pieces are not announced one by one.
    expect(changes).toBe(1);
  });

  it('marks an upload done when nothing was sent for a while, then forgets it', () => {
    const { t, advance } = tracker();
    t.record(sent('a', 1024));
    advance(3_000);
    expect(t.list()[0]).toMatchObject({ state: 'done', rate: 0, bytes: 1024 });
    advance(15_000);
    expect(t.list()).toEqual([]);
  });

  it('keeps one entry per peer and item, and at most `max` of them', () => {
    const { t } = tracker(3);
    for (let i = 0; i < 100; i++) t.record(sent(`peer-${i}`, 10));
    t.record(sent('peer-99', 10));
    const listed = t.list();
    expect(listed.map((u) => u.peer)).toEqual(['peer-99', 'peer-98', 'peer-97']);
    expect(listed[0]?.bytes).toBe(20);
  });

  it('starts a fresh entry when the same item is sent again after it finished', () => {
    const { t, advance } = tracker();
    t.record(sent('a', 1000));
    advance(5_000);
    t.record(sent('a', 10));
    expect(t.list()).toMatchObject([{ bytes: 10, state: 'sending' }]);
  });
});
