/**
 * Resolves after `ms`, or at once when `signal` aborts; its abort listener goes with it, so a
 * loop that waits every minute for months leaves nothing behind on a long-lived signal.
 */
export function wait(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
