/**
 * Opening a request stream to a peer, shared by every client of the shard and piece protocols.
 */
import type { Connection, PeerId, Stream } from '@libp2p/interface';
import type { Multiaddr } from '@multiformats/multiaddr';
import type { AbortOptions } from '../../wire/index.ts';

export type PeerTarget = PeerId | Multiaddr | Multiaddr[];

/** The part of a libp2p node the client needs. */
export interface Libp2pDialLike {
  dial(peer: PeerTarget, options?: { signal?: AbortSignal }): Promise<Connection>;
}

export interface ShardRequestOptions extends AbortOptions {
  /** Default 30 s. */
  timeoutMs?: number;
  /** Allow relayed (limited) connections. Default false: relays cap bytes (docs/design.md §9). */
  runOnLimitedConnection?: boolean;
}

export async function openShardStream(
  libp2p: Libp2pDialLike,
  peer: PeerTarget,
  protocol: string,
  signal: AbortSignal,
  opts: ShardRequestOptions,
): Promise<{ stream: Stream; name: string }> {
  const streamOptions = { signal, runOnLimitedConnection: opts.runOnLimitedConnection ?? false };
  const conn = await libp2p.dial(peer, { signal });
  try {
    return {
      stream: await conn.newStream(protocol, streamOptions),
      name: conn.remotePeer.toString(),
    };
  } catch (error) {
    // A connection the remote side cut can still be handed out as open until libp2p notices
    // its muxer closed: end it here and dial once more, which makes a new one.
    if (!(error instanceof Error && error.name === 'ConnectionClosedError')) throw error;
    conn.abort(error);
    const fresh = await libp2p.dial(peer, { signal });
    return {
      stream: await fresh.newStream(protocol, streamOptions),
      name: fresh.remotePeer.toString(),
    };
  }
}
