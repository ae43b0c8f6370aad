/**
 * A JavaScript CPU profile of one page's main thread over CDP (`Profiler`, sampling): where
 * its time goes by function, self time, the bench's harness bundles being unminified. Workers
 * (hashing) are not in it: their threads' CPU is (bench/cpu.ts `profileThreads`).
 */
import type { Page } from '@playwright/test';

export interface FunctionTime {
  /** `name file:line`, or a V8 pseudo-frame: `(program)`, `(garbage collector)`, `(idle)`. */
  where: string;
  selfMs: number;
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface Profile {
  nodes: ProfileNode[];
  samples?: number[];
  timeDeltas?: number[];
}

export interface JsProfiler {
  /** Ends the profile: self time by function, most first. */
  stop(): Promise<FunctionTime[]>;
}

/** Starts sampling `page`'s main thread every `intervalUs` µs. */
export async function startJsProfile(page: Page, intervalUs = 500): Promise<JsProfiler> {
  const session = await page.context().newCDPSession(page);
  await session.send('Profiler.enable');
  await session.send('Profiler.setSamplingInterval', { interval: intervalUs });
  await session.send('Profiler.start');
  return {
    async stop() {
      const { profile } = (await session.send('Profiler.stop')) as { profile: Profile };
      await session.detach();
      return selfTimes(profile);
    },
  };
}

function label({ functionName, url, lineNumber }: ProfileNode['callFrame']): string {
  if (!url) return functionName || '(anonymous)';
  const file = url.slice(url.lastIndexOf('/') + 1).split('?')[0];
  return `${functionName || '(anonymous)'} ${file}:${lineNumber + 1}`;
}

function selfTimes(profile: Profile): FunctionTime[] {
  const where = new Map(profile.nodes.map((n) => [n.id, label(n.callFrame)]));
  const totals = new Map<string, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  // A sample's time is the delta to the next one.
  for (let i = 0; i < samples.length; i++) {
    const key = where.get(samples[i] as number) ?? '?';
    const us = deltas[i + 1] ?? 0;
    totals.set(key, (totals.get(key) ?? 0) + us / 1000);
  }
  return [...totals]
    .map(([at, selfMs]) => ({ where: at, selfMs }))
    .sort((x, y) => y.selfMs - x.selfMs);
}
