/**
 * The `Peer` in a Node process: TCP (and WebSockets) instead of WebRTC, its key in a file of
 * its data directory. Kept out of `index.ts` so browser bundles never see `node:` modules.
 */
import { tcp } from '@libp2p/tcp';
import { webSockets } from '@libp2p/websockets';
import { loadOrCreateKey } from '../identity/node.ts';
import type { NetworkProfile } from '../net/index.ts';
import { Peer, type PeerInit } from './peer.ts';

/** Listens on `listen` (default an OS-chosen TCP port on 127.0.0.1) and dials any address. */
export function nodeNetwork(listen: string[] = ['/ip4/127.0.0.1/tcp/0']): NetworkProfile {
  return { transports: [tcp(), webSockets()], listen, dialPrivate: true };
}

export interface NodePeerInit extends Omit<PeerInit, 'privateKey' | 'network'> {
  /** Where the key is kept (`peer-key.pb`): the PeerId survives restarts. */
  dataDir: string;
  listen?: string[];
}

export async function startNodePeer(init: NodePeerInit): Promise<Peer> {
  const { dataDir, listen, ...rest } = init;
  const { key } = await loadOrCreateKey(dataDir);
  return Peer.start({ ...rest, privateKey: key, network: nodeNetwork(listen) });
}

export { Peer, type PeerEvents, type PeerInit } from './peer.ts';
