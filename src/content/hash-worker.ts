/**
 * Module worker that runs sha256 (hash-wasm) off the main thread. Hashing a 1 GiB blob takes
 * seconds of CPU; on the main thread it would freeze the UI and serialise with IndexedDB
 * work, so ingest would be bound by hashing instead of by storage.
 *
 * Hashers are multiplexed by id. Per id, operations run strictly in arrival order
 * (postMessage is FIFO; each operation is chained on the previous one's promise).
 */
import { createSHA256, type IHasher } from 'hash-wasm';
import type { FromHashWorker, ToHashWorker } from './hash-protocol.ts';

const scope = self as unknown as DedicatedWorkerGlobalScope;
const hashers = new Map<number, Promise<IHasher>>();

function post(msg: FromHashWorker): void {
  scope.postMessage(msg);
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
      break;
    case 'update':
      chain(msg.id, (h) => {
        h.update(new Uint8Array(msg.buf, msg.off, msg.len));
        post({ t: 'ack', id: msg.id, len: msg.len });
      });
      break;
    case 'blob':
      chain(msg.id, async (h) => {
        const { blob, sliceSize } = msg;
        for (let off = 0; off < blob.size; off += sliceSize) {
          if (!hashers.has(msg.id)) return; // cancelled
          h.update(new Uint8Array(await blob.slice(off, off + sliceSize).arrayBuffer()));
          post({ t: 'progress', id: msg.id, bytes: Math.min(blob.size, off + sliceSize) });
        }
        post({ t: 'blobDone', id: msg.id });
      });
      break;
    case 'digest':
      chain(msg.id, (h) => {
        hashers.delete(msg.id);
        post({ t: 'digest', id: msg.id, hex: h.digest('hex') });
      });
      break;
    case 'cancel':
      hashers.delete(msg.id);
      break;
  }
};
