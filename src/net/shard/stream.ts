/**
 * Length-prefixed frames over libp2p 3 streams, with real back-pressure both ways.
 *
 * Reading: libp2p 3 streams push `message` events; Yamux grants the sender more window as
 * soon as data is delivered, unless the stream is paused. {@link FrameReader} therefore
 * pauses the stream whenever it holds what the current read needs (or `highWaterMark` bytes
 * when no read is pending), so a slow consumer stops the sender after one window, and it
 * never buffers more of a frame than its declared length: a header over the cap is
 * rejected before any of the body is kept.
 *
 * Writing: {@link writeFrame} sends in chunks and, whenever `writableNeedsDrain` is true,
 * waits for the stream's `drain` event. It does not use `stream.onDrain()`: in
 * @libp2p/utils 7.4.1 that promise is created once and stays resolved after the first drain,
 * so it stops applying back-pressure (docs/design.md §9).
 */
import type { Stream } from '@libp2p/interface';
import { frameLength } from './codec.ts';
import { ShardStreamClosedError, ShardTimeoutError, TruncatedFrameError } from './errors.ts';

/** Yamux's largest stream window: what a paused stream may still receive. */
const MAX_STREAM_WINDOW = 16 * 1024 * 1024;
const DEFAULT_HIGH_WATER = 64 * 1024;
const DEFAULT_WRITE_CHUNK = 256 * 1024;

export interface FrameReadOptions {
  /** Largest frame body accepted; a larger declared length fails with `FrameTooLargeError`. */
  maxFrameBytes: number;
  signal?: AbortSignal;
  /** Fails with `ShardTimeoutError` when the whole frame has not arrived in this time. */
  timeoutMs?: number;
}

export interface FrameWriteOptions {
  signal?: AbortSignal;
  /** Fails with `ShardTimeoutError` when the stream does not drain for this long. */
  timeoutMs?: number;
  /** Bytes per `send` call. Default 256 KiB. */
  chunkBytes?: number;
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('The operation was aborted.', 'AbortError');
}

interface PendingRead {
  maxFrameBytes: number;
  resolve: (frame: Uint8Array | undefined) => void;
  reject: (e: unknown) => void;
}

/**
 * Reads consecutive frames from one stream. Create it right after the stream opens (it
 * attaches the `message` listener) and call {@link dispose} when done.
 */
export class FrameReader {
  private chunks: Uint8Array[] = [];
  private buffered = 0;
  /** Body length of the frame being assembled, once its header has been read. */
  private bodyLength: number | undefined;
  private pending: PendingRead | undefined;
  private ended = false;
  private failure: unknown;
  private discarding = false;
  private paused = false;
  private disposed = false;
  private endWaiters: (() => void)[] = [];
  /** Bytes received in total (progress, tests). */
  bytesReceived = 0;

  constructor(
    private readonly stream: Stream,
    private readonly opts: { highWaterMark?: number } = {},
  ) {
    // While paused, the remote may still fill the window it was granted: do not let libp2p
    // reset the stream for that.
    stream.maxReadBufferLength = Math.max(stream.maxReadBufferLength, MAX_STREAM_WINDOW + 65536);
    stream.addEventListener('message', this.onMessage);
    stream.addEventListener('close', this.onClose);
    stream.addEventListener('remoteCloseWrite', this.onRemoteEnd);
    stream.addEventListener('end', this.onRemoteEnd);
    if (stream.readableEnded || stream.readStatus === 'closed') this.onRemoteEnd();
  }

  private onMessage = (evt: { data: Uint8Array | Iterable<Uint8Array> }): void => {
    const data = evt.data;
    if (data instanceof Uint8Array) this.append(data);
    else for (const c of data) this.append(c);
    this.settle();
  };

  private append(c: Uint8Array): void {
    if (c.byteLength === 0) return;
    this.bytesReceived += c.byteLength;
    if (this.discarding) return;
    this.chunks.push(c);
    this.buffered += c.byteLength;
  }

  private onClose = (evt: Event): void => {
    const error = (evt as Event & { error?: Error }).error;
    if (error && this.failure === undefined) {
      this.failure = new ShardStreamClosedError(error.message, { cause: error });
    }
    this.onRemoteEnd();
  };

