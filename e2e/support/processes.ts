import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';

interface RendererMemory {
  pid: number;
  /** Peak resident set size since the process started (Linux VmHWM), bytes. */
  peakRss: number;
  /** Resident set size now (Linux VmRSS), bytes. */
  rss: number;
}

function readProc(pid: string | number, file: string): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/${file}`, 'utf8');
  } catch {
    return undefined; // the process ended meanwhile
  }
}

const kib = (status: string, field: string) =>
  Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0) * 1024;

/**
 * Memory of every Chromium renderer of one profile (page, workers and service worker all
 * run in renderers), read from /proc. Empty where /proc is missing (not Linux).
 */
export function rendererMemory(profileDir: string): RendererMemory[] {
  if (!existsSync('/proc')) return [];
  const profileArg = `--user-data-dir=${profileDir}`;
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .filter((pid) => {
      // Chromium rewrites its process title, so arguments may be joined by spaces, not NULs.
      const args = (readProc(pid, 'cmdline') ?? '').split(/[\0 ]/);
      return args.includes('--type=renderer') && args.includes(profileArg);
    })
    .map((pid) => {
      const status = readProc(pid, 'status') ?? '';
      return { pid: Number(pid), peakRss: kib(status, 'VmHWM'), rss: kib(status, 'VmRSS') };
    });
}

/**
 * Resets the kernel's peak-RSS mark (VmHWM) of these processes to their current RSS, so the
 * next reading is the peak of what follows. False where /proc refuses (not Linux, not ours).
 */
export function resetPeakRss(pids: number[]): boolean {
  try {
    // "5" resets the peak resident set size (Documentation/filesystems/proc.rst).
    for (const pid of pids) writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return pids.length > 0;
  } catch {
    return false;
  }
}
