/**
 * The doorways this one knows of, and how each is: reachable now (an open libp2p connection),
 * when last seen, at which addresses, learned from where. Bounded: a full directory makes room
 * by forgetting the longest-unseen doorway that is neither configured nor connected.
 */

export type DoorwaySource = 'config' | 'dht' | 'trust';

export interface KnownDoorway {
  peerId: string;
  /** The HTTP origin, when known (configured URL or trust-layer registration). */
  url?: string;
  multiaddrs: string[];
  sources: DoorwaySource[];
  reachable: boolean;
  /** When a connection to it was last open (ms since the epoch). */
  lastSeen?: number;
  /** Why the last dial failed. */
  lastError?: string;
}

/** Addresses kept per doorway (its identify record may list more). */
export const MAX_DOORWAY_ADDRS = 16;
export const DEFAULT_MAX_DOORWAYS = 256;

export interface DoorwayUpdate {
  url?: string;
  multiaddrs?: readonly string[];
  source?: DoorwaySource;
  reachable?: boolean;
  lastError?: string;
}

export class DoorwayDirectory {
  readonly #doorways = new Map<string, KnownDoorway>();

  constructor(
    readonly self: string,
    readonly max = DEFAULT_MAX_DOORWAYS,
  ) {}

  get size(): number {
    return this.#doorways.size;
  }

  get(peerId: string): KnownDoorway | undefined {
    const known = this.#doorways.get(peerId);
    return known && { ...known, multiaddrs: [...known.multiaddrs], sources: [...known.sources] };
  }

  /** Records what was learned of a doorway; false when it is us or there is no room. */
  update(peerId: string, update: DoorwayUpdate): boolean {
    if (peerId === this.self) return false;
    let known = this.#doorways.get(peerId);
    if (!known) {
      if (this.#doorways.size >= this.max && !this.#evict()) return false;
      known = { peerId, multiaddrs: [], sources: [], reachable: false };
      this.#doorways.set(peerId, known);
    }
    if (update.url !== undefined) known.url = update.url;
    if (update.multiaddrs && update.multiaddrs.length > 0) {
      known.multiaddrs = [...new Set(update.multiaddrs)].slice(0, MAX_DOORWAY_ADDRS);
    }
    if (update.source && !known.sources.includes(update.source)) known.sources.push(update.source);
    if (update.reachable !== undefined) {
      known.reachable = update.reachable;
      if (update.reachable) {
        known.lastSeen = Date.now();
        delete known.lastError;
      }
    }
    if (update.lastError !== undefined) known.lastError = update.lastError;
    return true;
  }

  /** A connection to it closed: it was seen until now. */
  disconnected(peerId: string): void {
    const known = this.#doorways.get(peerId);
    if (!known?.reachable) return;
    known.reachable = false;
    known.lastSeen = Date.now();
  }

  /** Reachable ones first, then the most recently seen; at most `limit`. */
  list(limit = this.max): KnownDoorway[] {
    return [...this.#doorways.values()]
      .sort(
        (a, b) =>
          Number(b.reachable) - Number(a.reachable) || (b.lastSeen ?? 0) - (a.lastSeen ?? 0),
      )
      .slice(0, limit)
      .map((d) => ({ ...d, multiaddrs: [...d.multiaddrs], sources: [...d.sources] }));
  }

  /** Forgets the longest-unseen doorway that is neither configured nor reachable. */
  #evict(): boolean {
    let victim: KnownDoorway | undefined;
    for (const d of this.#doorways.values()) {
      if (d.reachable || d.sources.includes('config')) continue;
      if (!victim || (d.lastSeen ?? 0) < (victim.lastSeen ?? 0)) victim = d;
    }
    if (victim) this.#doorways.delete(victim.peerId);
    return victim !== undefined;
  }
}
