/**
 * Uploads in progress, as the person serving them sees them: what is being sent, to whom, at
 * what rate. Fed by the shard server's `onSent` (one call per piece sent); one entry per peer
 * and blob. An entry that sent nothing for `idleMs` is done, and goes `keepMs` later; at most
 * `max` entries are kept (the oldest go first), so a peer asking for many small items, or
 * many peers at once, cannot grow it.
 */
import { TypedEventEmitter } from '../wire/index.ts';
import { RateMeter } from './rate.ts';
import type { ShardSent } from './shard/index.ts';

export interface Upload {
  /** `peer/blobHash`. */
  id: string;
  blobHash: string;
  name: string | undefined;
  peer: string;
  /** Over a direct connection (not relayed). */
  direct: boolean;
  /** The peer is a doorway (it keeps or passes on commons items). */
  doorway: boolean;
  /** Sent so far in this upload. */
  bytes: number;
  totalBytes: number;
  /** Bytes per second now. */
  rate: number;
  state: 'sending' | 'done';
}

export interface UploadTrackerOptions {
  /** What is known of a peer's connection when its upload starts. */
  describe: (peer: string) => { direct: boolean; doorway: boolean };
  /** Nothing sent for this long: done. Default 3 s. */
  idleMs?: number;
  /** A done entry stays this long. Default 15 s. */
  keepMs?: number;
  /** Entries kept at most. Default 16. */
  max?: number;
  /** The clock (tests). */
  now?: () => number;
}

interface Entry {
  upload: Omit<Upload, 'rate' | 'state'>;
  meter: RateMeter;
  lastAt: number;
}

/** `change`: the list differs (a new upload, a tick while any is listed, one gone). */
export interface UploadTrackerEvents {
  change: CustomEvent<void>;
}

const TICK_MS = 1_000;

export class UploadTracker extends TypedEventEmitter<UploadTrackerEvents> {
  readonly #entries = new Map<string, Entry>();
  readonly #options: Required<Omit<UploadTrackerOptions, 'describe'>> &
    Pick<UploadTrackerOptions, 'describe'>;
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(options: UploadTrackerOptions) {
    super();
    this.#options = {
      idleMs: 3_000,
      keepMs: 15_000,
      max: 16,
      now: () => performance.now(),
      ...options,
    };
  }

  /** Bound, so that it can be handed to the shard server as is. */
  readonly record = (sent: ShardSent): void => {
    const id = `${sent.peer}/${sent.blobHash}`;
    const now = this.#options.now();
    let entry = this.#entries.get(id);
    if (entry && now - entry.lastAt >= this.#options.idleMs) {
      // The same item again after it finished: a new upload.
      this.#entries.delete(id);
      entry = undefined;
    }
    const fresh = entry === undefined;
    if (!entry) {
      entry = {
        upload: {
          id,
          blobHash: sent.blobHash,
          name: sent.name,
          peer: sent.peer,
          ...this.#options.describe(sent.peer),
          bytes: 0,
          totalBytes: sent.totalBytes,
        },
        meter: new RateMeter({ now: this.#options.now }),
        lastAt: now,
      };
      this.#entries.set(id, entry);
      for (const oldest of this.#entries.keys()) {
        if (this.#entries.size <= this.#options.max) break;
        this.#entries.delete(oldest);
      }
    }
    entry.upload.bytes += sent.bytes;
    entry.meter.add(sent.bytes);
    entry.lastAt = now;
    this.#tick();
    if (fresh) this.safeDispatchEvent('change');
  };

  /** The uploads listed now, the most recent first. */
  list(): Upload[] {
    const now = this.#options.now();
    this.#expire(now);
    return [...this.#entries.values()].reverse().map(({ upload, meter, lastAt }) => {
      const done = now - lastAt >= this.#options.idleMs;
      return { ...upload, rate: done ? 0 : meter.rate(), state: done ? 'done' : 'sending' };
    });
  }

  close(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#entries.clear();
  }

  #expire(now: number): void {
    const { idleMs, keepMs } = this.#options;
    for (const [id, entry] of this.#entries) {
      if (now - entry.lastAt >= idleMs + keepMs) this.#entries.delete(id);
    }
  }

  /** Ticks (a `change` a second, for the rate) only while something is listed. */
  #tick(): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => {
      this.#expire(this.#options.now());
      if (this.#entries.size === 0) {
        clearInterval(this.#timer);
        this.#timer = undefined;
      }
      this.safeDispatchEvent('change');
    }, TICK_MS);
  }
}
