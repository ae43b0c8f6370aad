import { afterEach, describe, expect, it } from 'vitest';
import type { ContentStore, StoredManifest } from '../content/index.ts';
import { NoHoldersError } from './errors.ts';
import type { FetchProgress, HolderFinder } from './fetch.ts';
import { nearFirst } from './finders.ts';
import type { PeerNode } from './node.ts';
import { LeaderPeerService } from './peer-service.ts';
import { describeNobody, SearchTally } from './search.ts';
import { UploadTracker } from './uploads.ts';

const HASH = `sha256-${'ab'.repeat(32)}`;

/** Connected peers that all say no. */
const peersSayNo = (...asked: string[]): HolderFinder => ({
  findHolders: async (_hash, { onSearch }) => {
    onSearch?.({ source: 'peers', asked, found: 0 });
    return [];
  },
});

/** A trust layer that lists `listed` holders, none of which a dial reaches. */
const trustLists = (listed: number): HolderFinder => ({
  findHolders: async (_hash, { onSearch }) => {
    onSearch?.({ source: 'trust', status: 'asking' });
    onSearch?.({ source: 'trust', status: 'answered', listed, reached: 0 });
    return [];
  },
});

/** Just what the leader uses of a node and a store to fail a fetch nobody can serve. */
function fakeNode(): PeerNode {
  const uploads = new UploadTracker({ describe: () => ({ direct: false, doorway: false }) });
  return Object.assign(new EventTarget(), {
    uploads,
    snapshot: () => ({}),
    whenDiscovered: async () => {},
    discoverNow: async () => {},
    isDirectPeer: () => false,
    libp2p: {},
  }) as unknown as PeerNode;
}
const emptyStore = { manifest: async () => undefined } as unknown as ContentStore;

const services: LeaderPeerService[] = [];
afterEach(() => {
  for (const service of services.splice(0)) service.close();
});

function leader(finder: HolderFinder, fallBack?: () => Promise<StoredManifest>) {
  const service = new LeaderPeerService(fakeNode(), emptyStore, undefined, finder, fallBack);
  services.push(service);
  return service;
}

describe('SearchTally', () => {
  it('counts each peer asked once over every round', () => {
    const tally = new SearchTally();
    tally.record({ source: 'peers', asked: ['a', 'b'], found: 0 });
    tally.record({ source: 'peers', asked: ['b', 'c'], found: 0 });
    tally.record({ source: 'trust', status: 'asking' });
    expect(tally.snapshot()).toMatchObject({ peersAsked: 3, trust: 'asking', holdersFound: 0 });
    tally.record({ source: 'trust', status: 'answered', listed: 0, reached: 0 });
    expect(tally.snapshot().trust).toBe('answered');
    expect(tally.reasonToWait()).toBe(false);
  });

  it('waits while a listed holder is not reached, and says so when it gives up', () => {
    const tally = new SearchTally();
    tally.record({ source: 'peers', asked: ['a'], found: 0 });
    tally.record({ source: 'trust', status: 'answered', listed: 1, reached: 0 });
    expect(tally.reasonToWait()).toBe(true);
    // A later round asking again keeps what the last one said.
    tally.record({ source: 'trust', status: 'asking' });
    expect(tally.snapshot().trust).toBe('answered');
    expect(describeNobody(tally.snapshot())).toBe(
      'Asked 1 peer and the trust layer: 1 peer has it but could not be reached. ' +
        'Try again when whoever shared it has the app open.',
    );
  });

  it('says whom it asked, in plain words, when nobody holds it', () => {
    const tally = new SearchTally();
    tally.record({ source: 'peers', asked: ['a', 'b', 'c'], found: 0 });
    tally.record({ source: 'trust', status: 'answered', listed: 0, reached: 0 });
    tally.record({ source: 'doorway', status: 'none' });
    expect(describeNobody(tally.snapshot())).toBe(
      'Asked 3 peers, the trust layer and the doorway; nobody holds it. ' +
        'Try again when whoever shared it has the app open.',
    );
  });

  it('says when no other peer is online', () => {
    const tally = new SearchTally();
    tally.record({ source: 'peers', asked: [], found: 0 });
    tally.record({ source: 'trust', status: 'answered', listed: 0, reached: 0 });
    tally.record({ source: 'doorway', status: 'none' });
    expect(describeNobody(tally.snapshot())).toMatch(
      /^Asked the trust layer and the doorway \(no other peer is online\); nobody holds it\./,
    );
  });

  it('says when the trust layer could not be asked', () => {
    const tally = new SearchTally();
    tally.record({ source: 'peers', asked: ['a'], found: 0 });
    tally.record({ source: 'trust', status: 'offline' });
    expect(describeNobody(tally.snapshot())).toMatch(
      /^Asked 1 peer; nobody holds it\. The trust layer could not be reached/,
    );
  });

  it('does not say "nobody holds it" when nobody could be asked', () => {
    const tally = new SearchTally();
    tally.record({ source: 'peers', asked: [], found: 0 });
    tally.record({ source: 'trust', status: 'offline' });
    tally.record({ source: 'doorway', status: 'unreachable' });
    expect(describeNobody(tally.snapshot())).toBe(
      'Nobody could be asked: this device is not connected to the network. ' +
        'Try again once it is online.',
    );
  });
});

