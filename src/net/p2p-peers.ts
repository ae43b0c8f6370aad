/**
 * `/api/v1/federation/p2p-peers`, as both doorways write it: the bootstrap a Rust doorway
 * offers (it has no `/api/v1/p2p/info`, and its `/signal/{pubkey}` is a WebSocket), read here
 * whichever doorway wrote it:
 *
 *   {"peers": [{"peer_id", "multiaddrs", "capabilities": ["shard","sync","relay"?],
 *               "nat_status": "Public" | "Private" | "Unknown" | null}], "total"}
 *
 * The Rust doorway lists its storage nodes' raw listen addresses (no `/p2p/<id>`; `/p2p/<id>`
 * is added here); ours lists itself first, then its peers. `nat_status` is read in Rust's
 * form and in the lowercase one older doorways of ours wrote. Entries that are not well formed
 * are skipped; the list and each entry's addresses are capped.
 */
import { peerIdFromString } from '@libp2p/peer-id';
import { multiaddr } from '@multiformats/multiaddr';

/** Entries read at most (a doorway lists 100 at most). */
export const MAX_P2P_PEERS = 100;
/** Addresses read at most per entry. */
export const MAX_PEER_ADDRS = 16;

/** As the Rust doorway writes it (and ours, since it writes Rust's form). */
export type NatStatus = 'Public' | 'Private' | 'Unknown';

export interface P2pPeer {
  peer_id: string;
  /** Each ending in `/p2p/<peer_id>`. */
  multiaddrs: string[];
  capabilities: string[];
  nat_status: NatStatus | null;
}

const NAT: Record<string, NatStatus> = {
  public: 'Public',
  private: 'Private',
  unknown: 'Unknown',
};

/** `"Public"` or `"public"` → `Public`; anything else (null, junk) → null. */
export function readNatStatus(v: unknown): NatStatus | null {
  return typeof v === 'string' ? (NAT[v.toLowerCase()] ?? null) : null;
}

/**
 * `addrs` as dialable addresses of `peerId`: `/p2p/<peerId>` appended where missing; addresses
 * that end in another peer's id, or do not parse, dropped.
 */
export function withPeerId(peerId: string, addrs: readonly unknown[]): string[] {
  const out: string[] = [];
  for (const a of addrs.slice(0, MAX_PEER_ADDRS)) {
    if (typeof a !== 'string') continue;
    try {
      const ma = multiaddr(a);
      const last = ma.getComponents().at(-1);
      if (last?.name === 'p2p') {
        if (last.value === peerId) out.push(ma.toString());
      } else {
        out.push(ma.encapsulate(`/p2p/${peerId}`).toString());
      }
    } catch {}
  }
  return out;
}

/** The well-formed entries of a `/api/v1/federation/p2p-peers` body, in its order. */
export function readP2pPeers(body: unknown): P2pPeer[] {
  const peers = (body as { peers?: unknown } | null)?.peers;
  if (!Array.isArray(peers)) return [];
  const out: P2pPeer[] = [];
  for (const p of peers.slice(0, MAX_P2P_PEERS)) {
    const entry = p as Partial<Record<keyof P2pPeer, unknown>> | null;
    if (typeof entry?.peer_id !== 'string' || !Array.isArray(entry.multiaddrs)) continue;
    let peerId: string;
    try {
      peerId = peerIdFromString(entry.peer_id).toString();
    } catch {
      continue;
    }
    out.push({
      peer_id: peerId,
      multiaddrs: withPeerId(peerId, entry.multiaddrs),
      capabilities: Array.isArray(entry.capabilities)
        ? entry.capabilities.filter((c): c is string => typeof c === 'string').slice(0, 16)
        : [],
      nat_status: readNatStatus(entry.nat_status),
    });
  }
  return out;
}

/**
 * The doorway's own node in its p2p-peers list: the first entry that relays (ours lists
 * itself first, a relay; the Rust doorway its local storage node first), else the first
 * entry with an address.
 */
export function relayOf(peers: readonly P2pPeer[]): P2pPeer | undefined {
  const reachable = peers.filter((p) => p.multiaddrs.length > 0);
  return reachable.find((p) => p.capabilities.includes('relay')) ?? reachable[0];
}
