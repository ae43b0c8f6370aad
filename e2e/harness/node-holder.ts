/**
 * A Node peer holding commons items (run as its own process by e2e/store-bridge.spec.ts and
 * bench/bridge.ts): the real `Peer` on WebSockets to the doorway, announced in its trust layer
 * as the holder of `count` items of `size` bytes (`pseudoRandomBytes(size, seed + i)`). With
 * `--lie`, every piece leaves with one byte flipped: whoever pulls from it must catch each one.
 *
 *   node --import tsx e2e/harness/node-holder.ts <doorway origin> <data dir> <size> [count] [seed] [--lie]
 *
 * Prints `hash <sha256-…>` per item, then `announced` once the trust layer lists them all;
 * runs until killed.
 */
// Must come first: libp2p needs Promise.withResolvers, which Node 20 lacks.
import '../../doorway/polyfills.ts';
import 'fake-indexeddb/auto';
import { startNodePeer } from '../../src/peer/node.ts';
import { pseudoRandomBytes } from '../../src/test-support/bytes.ts';

const lie = process.argv.includes('--lie');
const [origin, dataDir, size, count = '1', seed = '99'] = process.argv
  .slice(2)
  .filter((arg) => arg !== '--lie');
if (!origin || !dataDir || !size) throw new Error('usage: node-holder <origin> <dir> <size>');

const peer = await startNodePeer({
  dataDir,
  listen: ['/ip4/127.0.0.1/tcp/0/ws'],
  doorways: [origin],
  dialListedPeers: false,
  copies: 0,
  trust: { displayName: lie ? 'A liar' : 'A holder' },
});
const hashes: string[] = [];
for (let i = 0; i < Number(count); i++) {
  const bytes = pseudoRandomBytes(Number(size), Number(seed) + i);
  const manifest = await peer.store.put(new Blob([bytes]), { reach: 'commons', name: `${i}.bin` });
  hashes.push(manifest.blob_hash);
  console.log(`hash ${manifest.blob_hash}`);
}
if (lie) {
  const readPiece = peer.store.readPiece.bind(peer.store);
  peer.store.readPiece = async (...args) => {
    const bytes = new Uint8Array(await readPiece(...args));
    bytes[0] = (bytes[0] ?? 0) ^ 0x01;
    return bytes;
  };
}
const trust = peer.trustClient;
if (!trust) throw new Error('the holder has no trust layer');
for (let i = 0; i < 600; i++) {
  const online = new Set(
    (await trust.myAnnouncements().catch(() => []))
      .filter((a) => a.online && a.endpoints.length > 0)
      .map((a) => a.hash),
  );
  if (hashes.every((hash) => online.has(hash))) {
    console.log('announced');
    break;
  }
  await new Promise((resolve) => setTimeout(resolve, 100));
}
