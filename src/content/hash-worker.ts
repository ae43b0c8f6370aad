/**
 * Module worker that runs sha256 (hash-wasm) off the main thread. Hashing a 1 GiB blob takes
 * seconds of CPU; on the main thread it would freeze the UI and serialise with IndexedDB
 * work, so ingest would be bound by hashing instead of by storage.
 *
 * Hashers are multiplexed by id. Per id, operations run strictly in arrival order
 * (postMessage is FIFO; each operation is chained on the previous one's promise).
 */
import { createSHA256, type IHasher } from 'hash-wasm';
import { forEachSlice } from './blob-reader.ts';
import type { FromHashWorker, ToHashWorker } from './hash-protocol.ts';

const scope = self as unknown as DedicatedWorkerGlobalScope;
const hashers = new Map<number, Promise<IHasher>>();
/**
 * Hashers whose buffers go back to the sender once hashed. A dropped buffer would be garbage
 * here until V8's next GC, which comes late in an isolate with a JS heap this small (one
 * worker held ~150–200 MiB of hashed pieces); the sender reuses them instead.
 */
const recycling = new Set<number>();

function post(msg: FromHashWorker, transfer: Transferable[] = []): void {
  scope.postMessage(msg, transfer);
}

function chain(id: number, op: (h: IHasher) => Promise<void> | void): void {
  const prev = hashers.get(id);
  if (!prev) {
    post({ t: 'error', id, message: `unknown hasher ${id}` });
    return;
  }
  const next = prev.then(async (h) => {
    await op(h);
    return h;
  });
  hashers.set(id, next);
  next.catch((e: unknown) => {
    if (hashers.get(id) === next) hashers.delete(id);
    post({ t: 'error', id, message: e instanceof Error ? e.message : String(e) });
  });
}

scope.onmessage = (ev: MessageEvent<ToHashWorker>) => {
  const msg = ev.data;
  switch (msg.t) {
    case 'create':
      hashers.set(msg.id, createSHA256());
      if (msg.recycle) recycling.add(msg.id);
      break;
    case 'update':
      chain(msg.id, (h) => {
        h.update(new Uint8Array(msg.buf, msg.off, msg.len));
        if (recycling.has(msg.id))
          post({ t: 'ack', id: msg.id, len: msg.len, buf: msg.buf }, [msg.buf]);
        else post({ t: 'ack', id: msg.id, len: msg.len });
      });
      break;
    case 'blob':
      chain(msg.id, async (h) => {
        const { blob, sliceSize } = msg;
        let cancelled = false;
        await forEachSlice(blob, sliceSize, (bytes, end) => {
          cancelled = !hashers.has(msg.id);
          if (cancelled) return false;
          h.update(bytes);
          post({ t: 'progress', id: msg.id, bytes: end });
          return true;
        });
        if (!cancelled) post({ t: 'blobDone', id: msg.id });
      });
      break;
    case 'digest':
      chain(msg.id, (h) => {
        hashers.delete(msg.id);
        recycling.delete(msg.id);
        post({ t: 'digest', id: msg.id, hex: h.digest('hex') });
      });
      break;
    case 'cancel':
      hashers.delete(msg.id);
      recycling.delete(msg.id);
      break;
  }
};
