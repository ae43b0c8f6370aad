/** Messages between {@link WorkerHashService} (hasher.ts) and hash-worker.ts. */

export type ToHashWorker =
  /** `recycle`: hand every `update` buffer back with its `ack`, for the sender to reuse. */
  | { t: 'create'; id: number; recycle?: boolean }
  | { t: 'update'; id: number; buf: ArrayBuffer; off: number; len: number }
  /** The worker reads the Blob itself (Blobs cross threads by reference, not by copy), into two reused buffers. */
  | { t: 'blob'; id: number; blob: Blob; sliceSize: number }
  | { t: 'digest'; id: number }
  | { t: 'cancel'; id: number };

export type FromHashWorker =
  | { t: 'ack'; id: number; len: number; buf?: ArrayBuffer }
  | { t: 'progress'; id: number; bytes: number }
  | { t: 'blobDone'; id: number }
  | { t: 'digest'; id: number; hex: string }
  | { t: 'error'; id: number; message: string };
