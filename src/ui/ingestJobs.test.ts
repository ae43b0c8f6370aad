import { describe, expect, it } from 'vitest';
import { clearFinished, finishedCount, type IngestJob, ingestSummary } from './ingestJobs.ts';

const job = (id: number, state: IngestJob['state']): IngestJob => ({
  id,
  name: `${id}.bin`,
  size: 10,
  bytesDone: 0,
  state,
});

describe('ingest rows', () => {
  const jobs = [
    job(1, 'done'),
    job(2, 'storing'),
    job(3, 'failed'),
    job(4, 'queued'),
    job(5, 'refused'),
    job(6, 'cancelled'),
  ];

  it('"Clear finished" keeps only the rows still working, in order', () => {
    expect(clearFinished(jobs).map((j) => j.id)).toEqual([2, 4]);
    expect(finishedCount(jobs)).toBe(4);
    expect(clearFinished(clearFinished(jobs))).toEqual(clearFinished(jobs));
  });

  it('sums the rows up in words, an empty file as "not stored"', () => {
    expect(ingestSummary(jobs)).toBe(
      'Storing 2 files, 1 stored, 1 failed, 1 not stored, 1 cancelled',
    );
    expect(ingestSummary([job(1, 'storing')])).toBe('Storing 1 file');
    expect(ingestSummary([])).toBe('');
  });
});
