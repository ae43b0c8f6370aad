/**
 * Run as a child process by `src/content/fs-store.test.ts`: puts a large blob into the
 * filesystem content store in `argv[2]`, slowly enough (small pieces, each fsynced) that the
 * parent can kill it mid-write. Not a test on its own.
 */
import { openFsContentStore } from '../content/node.ts';
import { pseudoRandomBytes } from './bytes.ts';

const dir = process.argv[2];
if (!dir) throw new Error('usage: fs-put-child.ts <store dir>');
const store = await openFsContentStore({
  dir,
  thresholds: { chunkedAbove: 64 * 1024, rsAbove: 256 * 1024 },
  chunkSize: 4096,
  pieceSize: 4096,
});
await store.put(pseudoRandomBytes(64 * 1024 * 1024, 5), { name: 'big.bin' });
store.close();
