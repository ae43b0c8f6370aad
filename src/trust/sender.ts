/**
 * Sends the persistent outbox (outbox.ts) in order whenever connected, and tells each waiting
 * caller what became of its change: sent, still queued, superseded by a later change, or
 * refused by the trust layer (README.md, "Outbox").
 */
import { errorMessage, logger, type TypedEventTarget, withSignal } from '../wire/index.ts';
import { TrustClosedError, TrustRefusedError } from './errors.ts';
import type { Outbox, OutboxEntry, OutboxOp } from './outbox.ts';
import type { Delivery, TrustEventMap } from './types.ts';

const log = logger('trust');

/**
 * A change that fails while the connection stays up is tried again after this, doubling up to
 * RETRY_MAX_MS: nothing else would start a pass until the next change or reconnect.
 */
const RETRY_MIN_MS = 1_000;
const RETRY_MAX_MS = 30_000;

export interface SenderOptions {
  outbox: Outbox;
  /** `queue` and `refused` events go here. */
  events: TypedEventTarget<TrustEventMap>;
  /** The connection: whether sending is possible now, and whether the client is closed. */
  link: { readonly online: boolean; readonly closed: boolean };
  /** Whether `op` can be sent now (changes that need addresses wait until there are some). */
  ready(op: OutboxOp): boolean;
  /** Sends one change; a `TrustRefusedError` drops it, any other error keeps it queued. */
  send(op: OutboxOp): Promise<void>;
}

export class OutboxSender {
  readonly #waiters = new Map<
    number,
    { resolve(delivery: Delivery): void; reject(error: unknown): void }
  >();
  #queued = 0;
  #inflight: number | undefined;
  #draining: Promise<void> | undefined;
  #again = false;
  /** A pass after a change failed while connected (a call that timed out, say). */
  #retry: ReturnType<typeof setTimeout> | undefined;
  #retryMs = RETRY_MIN_MS;

  constructor(private readonly options: SenderOptions) {}

  /** Changes waiting in the outbox. */
  get queued(): number {
    return this.#queued;
  }

  /** Reads the persisted count (call once, before sending). */
  async init(): Promise<void> {
    this.#queued = await this.options.outbox.count();
  }

  /**
   * Persists `op` (replacing the pending change for the same thing), then, if connected, waits
   * until the outbox has sent it. Aborting stops the wait only: the change stays queued.
   */
  async change(op: OutboxOp, signal?: AbortSignal): Promise<Delivery> {
    const { outbox, link } = this.options;
    if (link.closed) throw new TrustClosedError();
    const { entry, replaced } = await outbox.put(op);
    // A replaced change that is being sent right now is still reported by its own send.
    if (replaced && replaced.seq !== this.#inflight) this.#settle(replaced.seq, 'superseded');
    await this.#countQueue();
    if (!link.online) return 'queued';
    const delivered = new Promise<Delivery>((resolve, reject) => {
      this.#waiters.set(entry.seq, { resolve, reject });
    });
    this.kick();
    return withSignal(delivered, signal);
  }

  /** Starts sending the outbox, or asks the running pass to look again when it ends. */
  kick(): void {
    if (!this.options.link.online) return;
    if (this.#draining) {
      this.#again = true;
      return;
    }
    this.#draining = this.#drain()
      .catch((error: unknown) => {
        // The outbox itself failed (IndexedDB): waiting callers learn why; entries stay.
        for (const seq of [...this.#waiters.keys()]) this.#settle(seq, error as Error);
      })
      .finally(() => {
        this.#draining = undefined;
        if (this.#again) this.kick();
      });
  }

  /** Resolves once the pass sending now (if any) has ended. */
  async idle(): Promise<void> {
    await this.#draining;
  }

  #retryLater(): void {
    if (this.#retry !== undefined) return;
    const ms = this.#retryMs;
    this.#retryMs = Math.min(ms * 2, RETRY_MAX_MS);
    log('a change failed while connected: trying again in %d ms', ms);
    this.#retry = setTimeout(() => {
      this.#retry = undefined;
      if (!this.options.link.closed) this.kick();
    }, ms);
  }

  #settle(seq: number, outcome: Delivery | Error): void {
    const waiter = this.#waiters.get(seq);
    if (!waiter) return;
    this.#waiters.delete(seq);
    if (outcome instanceof Error) waiter.reject(outcome);
    else waiter.resolve(outcome);
  }

  async #countQueue(): Promise<void> {
    const queued = await this.options.outbox.count();
    if (queued === this.#queued) return;
    this.#queued = queued;
    this.options.events.safeDispatchEvent('queue', { detail: { queued } });
  }

  async #drain(): Promise<void> {
    const { outbox, link, ready } = this.options;
    let failed = false;
    do {
      this.#again = false;
      failed = false;
      for (const entry of await outbox.all()) {
        if (!link.online) break;
        if (!ready(entry.op)) continue;
        if (!(await outbox.isCurrent(entry))) continue;
        const outcome = await this.#sendEntry(entry);
        if (outcome === 'offline') {
          failed = true;
          break;
        }
        this.#retryMs = RETRY_MIN_MS;
      }
    } while (this.#again && link.online);
    if (failed && link.online) this.#retryLater();
    // No await from here on: whatever is still waiting stays queued for the next connection
    // (or for addresses), and a change arriving now sets #again for a new pass.
    for (const seq of [...this.#waiters.keys()]) this.#settle(seq, 'queued');
  }

  async #sendEntry(entry: OutboxEntry): Promise<'sent' | 'refused' | 'offline'> {
    const { outbox, events, send } = this.options;
    this.#inflight = entry.seq;
    try {
      await send(entry.op);
    } catch (error) {
      if (!(error instanceof TrustRefusedError)) {
        log('sending %s failed (kept queued): %s', entry.key, errorMessage(error));
        return 'offline';
      }
      // Retrying would be refused again: drop it and say so.
      log.error('dropped the refused change %s: %s', entry.key, error.message);
      await outbox.remove(entry);
      await this.#countQueue();
      this.#settle(entry.seq, error);
      events.safeDispatchEvent('refused', { detail: { key: entry.key, error } });
      return 'refused';
    } finally {
      this.#inflight = undefined;
    }
    await outbox.remove(entry);
    await this.#countQueue();
    this.#settle(entry.seq, 'sent');
    return 'sent';
  }
}
