/**
 * Raw bytes from a libp2p 3 stream, in bounded memory: for a frame too large to hold (a Rust
 * node's `Data` of a shard of any size), read its header with {@link ByteReader.exactly} and
 * then its body chunk by chunk with {@link ByteReader.next}.
 *
 * Back-pressure as in {@link FrameReader}: the stream is paused whenever `highWaterMark` bytes
 * wait unread, so the sender stops after one Yamux window (at most 16 MiB) and memory is that
 * two windows plus the mark, whatever the size of what is sent.
 */
import type { Stream } from '@libp2p/interface';
import { abortReason } from './abort.ts';
import { TruncatedFrameError, WireStreamClosedError, WireTimeoutError } from './errors.ts';

const MAX_STREAM_WINDOW = 16 * 1024 * 1024;
const DEFAULT_HIGH_WATER = 1024 * 1024;

export interface ByteReadOptions {
  signal?: AbortSignal;
  /** Fails with `WireTimeoutError` when no byte arrives for this long. */
  timeoutMs?: number;
}

export class ByteReader {
  private chunks: Uint8Array[] = [];
  private buffered = 0;
  private ended = false;
  private failure: unknown;
  private paused = false;
  private wake: (() => void) | undefined;
  /** Bytes received in total. */
  bytesReceived = 0;

  constructor(
    private readonly stream: Stream,
    private readonly highWaterMark = DEFAULT_HIGH_WATER,
  ) {
    // While paused the remote may still fill the window it was granted (see FrameReader), and
    // a resume grants a new window before what is buffered has been handed out: two windows.
    stream.maxReadBufferLength = Math.max(
      stream.maxReadBufferLength,
      2 * MAX_STREAM_WINDOW + 65536,
    );
    stream.addEventListener('message', this.onMessage);
    stream.addEventListener('close', this.onClose);
    stream.addEventListener('remoteCloseWrite', this.onEnd);
    if (stream.readStatus === 'closed') this.onEnd();
  }

  private onMessage = (evt: { data: Uint8Array | Iterable<Uint8Array> }): void => {
    const data = evt.data;
    for (const c of data instanceof Uint8Array ? [data] : data) {
      if (c.byteLength === 0) continue;
      this.chunks.push(c);
      this.buffered += c.byteLength;
      this.bytesReceived += c.byteLength;
    }
    if (this.buffered >= this.highWaterMark) this.pause();
    this.notify();
  };

  private onClose = (evt: Event): void => {
    const error = (evt as Event & { error?: Error }).error;
    if (error && this.failure === undefined) {
      this.failure = new WireStreamClosedError(error.message, { cause: error });
    }
    this.onEnd();
  };

  private onEnd = (): void => {
    // Data queued with the FIN may be dispatched after this event: decide on the next turn.
    setTimeout(() => {
      if (this.stream.readBufferLength > 0 && this.failure === undefined) {
        this.resume();
        return;
      }
      this.ended = true;
      this.notify();
    }, 0);
  };

  private notify(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  private pause(): void {
    if (this.paused || this.stream.readStatus !== 'readable') return;
    try {
      this.stream.pause();
      this.paused = true;
    } catch {}
  }

  private resume(): void {
    if (!this.paused) return;
    this.paused = false;
    try {
      if (this.stream.readStatus === 'paused') this.stream.resume();
    } catch {}
  }

  /** Waits until bytes are buffered or the stream ended (or failed, timed out, aborted). */
  private async ready(opts: ByteReadOptions): Promise<void> {
    const { signal, timeoutMs } = opts;
    while (this.buffered === 0 && !this.ended && this.failure === undefined) {
      if (signal?.aborted) throw abortReason(signal);
      this.resume();
      await new Promise<void>((resolve, reject) => {
        let timer: ReturnType<typeof setTimeout> | undefined;
        const onAbort = () => reject(abortReason(signal as AbortSignal));
        this.wake = () => {
          if (timer !== undefined) clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          resolve();
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        if (timeoutMs !== undefined) {
          timer = setTimeout(() => {
            signal?.removeEventListener('abort', onAbort);
            this.wake = undefined;
            reject(new WireTimeoutError('waiting for bytes', timeoutMs));
          }, timeoutMs);
        }
      });
    }
    if (this.buffered === 0 && this.failure !== undefined) throw this.failure;
  }

  /** The next buffered bytes, at most `max` of them; `undefined` once the stream has ended. */
  async next(max: number, opts: ByteReadOptions = {}): Promise<Uint8Array | undefined> {
    await this.ready(opts);
    if (this.buffered === 0) return undefined;
    const c = this.chunks[0] as Uint8Array;
    const out = c.byteLength <= max ? c : c.subarray(0, max);
    if (out === c) this.chunks.shift();
    else this.chunks[0] = c.subarray(max);
    this.buffered -= out.byteLength;
    if (this.buffered < this.highWaterMark) this.resume();
    return out;
  }

  /** Exactly `n` bytes (`n` small: a header); `TruncatedFrameError` if the stream ends first. */
  async exactly(n: number, opts: ByteReadOptions = {}): Promise<Uint8Array> {
    const out = new Uint8Array(n);
    let off = 0;
    while (off < n) {
      const c = await this.next(n - off, opts);
      if (!c) throw new TruncatedFrameError(off, n);
      out.set(c, off);
      off += c.byteLength;
    }
    return out;
  }

  dispose(): void {
    this.stream.removeEventListener('message', this.onMessage);
    this.stream.removeEventListener('close', this.onClose);
    this.stream.removeEventListener('remoteCloseWrite', this.onEnd);
    this.chunks = [];
    this.buffered = 0;
    this.failure ??= new WireStreamClosedError('the reader was disposed');
    this.notify();
  }
}
