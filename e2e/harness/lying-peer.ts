/**
 * A peer that lies (bundled by e2e/network.spec.ts): the real node and shard server, over a
 * store whose pieces come out with one byte flipped. Fetchers must catch every such piece.
 */
import { type ContentStore, openContentStore } from '../../src/content/index.ts';
import { loadOrCreateDeviceKey } from '../../src/identity/index.ts';
import { PeerNode } from '../../src/net/index.ts';
import { until } from './until.ts';

function lyingStore(store: ContentStore): ContentStore {
  return new Proxy(store, {
    get(target, property) {
      if (property === 'readPiece') {
        return async (hash: string, shard: number, piece: number) => {
          const bytes = new Uint8Array(await target.readPiece(hash, shard, piece));
          bytes[0] = (bytes[0] ?? 0) ^ 0x01;
          return bytes;
        };
      }
      const value = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

async function start(doorway: string, file: File): Promise<{ hash: string; peerId: string }> {
  const store = await openContentStore({ dbName: 'lying-peer' });
  const manifest = await store.put(file, { name: file.name });
  const node = await PeerNode.start({
    doorways: [doorway],
    store: lyingStore(store),
    privateKey: await loadOrCreateDeviceKey(),
  });
  await until(node, (s) => s.webrtcAddrs.length > 0);
  return { hash: manifest.blob_hash, peerId: node.peerId };
}

Object.assign(window, { lyingPeer: { start } });
