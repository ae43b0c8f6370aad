import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runContentStoreTests } from './content-store-tests.ts';
import { openFsContentStore } from './node.ts';

runContentStoreTests('filesystem', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'elohim-content-'));
  return {
    open: (options) => openFsContentStore({ ...options, dir }),
    async corruptPiece(m, shard, piece, bytes) {
      await writeFile(join(dir, 'pieces', m.storage_key, String(shard), String(piece)), bytes);
    },
    async cleanup() {
      await rm(dir, { recursive: true, force: true });
    },
  };
});
