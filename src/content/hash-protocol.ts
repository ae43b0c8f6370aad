/** Messages between {@link WorkerHashService} (hasher.ts) and hash-worker.ts. */

export type ToHashWorker =
  | { t: 'create'; id: number }
  | { t: 'update'; id: number; buf: ArrayBuffer; off: number; len: number }
  /** The worker reads the Blob itself (Blobs cross threads by reference, not by copy). */
  | { t: 'blob'; id: number; blob: Blob; sliceSize: number }
  | { t: 'digest'; id: number }
  | { t: 'cancel'; id: number };

export type FromHashWorker =
  | { t: 'ack'; id: number; len: number }
  | { t: 'progress'; id: number; bytes: number }
  | { t: 'blobDone'; id: number }
  | { t: 'digest'; id: number; hex: string }
  | { t: 'error'; id: number; message: string };
