/**
 * The `Peer` in a Node process: TCP (and WebSockets) instead of WebRTC, its key in a file of
 * its data directory. Kept out of `index.ts` so browser bundles never see `node:` modules.
 */
import './node-websocket.ts';
import { join } from 'node:path';
import { tcp } from '@libp2p/tcp';
import { webSockets } from '@libp2p/websockets';
import { type FsContentStoreOptions, openFsContentStore } from '../content/node.ts';
import { loadOrCreateKey } from '../identity/node.ts';
import type { NetworkProfile } from '../net/index.ts';
import { Peer, type PeerInit } from './peer.ts';

/** Listens on `listen` (default an OS-chosen TCP port on 127.0.0.1) and dials any address. */
export function nodeNetwork(listen: string[] = ['/ip4/127.0.0.1/tcp/0']): NetworkProfile {
  return { transports: [tcp(), webSockets()], listen, dialPrivate: true };
}

export interface NodePeerInit extends Omit<PeerInit, 'privateKey' | 'network' | 'store'> {
  /** Where the key (`peer-key.pb`) and, unless `contentDir` says otherwise, the content store (`content/`) are kept. */
  dataDir: string;
  /** The content store's directory. Default `<dataDir>/content`. */
  contentDir?: string;
  listen?: string[];
  /** Transports and addresses other than {@link nodeNetwork}'s (`listen` is then ignored). */
  network?: NetworkProfile;
  /** Thresholds, piece size and the like of the content store. */
  content?: Omit<FsContentStoreOptions, 'dir'>;
}

/** Starts a `Peer` on its data directory; `peer.stop()` then `peer.store.close()` end it. */
export async function startNodePeer(init: NodePeerInit): Promise<Peer> {
  const { dataDir, contentDir, listen, network, content, ...rest } = init;
  const { key } = await loadOrCreateKey(dataDir);
  const store = await openFsContentStore({
    ...content,
    dir: contentDir ?? join(dataDir, 'content'),
  });
  try {
    return await Peer.start({
      ...rest,
      store,
      privateKey: key,
      network: network ?? nodeNetwork(listen),
    });
  } catch (error) {
    store.close();
    throw error;
  }
}

export { Peer, type PeerEvents, type PeerInit } from './peer.ts';
