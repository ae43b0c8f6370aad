/**
 * A Node peer that lies (run by e2e/store-bridge.spec.ts as its own process): the real `Peer`
 * on WebSockets to the doorway, announced in its trust layer as the holder of a commons item,
 * whose pieces leave with one byte flipped. Whoever pulls from it must catch every one.
 *
 *   node --import tsx e2e/harness/lying-node-peer.ts <doorway origin> <data dir> <size>
 *
 * Prints `hash <sha256-…>` (the true bytes are `pseudoRandomBytes(size, 99)`), then
 * `announced` once the trust layer lists it; runs until killed.
 */
// Must come first: libp2p needs Promise.withResolvers, which Node 20 lacks.
import '../../doorway/polyfills.ts';
import 'fake-indexeddb/auto';
import { startNodePeer } from '../../src/peer/node.ts';
import { pseudoRandomBytes } from '../../src/test-support/bytes.ts';

const [origin, dataDir, size] = process.argv.slice(2);
if (!origin || !dataDir || !size) throw new Error('usage: lying-node-peer <origin> <dir> <size>');

const peer = await startNodePeer({
  dataDir,
  listen: ['/ip4/127.0.0.1/tcp/0/ws'],
  doorways: [origin],
  dialListedPeers: false,
  copies: 0,
  trust: { displayName: 'A liar' },
  content: { hashing: 'inline' },
});
const manifest = await peer.store.put(new Blob([pseudoRandomBytes(Number(size), 99)]), {
  reach: 'commons',
  name: 'lies.bin',
});
const readPiece = peer.store.readPiece.bind(peer.store);
peer.store.readPiece = async (...args) => {
  const bytes = new Uint8Array(await readPiece(...args));
  bytes[0] = (bytes[0] ?? 0) ^ 0x01;
  return bytes;
};
console.log(`hash ${manifest.blob_hash}`);
const trust = peer.trustClient;
if (!trust) throw new Error('the liar has no trust layer');
for (let i = 0; i < 300; i++) {
  const mine = await trust.myAnnouncements().catch(() => []);
  if (mine.some((a) => a.hash === manifest.blob_hash && a.online && a.endpoints.length > 0)) {
    console.log('announced');
    break;
  }
  await new Promise((resolve) => setTimeout(resolve, 100));
}
