/**
 * Sync in a Node process: the sync runtime on the filesystem (the documents in `FsDocStorage`, NodeFS's
 * layout written crash-safely; the event log in an append-only file, the library ids in a JSON file). Kept out of `index.ts` so
 * browser bundles never see `node:` modules.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
// The full entry (not /slim) initialises Automerge's WASM for Node; the runtime's /slim
// imports then share it.
import '@automerge/automerge-repo';
import type { EventLog } from './event-log.ts';
import { FileEventLog } from './file-event-log.ts';
import { FsDocStorage } from './fs-storage.ts';
import type { LibraryIds } from './libraries.ts';
import { openSyncRuntime, type SyncRuntime } from './runtime.ts';

export interface NodeSyncInit {
  /** This agent's key: it names the libraries. */
  agent: string;
  /**
   * Where the documents (`automerge/`), the event log (`events.log`) and the library ids
   * (`libraries.json`) are kept.
   */
  dir: string;
  /** Another event log than the file in `dir` (tests: one in fake-indexeddb). */
  log?: EventLog;
}

export async function openNodeSync(init: NodeSyncInit): Promise<SyncRuntime> {
  const log = init.log ?? (await FileEventLog.open({ file: join(init.dir, 'events.log') }));
  try {
    const runtime = await openSyncRuntime({
      agent: init.agent,
      storage: await FsDocStorage.open(join(init.dir, 'automerge')),
      log,
      ids: fileIds(join(init.dir, 'libraries.json')),
    });
    if (init.log) return runtime;
    // The file log is this runtime's: it closes with it, once every write has ended.
    return {
      ...runtime,
      shutdown: () => runtime.shutdown().finally(() => log.close()),
    };
  } catch (error) {
    if (!init.log) log.close();
    throw error;
  }
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

export { FileEventLog, MAX_RECORD_BYTES } from './file-event-log.ts';
export { DocStorageError, FsDocStorage, MAX_CHUNK_BYTES } from './fs-storage.ts';
