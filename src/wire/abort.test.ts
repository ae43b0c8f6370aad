import { getEventListeners } from 'node:events';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { deadline, sleep, withSignal } from './abort.ts';
import { WireTimeoutError } from './errors.ts';

describe('deadline', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  const timeout = () => new WireTimeoutError('waiting for a test', 100);
  /** Lets `ms` pass on the fake clock; whether the deadline's signal has aborted by then. */
  const abortedAfter = (d: ReturnType<typeof deadline>, ms: number) => {
    vi.advanceTimersByTime(ms);
    return d.signal.aborted;
  };

  it('aborts with the onTimeout error when no progress is made for timeoutMs', () => {
    const d = deadline({}, 100, timeout);
    expect(abortedAfter(d, 99)).toBe(false);
    vi.advanceTimersByTime(1);
    expect(d.signal.reason).toBeInstanceOf(WireTimeoutError);
    d.done();
  });

  it('touch() restarts the timer', () => {
    const d = deadline({}, 100, timeout);
    vi.advanceTimersByTime(80);
    d.touch();
    expect(abortedAfter(d, 80)).toBe(false);
    expect(abortedAfter(d, 20)).toBe(true);
    d.done();
  });

  it('hold() stops the timer until the next touch(), which arms it again', () => {
    const d = deadline({}, 100, timeout);
    d.hold();
    expect(abortedAfter(d, 1_000)).toBe(false);
    d.touch();
    vi.advanceTimersByTime(100);
    expect(d.signal.reason).toBeInstanceOf(WireTimeoutError);
    d.done();
  });

  it('done() stops it for good: a later touch() arms nothing', () => {
    const d = deadline({}, 100, timeout);
    d.done();
    d.touch();
    expect(abortedAfter(d, 1_000)).toBe(false);
  });

  it("follows the caller's abort with its reason, and never times out with Infinity", () => {
    const caller = new AbortController();
    const d = deadline({ signal: caller.signal }, Number.POSITIVE_INFINITY, timeout);
    expect(abortedAfter(d, 10_000_000)).toBe(false);
    const reason = new Error('the user left');
    caller.abort(reason);
    expect(d.signal.reason).toBe(reason);
    d.done();
  });
});

describe('sleep', () => {
  it('resolves after ms, or at once on abort, and leaves no listener behind', async () => {
    vi.useFakeTimers();
    try {
      const ac = new AbortController();
      let slept = false;
      const timed = sleep(1000, ac.signal).then(() => {
        slept = true;
      });
      await vi.advanceTimersByTimeAsync(999);
      expect(slept).toBe(false);
      await vi.advanceTimersByTimeAsync(1);
      await timed;
      expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);

      const woken = sleep(60_000, ac.signal);
      ac.abort();
      await woken;
      expect(vi.getTimerCount()).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });

  it('resolves at once on a signal that had aborted before the call', async () => {
    vi.useFakeTimers();
    try {
      let slept = false;
      const done = sleep(60_000, AbortSignal.abort()).then(() => {
        slept = true;
      });
      await vi.advanceTimersByTimeAsync(0);
      expect(slept).toBe(true);
      await done;
      expect(vi.getTimerCount()).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('withSignal', () => {
  it('stops the wait on abort, with its reason, while the work goes on; leaves no listener', async () => {
    let finish!: (v: number) => void;
    const work = new Promise<number>((r) => {
      finish = r;
    });
    const controller = new AbortController();
    const waiting = withSignal(work, controller.signal);
    const reason = new Error('the reader left');
    controller.abort(reason);
    await expect(waiting).rejects.toBe(reason);
    finish(7);
    expect(await work).toBe(7);
    await expect(withSignal(work, controller.signal)).rejects.toBe(reason);

    const other = new AbortController();
    expect(await withSignal(Promise.resolve(1), other.signal)).toBe(1);
    // Removed as the promise settles (its `finally`, a few microtasks on).
    await new Promise((r) => setImmediate(r));
    expect(getEventListeners(other.signal, 'abort')).toHaveLength(0);
  });

  it('hands a value that arrives after the abort to late, and only then', async () => {
    const late: number[] = [];
    let finish!: (v: number) => void;
    const work = new Promise<number>((r) => {
      finish = r;
    });
    const controller = new AbortController();
    const waiting = withSignal(work, controller.signal, (v) => late.push(v));
    controller.abort(new Error('gone'));
    await expect(waiting).rejects.toThrow('gone');
    finish(3);
    await work;
    await new Promise((r) => setImmediate(r));
    expect(late).toEqual([3]);
    // In time: the caller gets it, late does not.
    expect(
      await withSignal(Promise.resolve(4), new AbortController().signal, (v) => late.push(v)),
    ).toBe(4);
    expect(late).toEqual([3]);
  });
});
