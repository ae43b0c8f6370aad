/** One figure of `npm run bench --json`: `{"metric": NAME, "value": NUMBER, ...}`. */
export interface Metric {
  metric: string;
  value: number;
  unit: string;
  /** The goal this figure is held against (informative; benchmarks never fail a build). */
  target?: string;
  note?: string;
}

export type BenchSuite = 'erasure' | 'sha256' | 'ingest' | 'import-idb';

export const MB = 1e6;

/** MB/s (decimal, as throughput is usually quoted) for `bytes` processed in `ms`. */
export function mbps(bytes: number, ms: number): number {
  return bytes / MB / (ms / 1000);
}

/** The middle value (the upper one of an even count); NaN for none. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

/**
 * Median time of `runs` runs of `work` after one warm-up, so JIT tiering and first-touch
 * page faults do not count, and one slow run (GC, a background task) does not decide.
 */
export async function medianMs(
  runs: number,
  work: () => unknown | Promise<unknown>,
): Promise<number> {
  await work();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    await work();
    times.push(performance.now() - start);
  }
  return median(times);
}
