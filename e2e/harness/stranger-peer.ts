/**
 * A stranger (bundled by e2e/push.spec.ts): the real node, connected to the doorway like any
 * peer, that tries to store bytes in another browser with a shard-protocol `Push`.
 */
import { peerIdFromString } from '@libp2p/peer-id';
import { openContentStore, sha256Bytes } from '../../src/content/index.ts';
import { loadOrCreateDeviceKey } from '../../src/identity/index.ts';
import { PeerNode } from '../../src/net/index.ts';
import { shardPush } from '../../src/net/shard/index.ts';

let node: PeerNode | undefined;

async function start(doorway: string): Promise<string> {
  node = await PeerNode.start({
    doorways: [doorway],
    store: await openContentStore({ dbName: 'stranger-peer' }),
    privateKey: await loadOrCreateDeviceKey(),
  });
  return node.peerId;
}

/** Whether the stranger itself holds a direct connection to `target` (not only the reverse). */
function isDirect(target: string): boolean {
  return node?.isDirectPeer(target) ?? false;
}

/** Pushes `size` random bytes to `target`; resolves with their hash and how the push ended. */
async function push(target: string, size: number): Promise<{ hash: string; outcome: string }> {
  if (!node) throw new Error('start the stranger first');
  const data = crypto.getRandomValues(new Uint8Array(size));
  const hash = await sha256Bytes(data);
  try {
    await shardPush(node.libp2p, peerIdFromString(target), hash, data, { timeoutMs: 30_000 });
    return { hash, outcome: 'stored' };
  } catch (error) {
    return { hash, outcome: error instanceof Error ? error.message : String(error) };
  }
}

Object.assign(window, { stranger: { start, isDirect, push } });
