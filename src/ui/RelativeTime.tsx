import { formatDateTime, formatRelative } from './format.ts';

/** "added 5 minutes ago": quick to scan, with the full date and time on hover. */
export function RelativeTime({ verb, at, now }: { verb: string; at: string; now?: number }) {
  return (
    <span>
      {verb}{' '}
      <time dateTime={at} title={formatDateTime(at)}>
        {formatRelative(at, now)}
      </time>
    </span>
  );
}
