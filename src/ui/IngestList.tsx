import { formatBytes } from './format.ts';
import type { IngestJob } from './useIngest.ts';

interface Props {
  jobs: IngestJob[];
  onCancel: (id: number) => void;
  onDismiss: (id: number) => void;
}

const LABELS: Record<IngestJob['state'], string> = {
  queued: 'Waiting',
  storing: 'Storing',
  done: 'Stored',
  cancelled: 'Cancelled',
  failed: 'Failed',
};

export function IngestList({ jobs, onCancel, onDismiss }: Props) {
  if (jobs.length === 0) return null;
  return (
    <>
      {/* Announces only when the counts change, not at every progress tick. */}
      <p className="visually-hidden" role="status">
        {summary(jobs)}
      </p>
      <ul className="ingests" aria-label="Files being stored">
        {jobs.map((job) => {
          const active = job.state === 'queued' || job.state === 'storing';
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

function summary(jobs: IngestJob[]): string {
  const count = (state: IngestJob['state']) => jobs.filter((job) => job.state === state).length;
  const active = count('queued') + count('storing');
  const parts = [
    active > 0 ? `Storing ${active} file${active === 1 ? '' : 's'}` : '',
    count('done') > 0 ? `${count('done')} stored` : '',
    count('failed') > 0 ? `${count('failed')} failed` : '',
    count('cancelled') > 0 ? `${count('cancelled')} cancelled` : '',
  ];
  return parts.filter(Boolean).join(', ');
}
