import { formatBytes } from './format.ts';
import { finishedCount, type IngestJob, ingestSummary, isActive } from './ingestJobs.ts';

interface Props {
  jobs: IngestJob[];
  onCancel: (id: number) => void;
  onDismiss: (id: number) => void;
  /** Removes every row that is no longer working. */
  onClear: () => void;
}

const LABELS: Record<IngestJob['state'], string> = {
  queued: 'Waiting',
  storing: 'Storing',
  done: 'Stored',
  cancelled: 'Cancelled',
  failed: 'Failed',
  refused: 'Not stored',
};

/**
 * The files being stored, above the library. A stored file's row goes by itself after a few
 * seconds; the rows that carry a message (failed, not stored, cancelled) stay until closed,
 * one by one or together with "Clear finished".
 */
export function IngestList({ jobs, onCancel, onDismiss, onClear }: Props) {
  if (jobs.length === 0) return null;
  const finished = finishedCount(jobs);
  return (
    <>
      {/* Announces only when the counts change, not at every progress tick. */}
      <p className="visually-hidden" role="status">
        {ingestSummary(jobs)}
      </p>
      {finished >= 2 && (
        <button
          type="button"
          className="linklike ingests__clear"
          data-testid="ingest-clear"
          onClick={onClear}
        >
          Clear finished ({finished})
        </button>
      )}
      <ul className="ingests" aria-label="Files being stored">
        {jobs.map((job) => {
          const active = isActive(job);
          return (
            <li key={job.id} className={`ingest ingest--${job.state}`} data-testid="ingest">
              <span className="ingest__name" title={job.name}>
                {job.name}
              </span>
              <progress
                className="ingest__progress"
                max={Math.max(job.size, 1)}
                value={job.state === 'done' ? Math.max(job.size, 1) : job.bytesDone}
                aria-label={`Storing ${job.name}`}
              />
              <span className="ingest__state" data-testid="ingest-state">
                {LABELS[job.state]} · {formatBytes(job.bytesDone)} of {formatBytes(job.size)}
              </span>
              {job.error && (
                <span role="alert" className="error ingest__error">
                  {job.error}
                </span>
              )}
              {active ? (
                <button type="button" className="ingest__action" onClick={() => onCancel(job.id)}>
                  Cancel
                </button>
              ) : (
                <button
                  type="button"
                  className="ingest__action"
                  onClick={() => onDismiss(job.id)}
                  aria-label={`Dismiss ${job.name}`}
                >
                  ✕
                </button>
              )}
            </li>
          );
        })}
      </ul>
    </>
  );
}
