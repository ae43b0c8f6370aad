/**
 * The rows of files being stored (useIngest, IngestList): their states and what clearing and
 * the screen-reader summary make of them. Pure, so the rules are tested without React.
 */

export interface IngestJob {
  id: number;
  name: string;
  size: number;
  bytesDone: number;
  /** `refused`: never stored, for a reason the row says (an empty file). */
  state: 'queued' | 'storing' | 'done' | 'cancelled' | 'failed' | 'refused';
  error?: string;
  hash?: string;
}

/**
 * An empty file is refused rather than stored: it holds nothing to keep or share, and every
 * empty file has the same hash, so "storing" it would add an item that says nothing.
 */
export const EMPTY_FILE_MESSAGE = 'Empty file (0 bytes): there is nothing in it to store or share.';

export function isActive(job: IngestJob): boolean {
  return job.state === 'queued' || job.state === 'storing';
}

/** The rows still working: what "Clear finished" leaves. */
export function clearFinished(jobs: readonly IngestJob[]): IngestJob[] {
  return jobs.filter(isActive);
}

/** How many rows "Clear finished" would remove (it is offered from two on). */
export function finishedCount(jobs: readonly IngestJob[]): number {
  return jobs.filter((job) => !isActive(job)).length;
}

/** One line for screen readers, announced when the counts change (not at every byte). */
export function ingestSummary(jobs: readonly IngestJob[]): string {
  const count = (state: IngestJob['state']) => jobs.filter((job) => job.state === state).length;
  const active = count('queued') + count('storing');
  const parts = [
    active > 0 ? `Storing ${active} file${active === 1 ? '' : 's'}` : '',
    count('done') > 0 ? `${count('done')} stored` : '',
    count('failed') > 0 ? `${count('failed')} failed` : '',
    count('refused') > 0 ? `${count('refused')} not stored` : '',
    count('cancelled') > 0 ? `${count('cancelled')} cancelled` : '',
  ];
  return parts.filter(Boolean).join(', ');
}
