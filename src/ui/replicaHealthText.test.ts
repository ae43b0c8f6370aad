import { describe, expect, it } from 'vitest';
import type { ContentHash } from '../content/index.ts';
import type { ReplicaHealth } from '../net/index.ts';
import {
  replicaHealthAlarm,
  replicaHealthDot,
  replicaHealthText,
  replicaHealthTitle,
} from './replicaHealthText.ts';

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
  it('short of peers and on no doorway: says calmly what there is and what comes, in grey', () => {
    const h = copies({ stored: ['peer-b'], reason: 'no other peer is online' });
    expect(replicaHealthText(h, 'commons')).toBe('1 copy on a peer — more when others come online');
    expect(replicaHealthDot(h)).toBe('');
    expect(replicaHealthAlarm(h)).toBe(false);
    expect(replicaHealthTitle(h)).toMatch(/^Peers that keep a copy .*\. no other peer is online$/);
    const alone = copies({ reason: 'no other peer is online' });
    expect(replicaHealthText(alone, 'commons')).toBe(
      'Only on this device for now — copied when a peer can take it',
    );
    expect(replicaHealthDot(alone)).toBe('');
    const three = copies({ wanted: 4, stored: ['b', 'c', 'd'] });
    expect(replicaHealthText(three, 'commons')).toBe(
      '3 copies on peers — more when others come online',
    );
    const shards = copies({
      kind: 'shards',
      wanted: 7,
      shards: ['a', 'b', null, null, null, null, null],
    });
    expect(replicaHealthText(shards, 'commons')).toBe(
      '2 of 7 shards on peers — more when others come online',
    );
    expect(replicaHealthDot(shards)).toBe('');
    expect(
      replicaHealthText(copies({ kind: 'shards', wanted: 7, shards: [null, null] }), 'commons'),
    ).toBe('Only on this device for now — its shards go out when peers can take them');
    // Shards kept for others, short: the count, no alarm.
    const kept = copies({
      kind: 'kept',
      wanted: 7,
      shards: ['me', 'a', 'b', 'c', 'd', null, null],
    });
    expect(replicaHealthText(kept, 'commons')).toBe('5 of 7 shards online');
    expect(replicaHealthDot(kept)).toBe('');
  });

  it('a copy lost (its keeper said it no longer holds it) and not made again: amber, in words', () => {
    const one = copies({ stored: [], lost: 1, reason: 'no other peer is online' });
    expect(replicaHealthText(one, 'commons')).toBe('A copy was lost — 0 of 2 copies on peers');
    expect(replicaHealthDot(one)).toBe('dot--wait');
    expect(replicaHealthAlarm(one)).toBe(true);
    expect(replicaHealthText(copies({ lost: 2 }), 'commons')).toBe(
      '2 copies were lost — 0 of 2 copies on peers',
    );
    const shard = copies({ kind: 'shards', wanted: 7, lost: 1, shards: ['a', null] });
    expect(replicaHealthText(shard, 'commons')).toBe(
      '1 shard was lost — 1 of 7 shards on distinct peers',
    );
    // Made good (all copies again), or a doorway keeps it: no alarm.
    expect(replicaHealthDot(copies({ state: 'replicated', lost: 1, stored: ['b', 'c'] }))).toBe(
      'dot--ok',
    );
    expect(replicaHealthAlarm(copies({ lost: 1, doorways: ['d'] }))).toBe(false);
    // Copying is no alarm either.
    expect(replicaHealthDot(copies({ state: 'replicating' }))).toBe('');
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
      'private: stays on your devices',
    );
    // Copying while the doorway keeps it: safe, so green.
    expect(replicaHealthDot(copies({ state: 'replicating', ...onDoorway }))).toBe('dot--ok');
  });
});
