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
    <ul className="ingests" aria-label="Files being stored">
      {jobs.map((job) => {
        const active = job.state === 'queued' || job.state === 'storing';
        return (
          <li key={job.id} className={`ingest ingest--${job.state}`} data-testid="ingest">
            <span className="ingest__name">{job.name}</span>
            <progress
              max={Math.max(job.size, 1)}
              value={job.state === 'done' ? Math.max(job.size, 1) : job.bytesDone}
              aria-label={`Storing ${job.name}`}
            />
            <span className="ingest__state" data-testid="ingest-state">
              {LABELS[job.state]} · {formatBytes(job.bytesDone)} of {formatBytes(job.size)}
            </span>
            {job.error && (
              <span role="alert" className="error">
                {job.error}
              </span>
            )}
            {active ? (
              <button type="button" onClick={() => onCancel(job.id)}>
                Cancel
              </button>
            ) : (
              <button
                type="button"
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
  );
}
