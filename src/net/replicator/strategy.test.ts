import { describe, expect, it } from 'vitest';
import type { ContentHash } from '../../content/index.ts';
import type { ReplicaHealth } from './health.ts';
import { authoredPeerChange } from './strategy.ts';

const health = (state: ReplicaHealth['state'], stored: string[]): ReplicaHealth => ({
  hash: 'sha256-00' as ContentHash,
  kind: 'copies',
  wanted: 2,
  stored,
  state,
});

describe('authoredPeerChange', () => {
  it('checks at once when a holder left, whatever the state', () => {
    const change = { arrived: false, left: ['b'] };
    expect(authoredPeerChange(health('replicated', ['a', 'b']), change)).toBe(0);
    expect(authoredPeerChange(health('waiting', ['b']), change)).toBe(0);
  });

  it('checks at once when a peer arrived and the item is short', () => {
    expect(authoredPeerChange(health('waiting', ['a']), { arrived: true, left: [] })).toBe(0);
    expect(authoredPeerChange(health('local', []), { arrived: true, left: [] })).toBe(0);
  });

  it('leaves a replicated item alone when a peer arrives or a non-holder leaves', () => {
    const done = health('replicated', ['a', 'b']);
    expect(authoredPeerChange(done, { arrived: true, left: [] })).toBeUndefined();
    expect(authoredPeerChange(done, { arrived: false, left: ['c'] })).toBeUndefined();
  });
});
