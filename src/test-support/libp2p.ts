/**
 * Test-only helpers: two (or more) real libp2p nodes on loopback WebSockets in Node.
 * Not imported by application code.
 */
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import type { Libp2p, PrivateKey, Stream } from '@libp2p/interface';
import { webSockets } from '@libp2p/websockets';
import type { Multiaddr } from '@multiformats/multiaddr';
import { createLibp2p } from 'libp2p';
import { concat } from './fuzz.ts';
import '../peer/node-websocket.ts';

/**
 * `maxStreamWindow` caps Yamux's per-stream receive window (default: Yamux's 16 MiB);
 * `privateKey`: the node's key (default a new one).
 */
export async function loopbackNode(
  listen = true,
  maxStreamWindow?: number,
  privateKey?: PrivateKey,
): Promise<Libp2p> {
  return createLibp2p({
    ...(privateKey ? { privateKey } : {}),
    addresses: { listen: listen ? ['/ip4/127.0.0.1/tcp/0/ws'] : [] },
    transports: [webSockets()],
    connectionEncrypters: [noise()],
    streamMuxers: [
      yamux(maxStreamWindow ? { streamOptions: { maxStreamWindowSize: maxStreamWindow } } : {}),
    ],
    connectionGater: { denyDialMultiaddr: () => false },
    // Every test node is on 127.0.0.1: the per-host inbound rate limit would refuse the
    // connections of a many-peer test (as the doorway allows loopback).
    connectionManager: { allow: ['/ip4/127.0.0.0/ipcidr/8'] },
  });
}

export function addrOf(node: Libp2p): Multiaddr {
  const a = node.getMultiaddrs()[0];
  if (!a) throw new Error('node is not listening');
  return a;
}

/** All bytes the remote sends until it closes its side (for raw-frame tests). */
export async function readAll(stream: Stream, timeoutMs = 5_000): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  const timer = setTimeout(() => stream.abort(new Error('readAll timed out')), timeoutMs);
  try {
    for await (const chunk of stream) {
      parts.push(chunk instanceof Uint8Array ? chunk : chunk.subarray());
    }
  } finally {
    clearTimeout(timer);
  }
  return concat(...parts);
}

export { pseudoRandomBytes as testBytes } from './bytes.ts';
