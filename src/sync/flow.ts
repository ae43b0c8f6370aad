/** Deadlines for the sync service. */
import { type AbortOptions, type Deadline, deadline } from '../wire/index.ts';
import { SyncTimeoutError } from './errors.ts';

/**
 * The caller's signal bounded by `timeoutMs`, whose timeout says what was waited for
 * (`SyncTimeoutError`), so that a caller sees which exchange was too slow.
 */
export function timeLimit(options: AbortOptions, timeoutMs: number, what: string): Deadline {
  return deadline(options, timeoutMs, () => new SyncTimeoutError(what, timeoutMs));
}
