import { describe, expect, it } from 'vitest';
import type { ContentHash } from '../content/index.ts';
import type { ReplicaHealth } from '../net/index.ts';
import { replicaHealthDot, replicaHealthText, replicaHealthTitle } from './replicaHealthText.ts';

const copies = (patch: Partial<ReplicaHealth>): ReplicaHealth => ({
  hash: 'sha256-00' as ContentHash,
  kind: 'copies',
  wanted: 2,
  stored: [],
  state: 'waiting',
  doorways: [],
  ...patch,
});

describe('replica health in words', () => {
  it('short of peers and on no doorway: waiting for peers, amber', () => {
    const h = copies({ stored: ['peer-b'], reason: 'no other peer is online' });
    expect(replicaHealthText(h, 'commons')).toBe('1 of 2 copies on peers — waiting for peers');
    expect(replicaHealthDot(h)).toBe('dot--wait');
    expect(replicaHealthTitle(h)).toMatch(/^Peers that keep a copy .*\. no other peer is online$/);
  });

  it('short of peers but kept on a doorway: kept, not waiting, and not amber', () => {
    const h = copies({ doorways: ['doorway-peer-id'], reason: 'no other peer is online' });
    const text = replicaHealthText(h, 'commons');
    expect(text).toBe('Kept on the doorway · 0 of 2 copies on peers');
    expect(text).not.toContain('doorway-peer-id');
    expect(replicaHealthDot(h)).toBe('dot--ok');
    expect(replicaHealthTitle(h)).toMatch(/^The doorway keeps a copy/);
  });

  it('replicated, copying and shards say the doorway too; a local item never does', () => {
    const onDoorway = { doorways: ['d'] };
    expect(
      replicaHealthText(
        copies({ ...onDoorway, state: 'replicated', stored: ['b', 'c'] }),
        'commons',
      ),
    ).toBe('Kept on the doorway · 2 of 2 copies on peers');
    expect(replicaHealthText(copies({ ...onDoorway, state: 'replicating' }), 'commons')).toBe(
      'Kept on the doorway · 0 of 2 copies on peers — copying…',
    );
    const shards = copies({
      ...onDoorway,
      kind: 'shards',
      wanted: 7,
      shards: ['a', 'b', null, null, null, null, null],
    });
    expect(replicaHealthText(shards, 'commons')).toBe(
      'Kept on the doorway · 2 of 7 shards on distinct peers',
    );
    expect(replicaHealthText(copies({ state: 'local', doorways: undefined }), 'private')).toBe(
      'private: stays on this device',
    );
    expect(replicaHealthDot(copies({ state: 'replicating', ...onDoorway }))).toBe('dot--wait');
  });
});
