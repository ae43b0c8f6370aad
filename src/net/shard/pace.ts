/**
 * An upload limit for the shard server: a token bucket every outgoing frame of one server
 * draws from, so a holder's whole upload (all its streams together) stays near a rate. For
 * the bench only (`uploadBytesPerSecond`): it stands in for a holder on a slow uplink, which
 * one machine's loopback cannot otherwise show. Memory is two numbers; a wait ends when the
 * caller's signal aborts.
 */
import { sleep, throwIfAborted } from '../../wire/index.ts';

export interface PacerClock {
  now(): number;
  /** Resolves after `ms`, or at once when `signal` aborts. */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
}

const realClock: PacerClock = {
  now: () => performance.now(),
  sleep,
};

export interface Pacer {
  /** Waits until `bytes` may go out at the rate; throws the signal's reason if it aborts. */
  take(bytes: number, signal: AbortSignal): Promise<void>;
}

/**
 * A bucket filling at `bytesPerSecond`, holding at most `burstBytes` (default half a second's
 * worth, about a 1 MiB piece at 2 MB/s, as an uplink's buffer would): after an idle spell a
 * holder may send that much at once, no more. A frame
 * larger than what is in the bucket goes once the debt it leaves is paid back, so frames of
 * any size pass and the average stays at the rate.
 */
export function createPacer(
  bytesPerSecond: number,
  options: { burstBytes?: number; clock?: PacerClock } = {},
): Pacer {
  if (!(bytesPerSecond > 0)) throw new RangeError('uploadBytesPerSecond must be above 0');
  const clock = options.clock ?? realClock;
  const burst = options.burstBytes ?? bytesPerSecond / 2;
  let tokens = burst;
  let at = clock.now();
  return {
    async take(bytes, signal) {
      const now = clock.now();
      tokens = Math.min(burst, tokens + ((now - at) / 1000) * bytesPerSecond);
      at = now;
      tokens -= bytes;
      // Waiters queue behind one another through the shared debt: each waits for its own.
      if (tokens < 0) await clock.sleep((-tokens / bytesPerSecond) * 1000, signal);
      throwIfAborted(signal);
    },
  };
}
