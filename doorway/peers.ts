import { type Multiaddr, multiaddr } from '@multiformats/multiaddr';
import { Circuit, IP_OR_DOMAIN, WebRTC } from '@multiformats/multiaddr-matcher';

export const SHARD_PROTOCOL = '/elohim/shard/1.0.0';
export const SYNC_PROTOCOL = '/elohim/sync/1.0.0';
/** circuit-relay-v2's hop protocol: a peer speaking it offers to relay. */
export const RELAY_HOP_PROTOCOL = '/libp2p/circuit/relay/0.2.0/hop';

export type Capability = 'shard' | 'sync' | 'relay';

/**
 * What one peer may put in the registry: its addresses (a browser has one or two relayed
 * WebRTC addresses per doorway) and protocols. Identify caps its message at 8 KiB already; these
 * keep each `/signal` answer small too.
 */
export const MAX_ADDRS_PER_PEER = 8;
export const MAX_PROTOCOLS_PER_PEER = 64;
/** Peers one `/signal` answer lists at most: a browser keeps about 8 direct peers. */
export const SIGNAL_SAMPLE_SIZE = 16;

/**
 * How a peer can be reached, in the Rust doorway's `nat_status` field and spelling (clients
 * read the lowercase spelling older doorways of ours wrote too):
 * - `Public`: it has a direct (non-relayed) dialable address;
 * - `Private`: reachable only through a relay (every browser peer: `/p2p-circuit` and
 *   `/p2p-circuit/webrtc` addresses);
 * - `Unknown`: it has told us no dialable address (yet).
 */
export type NatStatus = 'Public' | 'Private' | 'Unknown';

export interface PeerEntry {
  peerId: string;
  /** Dialable addresses, each ending in `/p2p/<peerId>`; WebRTC first, then other relayed, then direct. */
  multiaddrs: string[];
  protocols: string[];
  capabilities: Capability[];
  natStatus: NatStatus;
  connectedSince: Date;
}

export function capabilitiesOf(protocols: readonly string[]): Capability[] {
  const caps: Capability[] = [];
  if (protocols.includes(SHARD_PROTOCOL)) caps.push('shard');
  if (protocols.includes(SYNC_PROTOCOL)) caps.push('sync');
  if (protocols.includes(RELAY_HOP_PROTOCOL)) caps.push('relay');
  return caps;
}

/**
 * Turns the addresses a peer announces (identify / identify-push) into the ones another peer can
 * dial: relayed addresses (`…/p2p/<relay>/p2p-circuit[/webrtc]`) and direct ones starting with
 * an IP or DNS name; each gets `/p2p/<peerId>` appended. Bare `/webrtc` or `/p2p-circuit`
 * listen markers, and addresses naming another peer, are dropped. Order: WebRTC (the direct
 * browser-to-browser path), then plain relayed, then direct.
 */
export function dialableAddrs(peerId: string, addrs: readonly (Multiaddr | string)[]): string[] {
  const rank = (ma: Multiaddr) => (WebRTC.matches(ma) ? 0 : Circuit.matches(ma) ? 1 : 2);
  const seen = new Set<string>();
  const out: Multiaddr[] = [];
  for (const input of addrs) {
    let ma: Multiaddr;
    try {
      ma = typeof input === 'string' ? multiaddr(input) : input;
    } catch {
      continue;
    }
    const components = ma.getComponents();
    const last = components.at(-1);
    if (last?.name === 'p2p') {
      if (last.value !== peerId) continue;
    } else {
      ma = ma.encapsulate(`/p2p/${peerId}`);
    }
    const relayed = Circuit.matches(ma) || WebRTC.matches(ma);
    if (!relayed && !IP_OR_DOMAIN.matches(ma)) continue;
    if (relayed && !components.some((c) => c.name === 'p2p' && c.value !== peerId)) continue;
    const text = ma.toString();
    if (seen.has(text)) continue;
    seen.add(text);
    out.push(ma);
  }
  return out
    .map((ma, i) => ({ ma, i, r: rank(ma) }))
    .sort((a, b) => a.r - b.r || a.i - b.i)
    .map(({ ma }) => ma.toString());
}