describe('LeaderPeerService.fetch of a hash nobody holds', () => {
  it('fails within a few seconds, saying whom it asked, with live feedback on the way', async () => {
    const finder = nearFirst(peersSayNo('p1', 'p2', 'p3'), trustLists(0));
    const doorwayAsked: string[] = [];
    const service = leader(finder, async () => {
      doorwayAsked.push(HASH);
      throw new NoHoldersError(HASH);
    });
    const seen: FetchProgress[] = [];
    const started = Date.now();
    const error = await service
      .fetch(HASH, { findForMs: 60_000, onProgress: (p) => seen.push(p) })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    const elapsed = Date.now() - started;
    expect(error).toBeInstanceOf(NoHoldersError);
    expect((error as Error).message).toBe(
      'Asked 3 peers, the trust layer and the doorway; nobody holds it. ' +
        'Try again when whoever shared it has the app open.',
    );
    // Two rounds and a pause: far below the 60 s it may look when a holder is known.
    expect(elapsed).toBeLessThan(5_000);
    // The doorway is asked once per fetch, not once per round.
    expect(doorwayAsked).toHaveLength(1);
    // Every answer showed while looking: peers asked, then the trust layer, then the doorway.
    expect(seen.every((p) => p.phase === 'finding' && p.hash === HASH)).toBe(true);
    expect(seen.some((p) => p.search?.trust === 'asking')).toBe(true);
    expect(seen.some((p) => p.search?.peersAsked === 3 && p.search.doorway === 'unasked')).toBe(
      true,
    );
    expect(seen.at(-1)?.search).toMatchObject({
      peersAsked: 3,
      trust: 'answered',
      doorway: 'none',
    });
  });

  it('keeps looking while a holder is known but not reached, up to findForMs', async () => {
    const service = leader(nearFirst(peersSayNo('p1'), trustLists(1)));
    const started = Date.now();
    const error = await service.fetch(HASH, { findForMs: 2_500 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    const elapsed = Date.now() - started;
    expect(error).toBeInstanceOf(NoHoldersError);
    expect((error as Error).message).toMatch(/1 peer has it but could not be reached/);
    // More than the two rounds an unknown hash gets; no more than the deadline and a round.
    expect(elapsed).toBeGreaterThanOrEqual(2_500);
    expect(elapsed).toBeLessThan(6_000);
  });

  it('asks the doorway only once the peers had their chance: not while a holder may still connect', async () => {
    let askedAt: number | undefined;
    const bridged = { blob_hash: HASH } as unknown as StoredManifest;
    const service = leader(nearFirst(peersSayNo('p1'), trustLists(1)), async () => {
      askedAt ??= Date.now();
      return bridged;
    });
    const started = Date.now();
    await expect(service.fetch(HASH, { findForMs: 2_500 })).resolves.toBe(bridged);
    // The first rounds found a holder still connecting: the doorway waited for the deadline.
    expect((askedAt ?? 0) - started).toBeGreaterThanOrEqual(2_500);
  });

  it('says nothing more once it failed: a late answer neither shows nor outlives the fetch', async () => {
    let lookupAborted: boolean | undefined;
    const late: HolderFinder = {
      findHolders: async (_hash, { signal, onSearch }) => {
        // A slow source (dials to closed tabs) answering after the fetch gave up.
        setTimeout(() => {
          lookupAborted = signal.aborted;
          onSearch?.({ source: 'trust', status: 'answered', listed: 1, reached: 0 });
        }, 200);
        return [];
      },
    };
    const service = leader(late);
    let afterwards = 0;
    let failed = false;
    const error = await service
      .fetch(HASH, {
        findForMs: 0,
        onProgress: () => {
          if (failed) afterwards++;
        },
      })
      .catch((e: unknown) => e);
    failed = true;
    expect(error).toBeInstanceOf(NoHoldersError);
    await expect.poll(() => lookupAborted, { timeout: 5_000 }).toBe(true);
    expect(afterwards).toBe(0);
  });

  it('stops at once when cancelled mid-search', async () => {
    const controller = new AbortController();
    const service = leader(nearFirst(peersSayNo('p1'), trustLists(1)));
    const fetching = service.fetch(HASH, { signal: controller.signal, findForMs: 60_000 });
    setTimeout(() => controller.abort(new Error('cancelled')), 100);
    await expect(fetching).rejects.toThrow(/cancelled/);
  });
});

describe('LeaderPeerService.openStream of a hash nobody holds (/content/<hash>)', () => {
  it('fails as fast as a fetch, with the same plain words, not after findForMs', async () => {
    const service = leader(nearFirst(peersSayNo('p1', 'p2'), trustLists(0)));
    const started = Date.now();
    const error = await service.openStream(HASH, { findForMs: 60_000 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(NoHoldersError);
    expect((error as Error).message).toBe(
      'Asked 2 peers and the trust layer; nobody holds it. ' +
        'Try again when whoever shared it has the app open.',
    );
    // Two rounds and a pause, as a fetch (about 2 s), not the 60 s findForMs allows (nor the old 20 s).
    expect(Date.now() - started).toBeLessThan(15_000);
  });

  it('keeps looking while a holder is known but not reached, up to findForMs', async () => {
    const service = leader(nearFirst(peersSayNo('p1'), trustLists(1)));
    const started = Date.now();
    const error = await service.openStream(HASH, { findForMs: 2_500 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((error as Error).message).toMatch(/1 peer has it but could not be reached/);
    expect(Date.now() - started).toBeGreaterThanOrEqual(2_500);
  });

  it('stops at once when the request goes away, leaving no search running', async () => {
    let searches = 0;
    const counting: HolderFinder = {
      findHolders: async (hash, options) => {
        searches++;
        return peersSayNo('p1').findHolders(hash, options);
      },
    };
    const controller = new AbortController();
    const service = leader(counting);
    const opening = service.openStream(HASH, { signal: controller.signal, findForMs: 60_000 });
    setTimeout(() => controller.abort(new Error('the page went away')), 100);
    await expect(opening).rejects.toThrow(/the page went away/);
    const after = searches;
    // Well past a round's pause and discovery wait: no further round started.
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    expect(searches).toBe(after);
  });
});
