/**
 * What the browsers attached to this doorway hold (they say so over `/elohim/holdings/1.0.0`,
 * holdings-server.ts): hash → the peers holding it, for as long as they are connected. The
 * doorway provides these hashes in the DHT as itself and pulls them through for others
 * (pull-through.ts), since browsers do not run kad-dht.
 *
 * Bounded three ways, so that no peer (nor many) can grow it without limit: hashes per peer,
 * peers per hash (more holders of one item add nothing a pull needs), and entries in all.
 * What is over a cap is dropped, and the sender is told how many.
 */
import type { PeerId } from '@libp2p/interface';
import { peerIdFromString } from '@libp2p/peer-id';
import type { ContentHash } from '../../src/content/index.ts';
import type { HolderFinder, HoldingsUpdate } from '../../src/net/index.ts';
import { TypedEventEmitter } from '../../src/wire/index.ts';

export interface HoldingsLimits {
  /** Hashes recorded for one peer (a browser names its newest commons items first). */
  perPeer: number;
  /** Peers recorded as holding one hash. */
  perHash: number;
  /** (peer, hash) entries in all. */
  total: number;
}

export const DEFAULT_HOLDINGS_LIMITS: HoldingsLimits = {
  perPeer: 10_000,
  perHash: 8,
  // About 100 bytes an entry in two maps: 20 MB at most.
  total: 200_000,
};

/** `change`: `hash` gained its first holder (`held`) or lost its last one. */
export interface HoldingsEvents {
  change: CustomEvent<{ hash: ContentHash; held: boolean }>;
}

export class HoldingsRegistry extends TypedEventEmitter<HoldingsEvents> {
  readonly #byHash = new Map<ContentHash, Set<string>>();
  readonly #byPeer = new Map<string, Set<ContentHash>>();
  readonly limits: HoldingsLimits;
  #total = 0;

  constructor(limits: Partial<HoldingsLimits> = {}) {
    super();
    this.limits = { ...DEFAULT_HOLDINGS_LIMITS, ...limits };
  }

  /** Hashes some peer holds. */
  get size(): number {
    return this.#byHash.size;
  }

  has(hash: string): boolean {
    return this.#byHash.has(hash as ContentHash);
  }

  /** The peers that said they hold `hash`, first recorded first. */
  holders(hash: string): string[] {
    return [...(this.#byHash.get(hash as ContentHash) ?? [])];
  }

  /** Hashes recorded for `peer`. */
  countOf(peer: string): number {
    return this.#byPeer.get(peer)?.size ?? 0;
  }

  /**
   * Applies what `peer` said; answers how many hashes are recorded for it now and how many of
   * those it named were dropped by a cap.
   */
  apply(peer: string, update: HoldingsUpdate): { held: number; dropped: number } {
    if (update.reset) this.forget(peer);
    for (const hash of update.removed) this.#remove(peer, hash);
    let dropped = 0;
    for (const hash of update.added) if (!this.#add(peer, hash)) dropped++;
    return { held: this.countOf(peer), dropped };
  }

  /** Forgets everything `peer` said (it went away, or turned out to be a doorway). */
  forget(peer: string): void {
    const hashes = this.#byPeer.get(peer);
    if (!hashes) return;
    for (const hash of [...hashes]) this.#remove(peer, hash);
  }

  clear(): void {
    for (const peer of [...this.#byPeer.keys()]) this.forget(peer);
  }

  #add(peer: string, hash: ContentHash): boolean {
    const mine = this.#byPeer.get(peer);
    if (mine?.has(hash)) return true;
    const holders = this.#byHash.get(hash);
    if (
      (mine?.size ?? 0) >= this.limits.perPeer ||
      (holders?.size ?? 0) >= this.limits.perHash ||
      this.#total >= this.limits.total
    ) {
      return false;
    }
    if (mine) mine.add(hash);
    else this.#byPeer.set(peer, new Set([hash]));
    if (holders) holders.add(peer);
    else this.#byHash.set(hash, new Set([peer]));
    this.#total++;
    if (!holders) this.safeDispatchEvent('change', { detail: { hash, held: true } });
    return true;
  }

  #remove(peer: string, hash: ContentHash): void {
    const mine = this.#byPeer.get(peer);
    if (!mine?.delete(hash)) return;
    if (mine.size === 0) this.#byPeer.delete(peer);
    this.#total--;
    const holders = this.#byHash.get(hash);
    holders?.delete(peer);
    if (holders?.size === 0) {
      this.#byHash.delete(hash);
      this.safeDispatchEvent('change', { detail: { hash, held: false } });
    }
  }
}

/**
 * Holders of a hash: the attached browsers that said they hold it when some did (no lookup
 * elsewhere, which also keeps a pull for another doorway from walking the DHT back to it),
 * else what `fallback` finds.
 */
export function holdersFirst(registry: HoldingsRegistry, fallback: HolderFinder): HolderFinder {
  return {
    findHolders: async (hash, options) => {
      const held = registry.holders(hash);
      if (held.length === 0) return fallback.findHolders(hash, options);
      return held.map((p): PeerId => peerIdFromString(p));
    },
  };
}