function natStatusOf(addrs: readonly string[]): NatStatus {
  if (addrs.length === 0) return 'Unknown';
  return addrs.some((a) => !a.includes('/p2p-circuit')) ? 'Public' : 'Private';
}

interface Known {
  connectedSince: Date;
  addrs: string[];
  protocols: string[];
}

/**
 * The peers connected to the doorway, with what identify / identify-push told us about them.
 * Fed by libp2p events (see p2p.ts); kept free of libp2p so it can be tested on its own.
 */
export class PeerRegistry {
  readonly #peers = new Map<string, Known>();

  /** A peer's first connection opened. Reconnecting an already known peer keeps its record. */
  connected(peerId: string, at: Date = new Date()): void {
    if (!this.#peers.has(peerId)) {
      this.#peers.set(peerId, { connectedSince: at, addrs: [], protocols: [] });
    }
  }

  /**
   * Identify or identify-push from a peer. Empty lists mean "unchanged" (identify-push may omit
   * fields). Returns false when the peer is not (or no longer) connected: its data is ignored.
   */
  identified(
    peerId: string,
    info: { addrs?: readonly (Multiaddr | string)[]; protocols?: readonly string[] },
  ): boolean {
    const record = this.#peers.get(peerId);
    if (record == null) return false;
    if (info.addrs != null && info.addrs.length > 0)
      record.addrs = dialableAddrs(peerId, info.addrs).slice(0, MAX_ADDRS_PER_PEER);
    if (info.protocols != null && info.protocols.length > 0)
      record.protocols = info.protocols.slice(0, MAX_PROTOCOLS_PER_PEER);
    return true;
  }

  /** The peer's last connection closed. */
  disconnected(peerId: string): boolean {
    return this.#peers.delete(peerId);
  }

  has(peerId: string): boolean {
    return this.#peers.has(peerId);
  }

  get size(): number {
    return this.#peers.size;
  }

  get(peerId: string): PeerEntry | undefined {
    const record = this.#peers.get(peerId);
    return record == null ? undefined : toEntry(peerId, record);
  }

  /** All connected peers, oldest connection first, optionally without one of them. */
  list(options: { exclude?: string; dialableOnly?: boolean; limit?: number } = {}): PeerEntry[] {
    const out: PeerEntry[] = [];
    for (const [peerId, record] of this.#peers) {
      if (peerId === options.exclude) continue;
      if (options.dialableOnly && record.addrs.length === 0) continue;
      out.push(toEntry(peerId, record));
    }
    out.sort((a, b) => a.connectedSince.getTime() - b.connectedSince.getTime());
    return options.limit === undefined ? out : out.slice(0, options.limit);
  }

  /**
   * At most `limit` dialable peers other than `exclude`, drawn at random: no one can be
   * answered the whole registry, and since each ask draws afresh every peer is listed to
   * everyone over time. Costs O(connected peers), which the doorway's `maxConnections` bounds.
   */
  sample(options: { exclude?: string; limit?: number; random?: () => number } = {}): PeerEntry[] {
    const limit = options.limit ?? SIGNAL_SAMPLE_SIZE;
    const random = options.random ?? Math.random;
    const ids: string[] = [];
    for (const [peerId, record] of this.#peers) {
      if (peerId !== options.exclude && record.addrs.length > 0) ids.push(peerId);
    }
    // A partial Fisher–Yates shuffle: the first `limit` slots are a uniform sample.
    const count = Math.min(limit, ids.length);
    for (let i = 0; i < count; i++) {
      const j = i + Math.floor(random() * (ids.length - i));
      [ids[i], ids[j]] = [ids[j] as string, ids[i] as string];
    }
    return ids.slice(0, count).map((id) => toEntry(id, this.#peers.get(id) as Known));
  }

  clear(): void {
    this.#peers.clear();
  }
}

function toEntry(peerId: string, record: Known): PeerEntry {
  return {
    peerId,
    multiaddrs: [...record.addrs],
    protocols: [...record.protocols],
    capabilities: capabilitiesOf(record.protocols),
    natStatus: natStatusOf(record.addrs),
    connectedSince: record.connectedSince,
  };
}
