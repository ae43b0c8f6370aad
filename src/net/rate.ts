/**
 * The current rate of a transfer: bytes over the last few seconds, not since the start (a
 * stall shows at once, and a fast end is not dragged down by a slow search). Bytes are summed
 * in short buckets, so memory stays bounded however small the pieces are.
 */

export interface RateMeterOptions {
  /** The window the rate is measured over. Default 4 s. */
  windowMs?: number;
  /** Bucket width. Default 250 ms. */
  bucketMs?: number;
  /** The clock (tests). */
  now?: () => number;
}

export class RateMeter {
  readonly #windowMs: number;
  readonly #bucketMs: number;
  readonly #now: () => number;
  readonly #started: number;
  /** Oldest first; at most windowMs / bucketMs + 1 of them. */
  readonly #buckets: { at: number; bytes: number }[] = [];

  constructor(options: RateMeterOptions = {}) {
    this.#windowMs = options.windowMs ?? 4_000;
    this.#bucketMs = options.bucketMs ?? 250;
    this.#now = options.now ?? (() => performance.now());
    this.#started = this.#now();
  }

  add(bytes: number): void {
    const now = this.#now();
    const at = now - (now % this.#bucketMs);
    const last = this.#buckets.at(-1);
    if (last && last.at === at) last.bytes += bytes;
    else this.#buckets.push({ at, bytes });
    this.#prune(now);
  }

  /** Bytes per second over the window (or since the start, when that is shorter). */
  rate(): number {
    const now = this.#now();
    this.#prune(now);
    const bytes = this.#buckets.reduce((sum, b) => sum + b.bytes, 0);
    if (bytes === 0) return 0;
    // Less than half a second of history would make one early piece look like a burst.
    const span = Math.max(Math.min(this.#windowMs, now - this.#started), 500);
    return (bytes * 1000) / span;
  }

  /** Drops the buckets that started before the window. */
  #prune(now: number): void {
    const from = now - this.#windowMs;
    while ((this.#buckets[0]?.at ?? from) < from) this.#buckets.shift();
  }
}

/** Seconds left at `rate`, or undefined when it cannot be told (nothing moving, size unknown). */
export function secondsLeft(done: number, total: number, rate: number): number | undefined {
  if (rate <= 0 || total <= 0 || done >= total) return undefined;
  return (total - done) / rate;
}
