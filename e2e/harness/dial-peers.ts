/**
 * Browser peers dialling one another through a doorway's relay (bundled by e2e/dials.spec.ts):
 * the real node, several of them in one page, each with a key of its own. `listen` starts the
 * peer to be dialled; `crowd` starts more, which `dialAll` has dial it at the same moment.
 */
import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromString } from '@libp2p/peer-id';
import { multiaddr } from '@multiformats/multiaddr';
import { openContentStore } from '../../src/content/index.ts';
import { PeerNode } from '../../src/net/index.ts';
import { until } from './until.ts';

interface Ping {
  ping(peer: unknown, options?: { signal?: AbortSignal }): Promise<number>;
}

const nodes: PeerNode[] = [];

async function startNode(doorway: string): Promise<PeerNode> {
  const node = await PeerNode.start({
    doorways: [doorway],
    store: await openContentStore({ dbName: `dial-peers-${nodes.length}` }),
    privateKey: await generateKeyPair('Ed25519'),
    dialListedPeers: false,
  });
  nodes.push(node);
  // Until then its gater does not know the doorway's address, and refuses to dial through it.
  await until(node, (s) => s.doorways.some((d) => d.status === 'connected'));
  return node;
}

/** Starts the peer to be dialled; resolves with its relayed WebRTC addresses. */
async function listen(doorway: string): Promise<{ peerId: string; addrs: string[] }> {
  const node = await startNode(doorway);
  await until(node, (s) => s.webrtcAddrs.length > 0);
  return { peerId: node.peerId, addrs: node.snapshot().webrtcAddrs };
}

async function crowd(doorway: string, count: number): Promise<void> {
  await Promise.all(Array.from({ length: count }, () => startNode(doorway)));
}

/** Every node of the page dials `addrs` at once and pings over the connection it got. */
async function dialAll(
  addrs: string[],
  timeoutMs: number,
): Promise<{ ok: boolean; direct: boolean; error: string }[]> {
  return Promise.all(
    nodes.map(async (node) => {
      const signal = AbortSignal.timeout(timeoutMs);
      try {
        const connection = await node.libp2p.dial(
          addrs.map((a) => multiaddr(a)),
          { signal },
        );
        await (node.libp2p.services as { ping: Ping }).ping.ping(connection.remotePeer, {
          signal,
        });
        return { ok: true, direct: connection.limits === undefined, error: '' };
      } catch (error) {
        return { ok: false, direct: false, error: String(error) };
      }
    }),
  );
}

/** This page's nodes close every connection they have to `peerId`. */
async function closeAll(peerId: string): Promise<void> {
  const peer = peerIdFromString(peerId);
  await Promise.all(nodes.map((node) => node.libp2p.hangUp(peer)));
}

/** Open connections of this page's first node to `peerId`. */
function connectionsTo(peerId: string): number {
  return nodes[0]?.libp2p.getConnections(peerIdFromString(peerId)).length ?? 0;
}

function peerIds(): string[] {
  return nodes.map((node) => node.peerId);
}

Object.assign(window, { dialPeers: { listen, crowd, dialAll, closeAll, connectionsTo, peerIds } });