  private onRemoteEnd = (): void => {
    if (this.ended) return;
    // Data queued with the FIN may be dispatched after this event: decide on the next turn.
    setTimeout(() => {
      if (this.ended) return;
      if (this.stream.readBufferLength > 0 && this.failure === undefined) {
        this.resume();
        return;
      }
      this.ended = true;
      for (const w of this.endWaiters.splice(0)) w();
      this.settle();
    }, 0);
  };

  /** Bytes needed before the pending read can complete. */
  private need(): number {
    return this.bodyLength === undefined ? 4 : 4 + this.bodyLength;
  }

  private take(n: number): Uint8Array {
    const out = new Uint8Array(n);
    let off = 0;
    while (off < n) {
      const c = this.chunks[0] as Uint8Array;
      const k = Math.min(c.byteLength, n - off);
      out.set(c.subarray(0, k), off);
      off += k;
      if (k === c.byteLength) this.chunks.shift();
      else this.chunks[0] = c.subarray(k);
    }
    this.buffered -= n;
    return out;
  }

  private peekHeader(): Uint8Array {
    if ((this.chunks[0]?.byteLength ?? 0) >= 4)
      return (this.chunks[0] as Uint8Array).subarray(0, 4);
    const h = this.take(4);
    this.chunks.unshift(h);
    this.buffered += 4;
    return h;
  }

  private settle(): void {
    const p = this.pending;
    if (p) {
      try {
        if (this.bodyLength === undefined && this.buffered >= 4) {
          this.bodyLength = frameLength(this.peekHeader(), p.maxFrameBytes);
        }
      } catch (e) {
        this.finish(undefined, e);
        return;
      }
      if (this.bodyLength !== undefined && this.buffered >= 4 + this.bodyLength) {
        const frame = this.take(4 + this.bodyLength);
        this.bodyLength = undefined;
        this.finish(frame.subarray(4));
      } else if (this.failure !== undefined) {
        this.finish(undefined, this.failure);
      } else if (this.ended) {
        if (this.buffered === 0 && this.bodyLength === undefined) this.finish(undefined);
        else
          this.finish(
            undefined,
            new TruncatedFrameError(
              this.buffered,
              this.bodyLength === undefined ? undefined : 4 + this.bodyLength,
            ),
          );
      }
    }
    this.flow();
  }

  private finish(frame: Uint8Array | undefined, error?: unknown): void {
    const p = this.pending;
    this.pending = undefined;
    if (!p) return;
    if (error !== undefined) p.reject(error);
    else p.resolve(frame);
  }

  private flow(): void {
    if (this.disposed && !this.discarding) return;
    const want = this.discarding
      ? true
      : this.pending
        ? this.buffered < this.need()
        : this.buffered < (this.opts.highWaterMark ?? DEFAULT_HIGH_WATER);
    if (want) this.resume();
    else this.pause();
  }

  private pause(): void {
    if (this.paused) return;
    try {
      if (this.stream.readStatus === 'readable') {
        this.stream.pause();
        this.paused = true;
      }
    } catch {}
  }

  private resume(): void {
    if (!this.paused) return;
    this.paused = false;
    try {
      if (this.stream.readStatus === 'paused') this.stream.resume();
    } catch {}
  }

  /**
   * The next frame's body; `undefined` when the remote closed cleanly between frames.
   * Rejects with `FrameTooLargeError` as soon as a header declares more than the cap,
   * `TruncatedFrameError` when the stream ends mid-frame, `ShardTimeoutError`, the signal's
   * reason on abort, or `ShardStreamClosedError` on reset.
   */
  read(opts: FrameReadOptions): Promise<Uint8Array | undefined> {
    if (this.pending) return Promise.reject(new Error('FrameReader: one read at a time'));
    if (this.disposed) return Promise.reject(new Error('FrameReader: disposed'));
    const { signal, timeoutMs } = opts;
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    return new Promise<Uint8Array | undefined>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const cleanup = () => {
        if (timer !== undefined) clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      };
      const onAbort = () => this.finish(undefined, abortReason(signal as AbortSignal));
      this.pending = {
        maxFrameBytes: opts.maxFrameBytes,
        resolve: (f) => {
          cleanup();
          resolve(f);
        },
        reject: (e) => {
          cleanup();
          reject(e);
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      if (timeoutMs !== undefined && Number.isFinite(timeoutMs)) {
        timer = setTimeout(
          () => this.finish(undefined, new ShardTimeoutError('waiting for a frame', timeoutMs)),
          timeoutMs,
        );
      }
      this.settle();
    });
  }

