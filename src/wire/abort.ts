import type { AbortOptions } from '@libp2p/interface';

export type { AbortOptions };

/** The reason an aborted signal carries, or a standard `AbortError` when it carries none. */
export function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('The operation was aborted.', 'AbortError');
}

/** Throws the signal's reason when it has fired; a no-op without a signal. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortReason(signal);
}

/**
 * A signal that fires on the caller's abort or when no progress is made for `timeoutMs`
 * (`Infinity`: never), with the error `onTimeout` makes as its reason, so the caller sees
 * which operation timed out. Call `done()` when the operation ends, so no timer outlives it.
 */
export interface Deadline {
  readonly signal: AbortSignal;
  /** Restarts the timer: progress was made. */
  touch(): void;
  /** Stops the timer until the next `touch()`, e.g. while the caller holds a yielded value. */
  hold(): void;
  done(): void;
}

export function deadline(
  options: AbortOptions,
  timeoutMs: number,
  onTimeout: () => Error,
): Deadline {
  const ac = new AbortController();
  const outer = options.signal;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const arm = () => {
    if (Number.isFinite(timeoutMs)) timer = setTimeout(() => ac.abort(onTimeout()), timeoutMs);
  };
  const onAbort = () => ac.abort(abortReason(outer as AbortSignal));
  if (outer?.aborted) onAbort();
  else outer?.addEventListener('abort', onAbort, { once: true });
  arm();
  // `hold()` stops the timer until the next `touch()`; only `done()` stops it for good.
  let ended = false;
  const stop = () => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
  };
  return {
    signal: ac.signal,
    touch() {
      if (ended || ac.signal.aborted) return;
      stop();
      arm();
    },
    hold: stop,
    done() {
      ended = true;
      stop();
      outer?.removeEventListener('abort', onAbort);
    },
  };
}

/** The caller's signal bounded by `timeoutMs` (libp2p style: a timeout when no signal is given). */
export function withTimeout(signal: AbortSignal | undefined, timeoutMs: number): AbortSignal {
  const timeout = AbortSignal.timeout(timeoutMs);
  return signal ? AbortSignal.any([signal, timeout]) : timeout;
}

/**
 * Resolves after `ms`, or at once when `signal` aborts — also when it had aborted before the
 * call, so a loop that checks its signal, then sleeps, ends promptly when stopped in between.
 * The abort listener goes with the timer, so a loop sleeping every minute for months leaves
 * nothing behind on a long-lived signal. Callers check the signal themselves afterwards.
 */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve();
      return;
    }
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

/**
 * `promise`, or the signal's reason as soon as it aborts: the caller stops waiting, the work
 * behind `promise` goes on (others may wait for it too). A value that arrives after the abort
 * goes to `late` (e.g. to close a socket nobody will use).
 */
export function withSignal<T>(
  promise: Promise<T>,
  signal: AbortSignal | undefined,
  late?: (value: T) => void,
): Promise<T> {
  if (!signal) return promise;
  const passOn = () => {
    if (late) promise.then(late, () => {});
  };
  if (signal.aborted) {
    passOn();
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      reject(signal.reason);
      passOn();
    };
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
