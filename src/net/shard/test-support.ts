/**
 * Test-only helpers: two (or more) real libp2p nodes on loopback WebSockets in Node.
 * Not imported by application code.
 */
import { createRequire } from 'node:module';
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import type { Libp2p, Stream } from '@libp2p/interface';
import { webSockets } from '@libp2p/websockets';
import type { Multiaddr } from '@multiformats/multiaddr';
import { createLibp2p } from 'libp2p';

// @libp2p/websockets dials with the global WebSocket, which Node 20 lacks: use `ws` (already
// installed for the listener).
if (typeof globalThis.WebSocket !== 'function') {
  const { WebSocket } = createRequire(import.meta.url)('ws') as {
    WebSocket: typeof globalThis.WebSocket;
  };
  Object.defineProperty(globalThis, 'WebSocket', {
    configurable: true,
    writable: true,
    value: WebSocket,
  });
}

/** `maxStreamWindow` caps Yamux's per-stream receive window (default: Yamux's 16 MiB). */
export async function loopbackNode(listen = true, maxStreamWindow?: number): Promise<Libp2p> {
  return createLibp2p({
    addresses: { listen: listen ? ['/ip4/127.0.0.1/tcp/0/ws'] : [] },
    transports: [webSockets()],
    connectionEncrypters: [noise()],
    streamMuxers: [
      yamux(maxStreamWindow ? { streamOptions: { maxStreamWindowSize: maxStreamWindow } } : {}),
    ],
    connectionGater: { denyDialMultiaddr: () => false },
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
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.byteLength;
  }
  return out;
}

/** Deterministic pseudo-random bytes (xorshift). */
export function testBytes(n: number, seed = n + 1): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed * 2654435761 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}