  /**
   * Stops keeping data: everything already received or arriving later is dropped, and the
   * stream keeps flowing so the remote can finish sending (e.g. after an oversized frame was
   * refused) and then read our answer.
   */
  discardRest(): void {
    this.discarding = true;
    this.chunks = [];
    this.buffered = 0;
    this.bodyLength = undefined;
    this.flow();
  }

  /** Resolves when the remote has ended its side (or the stream closed), or after `timeoutMs`. */
  waitEnd(timeoutMs: number): Promise<boolean> {
    if (this.ended) return Promise.resolve(true);
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.endWaiters.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.discarding = false;
    this.finish(undefined, new ShardStreamClosedError('the reader was disposed'));
    this.stream.removeEventListener('message', this.onMessage);
    this.stream.removeEventListener('close', this.onClose);
    this.stream.removeEventListener('remoteCloseWrite', this.onRemoteEnd);
    this.stream.removeEventListener('end', this.onRemoteEnd);
    for (const w of this.endWaiters.splice(0)) w();
  }
}

/** Reads exactly one frame; throws `TruncatedFrameError` if the stream ends first. */
export async function readFrame(stream: Stream, opts: FrameReadOptions): Promise<Uint8Array> {
  const reader = new FrameReader(stream);
  try {
    const frame = await reader.read(opts);
    if (frame === undefined) throw new TruncatedFrameError(0, undefined);
    return frame;
  } finally {
    reader.dispose();
  }
}

/** Waits for `drain` (not `onDrain()`, see the module comment). */
export function waitForDrain(stream: Stream, opts: FrameWriteOptions = {}): Promise<void> {
  if (!stream.writableNeedsDrain) return Promise.resolve();
  const { signal, timeoutMs } = opts;
  if (signal?.aborted) return Promise.reject(abortReason(signal));
  return new Promise<void>((resolve, reject) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const done = (error?: unknown) => {
      if (timer !== undefined) clearTimeout(timer);
      stream.removeEventListener('drain', onDrain);
      stream.removeEventListener('close', onClose);
      signal?.removeEventListener('abort', onAbort);
      if (error === undefined) resolve();
      else reject(error);
    };
    const onDrain = () => done();
    const onClose = (evt: Event) => {
      const error = (evt as Event & { error?: Error }).error;
      done(
        new ShardStreamClosedError(error?.message ?? 'closed while waiting to send', {
          cause: error,
        }),
      );
    };
    const onAbort = () => done(abortReason(signal as AbortSignal));
    stream.addEventListener('drain', onDrain);
    stream.addEventListener('close', onClose);
    signal?.addEventListener('abort', onAbort, { once: true });
    if (timeoutMs !== undefined && Number.isFinite(timeoutMs)) {
      timer = setTimeout(
        () => done(new ShardTimeoutError('waiting for the peer to accept more data', timeoutMs)),
        timeoutMs,
      );
    }
  });
}

/**
 * Writes one already-framed message (see `encodeFrame`), `chunkBytes` at a time, waiting for
 * `drain` whenever the stream asks for it. Resolves once the last chunk is handed to the
 * stream (which may still hold it in its buffer; `stream.close()` flushes).
 */
export async function writeFrame(
  stream: Stream,
  frame: Uint8Array,
  opts: FrameWriteOptions = {},
): Promise<void> {
  const chunk = opts.chunkBytes ?? DEFAULT_WRITE_CHUNK;
  for (let off = 0; off < frame.byteLength; off += chunk) {
    opts.signal?.throwIfAborted();
    while (stream.writableNeedsDrain) await waitForDrain(stream, opts);
    if (stream.writeStatus !== 'writable') {
      throw new ShardStreamClosedError(`the stream is ${stream.writeStatus} for writing`);
    }
    stream.send(frame.subarray(off, Math.min(frame.byteLength, off + chunk)));
  }
}
