/**
 * Holders from the trust layer for `fetchContent`: ask who announced a hash, dial them at their
 * announced addresses, and hand over the ones that answered, so a fetch can use peers this
 * node was never connected to.
 */
import type { PeerId } from '@libp2p/interface';
import { multiaddr } from '@multiformats/multiaddr';
import type { HolderFinder } from '../net/index.ts';
import type { Libp2pDialLike } from '../net/shard/index.ts';
import { TrustOfflineError } from './errors.ts';
import type { TrustClient, TrustHolder } from './types.ts';

export interface TrustFinderOptions {
  /** Per dial attempt. Default 10 s. */
  dialTimeoutMs?: number;
  /** Holders asked for. Default 20 (an rs-4-7 blob has 7 shard holders besides whole copies). */
  limit?: number;
  /**
   * A holder no dial reached is left alone this long: fetches ask again every few seconds,
   * and a closed tab stays announced until it withdraws. Default 15 s.
   */
  retryFailedAfterMs?: number;
}

/** A relay-signalled WebRTC dial still fails now and then (docs/design.md §9): one retry. */
const DIAL_ATTEMPTS = 2;
/** How long after the first new holder answered the others' dials may still join the answer. */
const LATE_DIAL_MS = 500;

export function trustHolderFinder(
  trust: Pick<TrustClient, 'findHolders'>,
  libp2p: Libp2pDialLike,
  options: TrustFinderOptions = {},
): HolderFinder {
  const dialTimeoutMs = options.dialTimeoutMs ?? 10_000;
  const retryAfterMs = options.retryFailedAfterMs ?? 15_000;
  const failedUntil = new Map<string, number>();

  async function reach(holder: TrustHolder, signal: AbortSignal): Promise<PeerId | undefined> {
    const id = holder.peerId.toString();
    if (holder.multiaddrs.length === 0 || (failedUntil.get(id) ?? 0) > Date.now()) return;
    const addresses = holder.multiaddrs.map((a) => multiaddr(a));
    for (let attempt = 1; attempt <= DIAL_ATTEMPTS && !signal.aborted; attempt++) {
      try {
        const connection = await libp2p.dial(addresses, {
          signal: AbortSignal.any([signal, AbortSignal.timeout(dialTimeoutMs)]),
        });
        // Noise authenticated the remote key; it must be the one that announced.
        if (!connection.remotePeer.equals(holder.peerId)) break;
        failedUntil.delete(id);
        return holder.peerId;
      } catch {
        // next attempt, then the negative cache
      }
    }
    if (!signal.aborted) failedUntil.set(id, Date.now() + retryAfterMs);
  }

  return {
    async findHolders(hash, { signal, onSearch, known }) {
      let holders: TrustHolder[];
      onSearch?.({ source: 'trust', status: 'asking' });
      try {
        // Whole copies and shard holders alike: the fetch asks each what it has.
        holders = await trust.findHolders(hash, {
          signal,
          limit: options.limit ?? 20,
          capability: null,
        });
      } catch (error) {
        if (signal.aborted) throw signal.reason;
        // Trust layer offline: no holders from it now; other finders may still have some.
        if (error instanceof TrustOfflineError) {
          onSearch?.({ source: 'trust', status: 'offline' });
          return [];
        }
        throw error;
      }
      // Known before the dials end: "connecting to 1 holder" while they run.
      if (holders.length > 0) {
        onSearch?.({ source: 'trust', status: 'answered', listed: holders.length, reached: 0 });
      }
      // Answers once every dial has ended, or a moment after the first new holder answered:
      // a closed tab stays listed until it withdraws, and its dial must not hold up a fetch
      // that can start now. Dials still under way go on; the peers they reach are connected,
      // so the next search finds them among the peers at hand.
      const found: PeerId[] = [];
      let late: ReturnType<typeof setTimeout> | undefined;
      const enough = new Promise<void>((resolve) => {
        const dials = holders.map(async (holder) => {
          const peer = await reach(holder, signal);
          if (!peer) return;
          found.push(peer);
          if (!known?.has(peer.toString())) late ??= setTimeout(resolve, LATE_DIAL_MS);
        });
        void Promise.all(dials).then(() => resolve());
      });
      await enough;
      clearTimeout(late);
      if (signal.aborted) throw signal.reason;
      onSearch?.({
        source: 'trust',
        status: 'answered',
        listed: holders.length,
        reached: found.length,
      });
      return [...found];
    },
  };
}
