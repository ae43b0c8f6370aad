/**
 * Sync in a Node process: the sync runtime on the filesystem (Automerge's NodeFS storage, the
 * library ids in a JSON file). Kept out of `index.ts` so browser bundles never see `node:`
 * modules. The event log is passed in (`EventLog.open` needs an IndexedDB implementation).
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
// The full entry (not /slim) initialises Automerge's WASM for Node; the runtime's /slim
// imports then share it.
import '@automerge/automerge-repo';
import { NodeFSStorageAdapter } from '@automerge/automerge-repo-storage-nodefs';
import type { EventLog } from './event-log.ts';
import type { LibraryIds } from './libraries.ts';
import { openSyncRuntime, type SyncRuntime } from './runtime.ts';

export interface NodeSyncInit {
  /** This agent's key: it names the libraries. */
  agent: string;
  /** Where the documents (`automerge/`) and the library ids (`libraries.json`) are kept. */
  dir: string;
  log: EventLog;
}

export function openNodeSync(init: NodeSyncInit): Promise<SyncRuntime> {
  return openSyncRuntime({
    agent: init.agent,
    storage: new NodeFSStorageAdapter(join(init.dir, 'automerge')),
    log: init.log,
    ids: fileIds(join(init.dir, 'libraries.json')),
  });
}

/** Library ids in a small JSON file, replaced whole (write, then rename) on each change. */
function fileIds(file: string): LibraryIds {
  let ids: Record<string, string> = {};
  try {
    ids = JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  return {
    getItem: (key) => ids[key] ?? null,
    setItem(key, value) {
      ids = { ...ids, [key]: value };
      writeFileSync(`${file}.tmp`, JSON.stringify(ids), { mode: 0o600 });
      renameSync(`${file}.tmp`, file);
    },
  };
}
