/** Deadlines and per-key ordering for the sync service. */
import { type AbortOptions, type Deadline, deadline } from '../wire/index.ts';
import { SyncTimeoutError } from './errors.ts';

/**
 * The caller's signal bounded by `timeoutMs`, whose timeout says what was waited for
 * (`SyncTimeoutError`), so that a caller sees which exchange was too slow.
 */
export function timeLimit(options: AbortOptions, timeoutMs: number, what: string): Deadline {
  return deadline(options, timeoutMs, () => new SyncTimeoutError(what, timeoutMs));
}

/** Runs tasks one after another per key. */
export class KeyedQueue {
  private readonly tails = new Map<string, Promise<unknown>>();
  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    const next = prev.then(task, task);
    const tail = next.catch(() => {});
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return next;
  }
}
