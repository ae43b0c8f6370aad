/**
 * The peer: one composition root (`Peer`) that owns the store, the libp2p node and its
 * protocol services, the trust layer, the family cluster, the replicator and sync.
 *
 * - In a page: `new PagePeer().start({ store, doorways, … })` runs the `Peer` in the tab that
 *   holds the node's Web Lock and follows it from the others; the `Peer` class loads on demand
 *   (libp2p stays off the first paint), so only its type is exported here.
 * - In Node: `Peer` and `startNodePeer({ dataDir, store })` from `./node.ts` (TCP, a key file).
 *
 *   const peer = await Peer.start({ store, privateKey, doorways: [origin], sync });
 *   const manifest = await peer.fetch('sha256-…');
 *   await peer.stop();
 */
export { PagePeer, type PagePeerEvents, type PagePeerInit } from './page.ts';
export type { Peer, PeerEvents, PeerInit } from './peer.ts';
export type { TrustInit } from './trust.ts';
