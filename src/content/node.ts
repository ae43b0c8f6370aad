/**
 * The Node entry of the content store: everything `index.ts` exports, plus the filesystem
 * store. Kept apart because the app bundles `index.ts` and must not see `node:` imports.
 *
 *   import { openFsContentStore } from '../content/node.ts';
 *   const store = await openFsContentStore({ dir: '/var/lib/elohim/content' });
 */
import { createHash } from 'node:crypto';
import {
  type ContentStore,
  type ContentStoreOptions,
  checkOptions,
  openStore,
} from './content-store.ts';
import { openFsBackend } from './fs-backend.ts';
import { InlineHashService } from './hasher.ts';

export * from './index.ts';

export interface FsContentStoreOptions
  extends Omit<ContentStoreOptions, 'dbName' | 'locks' | 'hashing'> {
  /** The store's directory (created when missing). One process writes it at a time. */
  dir: string;
}

/**
 * Opens (or creates) a content store in `dir`: the same `ContentStore` as the IndexedDB one,
 * same verification, same events. Puts of a process that died are swept on open.
 */
export async function openFsContentStore(options: FsContentStoreOptions): Promise<ContentStore> {
  const thresholds = checkOptions(options);
  const backend = await openFsBackend(options.dir);
  // No Web Locks here: a put's owner is its process (pid) and store instance. Hashing with
  // node:crypto: an rs-4-7 import hashes its bytes several times over (pieces, shards, blob).
  return openStore(
    backend,
    undefined,
    { broadcast: false, ...options },
    thresholds,
    new InlineHashService(async () => createHash('sha256')),
  );
}
