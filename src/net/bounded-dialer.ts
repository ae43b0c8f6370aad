/**
 * Keeps a node's direct peers within a bound (README, "Bounded discovery"): of the peers a
 * doorway lists it dials only as many as there is room for, and a holder a fetch needs is
 * dialled at once, the oldest idle peer closed to make room. libp2p's `maxConnections` is the
 * hard bound behind this one (network.ts).
 */
import type { Connection, Libp2p, PeerId } from '@libp2p/interface';
import { isMultiaddr, type Multiaddr, multiaddr } from '@multiformats/multiaddr';
import { Circuit, WebRTC } from '@multiformats/multiaddr-matcher';
import { type AbortOptions, logger, withTimeout } from '../wire/index.ts';
import type { SignalPeer } from './doorway-client.ts';
import { isDirect } from './network.ts';
import { REPLICATE_PROTOCOL } from './replicate/index.ts';
import { PIECES_PROTOCOL, SHARD_PROTOCOL } from './shard/index.ts';

const log = logger('net:bound');

export const DIAL_TIMEOUT_MS = 10_000;
/** A relay-signalled WebRTC dial still fails now and then (docs/design.md §9): three tries a round. */
const DIAL_ATTEMPTS = 3;
/** A doorway's list of peers is read this far at most (it sends 16). */
const MAX_LISTED = 64;
/**
 * Streams that move content: a connection without one is idle, and may make room for a holder
 * (libp2p's own streams and a description sync, which resumes when they meet again, do not count).
 */
const CONTENT_PROTOCOLS = new Set([SHARD_PROTOCOL, PIECES_PROTOCOL, REPLICATE_PROTOCOL]);

/** The PeerId a dial target names, when it names one. */
function targetPeer(target: PeerId | Multiaddr | Multiaddr[]): string | undefined {
  const last = (ma: Multiaddr | undefined) =>
    ma?.getComponents().findLast((c) => c.name === 'p2p')?.value;
  if (Array.isArray(target)) return last(target[0]);
  return isMultiaddr(target) ? last(target) : target.toString();
}

export interface BoundedDialerOptions {
  maxPeers: number;
  /** Node: a listed peer without a WebRTC address is dialled at its direct ones. */
  dialPrivate: boolean;
  isDoorway(peerId: string): boolean;
  /** The node's life: dials end with it. */
  signal: AbortSignal;
}

export class BoundedDialer {
  readonly #dialing = new Set<string>();

  constructor(
    private readonly libp2p: Libp2p,
    private readonly options: BoundedDialerOptions,
  ) {}

  /** Peers other than doorways with a direct connection now. */
  directPeers(): string[] {
    const peers = this.libp2p
      .getConnections()
      .filter((c) => isDirect(c) && !this.options.isDoorway(c.remotePeer.toString()))
      .map((c) => c.remotePeer.toString());
    return [...new Set(peers)];
  }

  /**
   * Dials the listed peers not connected yet while fewer than `maxPeers` are connected or being
   * dialled; resolves when the dials end.
   */
  async dialListed(peers: readonly SignalPeer[]): Promise<void> {
    const connected = new Set(this.directPeers());
    const room = this.options.maxPeers - connected.size - this.#dialing.size;
    if (room <= 0) return;
    await Promise.all(
      peers
        .slice(0, MAX_LISTED)
        .filter(
          (peer) =>
            !connected.has(peer.peer_id) &&
            !this.options.isDoorway(peer.peer_id) &&
            !this.#dialing.has(peer.peer_id),
        )
        .slice(0, room)
        .map((peer) => this.#dialListedPeer(peer.peer_id, peer.multiaddrs)),
    );
  }

  /**
   * Dials a peer a fetch needs (a holder the trust layer named): when `maxPeers` direct peers
   * are connected already, the oldest idle one is closed first.
   */
  async dial(
    target: PeerId | Multiaddr | Multiaddr[],
    options: AbortOptions = {},
  ): Promise<Connection> {
    const peer = targetPeer(target);
    const connected =
      peer !== undefined &&
      this.libp2p
        .getConnections()
        .some((c) => c.remotePeer.toString() === peer && c.status === 'open');
    if (!connected) await this.#makeRoom();
    return this.libp2p.dial(target, options);
  }

  /**
   * The addresses to dial a listed peer at: its WebRTC ones (signalled through the relay), or in
   * Node (`dialPrivate`) its direct ones; never the relay itself, which carries signalling only.
   */
  #directAddrs(addresses: readonly string[]): Multiaddr[] {
    const parsed: Multiaddr[] = [];
    for (const address of addresses) {
      try {
        parsed.push(multiaddr(address));
      } catch {
        // a malformed address from the doorway: skip it
      }
    }
    const webrtc = parsed.filter((ma) => WebRTC.matches(ma));
    if (webrtc.length > 0 || !this.options.dialPrivate) return webrtc;
    return parsed.filter((ma) => !Circuit.matches(ma));
  }

  async #dialListedPeer(peerId: string, addresses: readonly string[]): Promise<void> {
    const direct = this.#directAddrs(addresses);
    if (direct.length === 0 || this.#dialing.has(peerId)) return;
    this.#dialing.add(peerId);
    // The peer read the same list and may be dialling us now. Once its connection is open this
    // dial is not needed, and it may never end: two relay-signalled WebRTC dials that cross can
    // each hang until their timeout (seen in e2e runs: 10 s, then 10 s more).
    const reached = new AbortController();
    const onOpen = ({ detail }: CustomEvent<Connection>) => {
      if (
        detail.remotePeer.toString() === peerId &&
        detail.direction === 'inbound' &&
        isDirect(detail)
      )
        reached.abort(new Error(`${peerId} connected first`));
    };
    this.libp2p.addEventListener('connection:open', onOpen);
    const began = Date.now();
    try {
      for (let attempt = 1; attempt <= DIAL_ATTEMPTS; attempt++) {
        if (this.options.signal.aborted || reached.signal.aborted) return;
        const signal = AbortSignal.any([
          withTimeout(this.options.signal, DIAL_TIMEOUT_MS),
          reached.signal,
        ]);
        try {
          await this.libp2p.dial(direct, { signal });
          return;
        } catch (error) {
          log(
            'dial %d to listed %s ended after %d ms: %e',
            attempt,
            peerId,
            Date.now() - began,
            error,
          );
          // The next discovery round tries again after the last attempt.
        }
      }
    } finally {
      this.libp2p.removeEventListener('connection:open', onOpen);
      this.#dialing.delete(peerId);
    }
  }

  /** At `maxPeers` direct peers, closes the oldest idle one: a holder a fetch needs comes first. */
  async #makeRoom(): Promise<void> {
    const direct = this.libp2p
      .getConnections()
      .filter((c) => isDirect(c) && !this.options.isDoorway(c.remotePeer.toString()));
    if (new Set(direct.map((c) => c.remotePeer.toString())).size < this.options.maxPeers) return;
    const idle = direct
      .filter((c) => c.streams.every((s) => !CONTENT_PROTOCOLS.has(s.protocol ?? '')))
      .sort((a, b) => a.timeline.open - b.timeline.open)[0];
    if (!idle) return; // all busy: libp2p's maxConnections still bounds the total
    log('closing idle %s to make room for a holder', idle.remotePeer);
    await idle.close().catch((error: unknown) => idle.abort(error as Error));
  }
}
