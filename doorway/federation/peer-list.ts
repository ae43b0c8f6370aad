/**
 * `--peers`: the doorways to link with, as multiaddrs that name the doorway's PeerId or as the
 * doorway's HTTP(S) URL, resolved through its `/api/v1/p2p/info`.
 */
import { multiaddr } from '@multiformats/multiaddr';
import { PeerListError } from './errors.ts';

export type PeerEntry =
  | { kind: 'multiaddr'; addr: string; peerId: string }
  | { kind: 'url'; url: string };

/** More would be a list of the network, which the DHT and the trust layer keep instead. */
export const MAX_PEER_ENTRIES = 64;

function parseEntry(text: string): PeerEntry {
  if (text.startsWith('/')) {
    let peerId: string | undefined;
    try {
      peerId = multiaddr(text)
        .getComponents()
        .findLast((c) => c.name === 'p2p')?.value;
    } catch (error) {
      throw new PeerListError(
        `--peers: "${text}" is not a multiaddr (${(error as Error).message})`,
      );
    }
    if (!peerId) {
      throw new PeerListError(
        `--peers: "${text}" must end in /p2p/<the doorway's PeerId> (its /api/v1/p2p/info lists such addresses)`,
      );
    }
    return { kind: 'multiaddr', addr: text, peerId };
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new PeerListError(
      `--peers: "${text}" is neither a multiaddr (/ip4/…/p2p/…) nor a doorway URL (https://…)`,
    );
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.hostname === '') {
    throw new PeerListError(`--peers: "${text}" must be an http:// or https:// doorway URL`);
  }
  return { kind: 'url', url: url.origin };
}

/** Reads a comma-separated `--peers` value; throws {@link PeerListError} naming the bad entry. */
export function parsePeerList(text: string): PeerEntry[] {
  const entries = text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map(parseEntry);
  if (entries.length > MAX_PEER_ENTRIES) {
    throw new PeerListError(
      `--peers lists ${entries.length} doorways; at most ${MAX_PEER_ENTRIES} (the rest are found through them)`,
    );
  }
  return entries;
}
