import { generateKeyPair } from '@libp2p/crypto/keys';
import type { Connection, Libp2p } from '@libp2p/interface';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { multiaddr } from '@multiformats/multiaddr';
import { describe, expect, it } from 'vitest';
import { TypedEventEmitter } from '../wire/index.ts';
import { BoundedDialer } from './bounded-dialer.ts';

const newPeerId = async () => peerIdFromPrivateKey(await generateKeyPair('Ed25519'));

/** A libp2p whose dials hang until their signal aborts, recording each dial's signal. */
class HangingLibp2p extends TypedEventEmitter<{ 'connection:open': CustomEvent<Connection> }> {
  readonly dials: AbortSignal[] = [];
  getConnections(): Connection[] {
    return [];
  }
  dial(_target: unknown, options: { signal: AbortSignal }): Promise<Connection> {
    this.dials.push(options.signal);
    return new Promise((_, reject) =>
      options.signal.addEventListener('abort', () => reject(options.signal.reason), { once: true }),
    );
  }
  /** A connection with `peer` opens, as libp2p reports it. */
  open(peer: string, direction: 'inbound' | 'outbound'): void {
    const connection = {
      remotePeer: { toString: () => peer },
      remoteAddr: multiaddr('/ip4/127.0.0.1/tcp/4001'),
      direction,
      limits: undefined,
    } as unknown as Connection;
    this.safeDispatchEvent('connection:open', { detail: connection });
  }
}

async function listedPeer() {
  const relay = (await newPeerId()).toString();
  const peer = (await newPeerId()).toString();
  const address = `/ip4/127.0.0.1/tcp/1/ws/p2p/${relay}/p2p-circuit/webrtc/p2p/${peer}`;
  return { peer_id: peer, multiaddrs: [address] };
}

function dialerOver(libp2p: HangingLibp2p) {
  return new BoundedDialer(libp2p as unknown as Libp2p, {
    maxPeers: 8,
    dialPrivate: false,
    isDoorway: () => false,
    signal: new AbortController().signal,
  });
}

describe('BoundedDialer', () => {
  it('stops dialling a listed peer once that peer has connected to us directly', async () => {
    const libp2p = new HangingLibp2p();
    const listed = await listedPeer();
    const dials = dialerOver(libp2p).dialListed([listed]);
    await expect.poll(() => libp2p.dials.length).toBe(1);

    // Crossing dials: the peer's own dial to us lands first. Ours would hang for its timeout,
    // and a fetch waiting for discovery with it.
    libp2p.open(listed.peer_id, 'inbound');
    await dials;
    expect(libp2p.dials).toHaveLength(1);
    expect(libp2p.dials[0]?.aborted).toBe(true);
  });

  it('keeps dialling when the connection that opened is another peer, or its own dial', async () => {
    const libp2p = new HangingLibp2p();
    const listed = await listedPeer();
    const other = await listedPeer();
    const dials = dialerOver(libp2p).dialListed([listed]);
    await expect.poll(() => libp2p.dials.length).toBe(1);
    libp2p.open(other.peer_id, 'inbound');
    libp2p.open(listed.peer_id, 'outbound');
    // Events are dispatched, and a dial aborted, synchronously.
    expect(libp2p.dials[0]?.aborted).toBe(false);
    libp2p.open(listed.peer_id, 'inbound');
    await dials;
  });
});
