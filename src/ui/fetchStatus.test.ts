import { describe, expect, it } from 'vitest';
import type { FetchProgress, SearchProgress } from '../net/index.ts';
import {
  askedSoFar,
  fetchStatusText,
  peerLabel,
  sourcesText,
  steadyProgress,
} from './fetchStatus.ts';

const HASH = `sha256-${'ab'.repeat(32)}`;
const search = (over: Partial<SearchProgress> = {}): SearchProgress => ({
  peersAsked: 0,
  holdersFound: 0,
  trust: 'unasked',
  holdersConnecting: 0,
  doorway: 'unasked',
  rounds: 0,
  ...over,
});
const progress = (over: Partial<FetchProgress> = {}): FetchProgress => ({
  hash: HASH,
  phase: 'pieces',
  bytesDone: 0,
  totalBytes: 0,
  rate: 0,
  peers: [],
  ...over,
});
const peer = (id: string, direct: boolean, state: 'active' | 'dropped' = 'active') => ({
  peerId: id,
  direct,
  bytes: 0,
  state,
});

describe('fetchStatusText', () => {
  it('says whom the search asked so far', () => {
    expect(fetchStatusText(undefined)).toBe('Looking for peers that hold it…');
    expect(
      fetchStatusText(
        progress({ phase: 'finding', search: search({ peersAsked: 3, trust: 'answered' }) }),
      ),
    ).toBe('Looking for peers that hold it… asked 3 peers and the trust layer so far');
  });

  it('says when a holder is known and being connected to', () => {
    expect(
      fetchStatusText(progress({ phase: 'finding', search: search({ holdersConnecting: 1 }) })),
    ).toBe('Looking for peers that hold it… 1 peer has it: connecting');
  });

  it('never shows "0 B of 0 B": before the size is known it says who was found', () => {
    const text = fetchStatusText(progress({ phase: 'manifest', peers: [peer('p', true)] }));
    expect(text).toBe('Found 1 peer that holds it; starting…');
    expect(text).not.toMatch(/0 B/);
  });

  it('shows the current rate and the time left while bytes move', () => {
    expect(fetchStatusText(progress({ totalBytes: 4 * 2 ** 20 }))).toBe(
      '0 B of 4.0 MiB · starting…',
    );
    expect(
      fetchStatusText(
        progress({ bytesDone: 2 ** 20, totalBytes: 4 * 2 ** 20, rate: 2 ** 20, secondsLeft: 3 }),
      ),
    ).toBe('1.0 MiB of 4.0 MiB · 1.0 MiB/s · a few seconds left');
  });

  it('says everything arrived while it verifies', () => {
    expect(fetchStatusText(progress({ phase: 'verifying', totalBytes: 2048 }))).toBe(
      '2.0 KiB received · verifying…',
    );
  });
});

describe('steadyProgress', () => {
  it('does not step back from verifying to the byte count', () => {
    const verifying = progress({ phase: 'verifying', bytesDone: 100, totalBytes: 100 });
    const late = progress({ phase: 'pieces', bytesDone: 90, totalBytes: 100 });
    expect(steadyProgress(verifying, late).phase).toBe('verifying');
  });

  it('does not count bytes backwards within a phase', () => {
    const shown = progress({ bytesDone: 50, totalBytes: 100 });
    expect(steadyProgress(shown, progress({ bytesDone: 40, totalBytes: 100 })).bytesDone).toBe(50);
  });

  it('starts over when a new search begins', () => {
    const shown = progress({ phase: 'verifying', bytesDone: 100, totalBytes: 100 });
    expect(steadyProgress(shown, progress({ phase: 'finding' })).phase).toBe('finding');
  });
});

describe('who and how', () => {
  it('names peers in plain words, the doorway as the doorway', () => {
    expect(peerLabel({ peerId: '12D3KooWabcdefXYZ123' })).toBe('a peer (…XYZ123)');
    expect(peerLabel({ peerId: 'http://127.0.0.1:8080' })).toBe('the doorway');
  });

  it('sums up the sources, direct or relayed', () => {
    expect(sourcesText([peer('a', true)])).toBe('from 1 peer, direct');
    expect(sourcesText([peer('a', false), peer('b', false)])).toBe('from 2 peers, relayed');
    expect(sourcesText([peer('a', true), peer('b', false), peer('c', true, 'dropped')])).toBe(
      'from 2 peers, 1 direct',
    );
    expect(sourcesText([])).toBe('');
  });

  it('lists whom the search asked', () => {
    expect(askedSoFar(undefined)).toBe('');
    expect(askedSoFar(search({ trust: 'answered', doorway: 'none' }))).toBe(
      'asked the trust layer and the doorway',
    );
  });
});
