/**
 * CPU time used by the Chromium processes of browser profiles, read from /proc: a figure that
 * holds when other work shares the machine's cores, where wall-clock throughput does not.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';

/** Linux's USER_HZ: /proc/<pid>/stat counts CPU time in these ticks. */
const TICKS_PER_SECOND = 100;

function read(pid: string, file: string): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/${file}`, 'utf8');
  } catch {
    return undefined; // the process ended meanwhile
  }
}

export interface CpuSample {
  /** CPU ms (user + system) of every live process of the profile, by process type. */
  byType: Record<string, number>;
  total: number;
}

/**
 * CPU ms so far of every live process started with `--user-data-dir=<profileDir>` (browser,
 * renderers, GPU and utility processes), keyed by `--type` ("browser" for the main one).
 * Empty where /proc is missing.
 */
export function profileCpu(profileDir: string): CpuSample {
  const sample: CpuSample = { byType: {}, total: 0 };
  if (!existsSync('/proc')) return sample;
  const profileArg = `--user-data-dir=${profileDir}`;
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    // Chromium rewrites its process title, so arguments may be joined by spaces, not NULs.
    const args = (read(pid, 'cmdline') ?? '').split(/[\0 ]/);
    if (!args.includes(profileArg)) continue;
    const stat = read(pid, 'stat');
    if (!stat) continue;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ms = ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND;
    const type = args.find((a) => a.startsWith('--type='))?.slice('--type='.length) ?? 'browser';
    // Utility processes by service: `network.mojom.NetworkService` → "network".
    const service = args.find((a) => a.startsWith('--utility-sub-type='));
    const key = service
      ? (service.slice('--utility-sub-type='.length).split('.')[0] ?? type)
      : type;
    sample.byType[key] = (sample.byType[key] ?? 0) + ms;
    sample.total += ms;
  }
  return sample;
}

/** `after − before`, per type and in total. */
export function cpuSince(before: CpuSample, after: CpuSample): CpuSample {
  const byType: Record<string, number> = {};
  for (const [type, ms] of Object.entries(after.byType)) {
    const delta = ms - (before.byType[type] ?? 0);
    if (delta > 0) byType[type] = delta;
  }
  return { byType, total: after.total - before.total };
}

/**
 * CPU ms so far of every thread of the profile's processes, keyed `<process type>/<thread>`
 * (Chromium names its threads: `CrRendererMain`, `DedicatedWorker thread`, `WebRTC_Network`,
 * …; numbered pool threads are summed under one name). Where a profile's CPU goes, natively
 * too, which a JavaScript profile cannot say.
 */
export function profileThreads(profileDir: string): Record<string, number> {
  const out: Record<string, number> = {};
  if (!existsSync('/proc')) return out;
  const profileArg = `--user-data-dir=${profileDir}`;
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const args = (read(pid, 'cmdline') ?? '').split(/[\0 ]/);
    if (!args.includes(profileArg)) continue;
    const type = args.find((a) => a.startsWith('--type='))?.slice('--type='.length) ?? 'browser';
    let tids: string[] = [];
    try {
      tids = readdirSync(`/proc/${pid}/task`);
    } catch {
      continue; // the process ended meanwhile
    }
    for (const tid of tids) {
      const stat = read(pid, `task/${tid}/stat`);
      const name = (read(pid, `task/${tid}/comm`) ?? '?').trim().replace(/[\d/]+$/, '');
      if (!stat) continue;
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const ms = ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND;
      const key = `${type}/${name}`;
      out[key] = (out[key] ?? 0) + ms;
    }
  }
  return out;
}

/** Per-thread `after − before`, threads that did nothing left out. */
export function threadsSince(
  before: Record<string, number>,
  after: Record<string, number>,
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key, ms] of Object.entries(after)) {
    const delta = ms - (before[key] ?? 0);
    if (delta > 0) out[key] = delta;
  }
  return out;
}
