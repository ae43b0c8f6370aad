const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  const digits = unit === 0 || value >= 100 ? 0 : 1;
  return `${value.toFixed(digits)} ${UNITS[unit]}`;
}

export function shortHash(hash: string): string {
  return `${hash.slice(0, 'sha256-'.length + 10)}…${hash.slice(-6)}`;
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const relative = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });

/** An absolute date and time in the reader's locale, for details where precision matters. */
export function formatDateTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : dateTime.format(date);
}

/** "5 minutes ago", "yesterday": quicker to scan in a list than a full timestamp. */
export function formatRelative(iso: string, now = Date.now()): string {
  const then = new Date(iso).getTime();
  if (Number.isNaN(then)) return iso;
  const seconds = Math.round((then - now) / 1000);
  const steps: [Intl.RelativeTimeFormatUnit, number][] = [
    ['second', 60],
    ['minute', 60],
    ['hour', 24],
    ['day', 30],
    ['month', 12],
    ['year', Number.POSITIVE_INFINITY],
  ];
  let value = seconds;
  for (const [unit, size] of steps) {
    if (Math.abs(value) < size) {
      return unit === 'second' && Math.abs(value) < 45 ? 'just now' : relative.format(value, unit);
    }
    value = Math.round(value / size);
  }
  return formatDateTime(iso);
}

/** A transfer rate: "1.2 MiB/s". */
export function formatRate(bytesPerSecond: number): string {
  return `${formatBytes(Math.max(0, bytesPerSecond))}/s`;
}

/**
 * Time left, rounded the way a person reads it ("about 2 min left"): seconds below a minute,
 * minutes below an hour. Empty when it cannot be told (nothing moving yet).
 */
export function formatTimeLeft(seconds: number | undefined): string {
  if (seconds === undefined || !Number.isFinite(seconds) || seconds < 0) return '';
  if (seconds < 5) return 'a few seconds left';
  if (seconds < 55) return `${Math.round(seconds / 5) * 5} s left`;
  if (seconds < 3570) return `about ${Math.max(1, Math.round(seconds / 60))} min left`;
  const minutesAll = Math.round(seconds / 60);
  const hours = Math.floor(minutesAll / 60);
  const minutes = minutesAll % 60;
  return `about ${hours} h${minutes > 0 ? ` ${minutes} min` : ''} left`;
}

/** "1 peer", "3 peers". */
export function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}
