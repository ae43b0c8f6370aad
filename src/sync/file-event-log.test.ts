/**
 * The event log in an append-only file: the acceptance suite every event log passes, then what
 * a file adds: a torn write (a process killed mid-append) or a damaged tail loses only the
 * records from there on, never the ones before, and the log goes on after them.
 */
import { mkdtemp, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DOC, hash, remote, runEventLogTests } from './event-log-tests.ts';
import { FileEventLog, MAX_RECORD_BYTES } from './file-event-log.ts';

async function tempFile(): Promise<{ file: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'elohim-event-log-'));
  return { file: join(dir, 'sync', 'events.log'), cleanup: () => rm(dir, { recursive: true }) };
}

runEventLogTests('file', async () => {
  const { file, cleanup } = await tempFile();
  return { open: () => FileEventLog.open({ file }), cleanup };
});

describe('FileEventLog: damage', () => {
  const cleanups: (() => Promise<void>)[] = [];
  const logs: FileEventLog[] = [];
  afterEach(async () => {
    for (const l of logs.splice(0)) l.close();
    for (const c of cleanups.splice(0)) await c();
  });
  async function written(): Promise<{ file: string; sizes: number[] }> {
    const { file, cleanup } = await tempFile();
    cleanups.push(cleanup);
    const log = await FileEventLog.open({ file });
    const sizes: number[] = [];
    for (const i of [1, 2, 3]) {
      await log.appendLocal(DOC, hash(i), i);
      sizes.push((await stat(file)).size);
    }
    log.close();
    return { file, sizes };
  }
  async function reopen(file: string): Promise<FileEventLog> {
    const log = await FileEventLog.open({ file });
    logs.push(log);
    return log;
  }

  it('a torn last record (the file cut mid-record) loses only that record', async () => {
    const { file, sizes } = await written();
    const [, second = 0, third = 0] = sizes;
    for (const cut of [second + 3, second + 8, third - 1]) {
      await truncate(file, cut);
      const log = await reopen(file);
      expect(await log.localHead()).toBe(2);
      expect((await log.localSince(0, 10)).events.map((e) => e.change_hash)).toEqual([
        hash(1),
        hash(2),
      ]);
      // The torn bytes are gone: the next append follows the good records and survives.
      expect((await log.appendLocal(DOC, hash(3), 3))?.position).toBe(3);
      log.close();
      expect((await stat(file)).size).toBe(third);
    }
    const log = await reopen(file);
    expect(await log.localHead()).toBe(3);
  });

  it('a record that fails its checksum, claims more than the cap, or is not one ends the log there', async () => {
    const { file, sizes } = await written();
    const [first = 0, second = 0] = sizes;
    const good = await readFile(file);
    const flipped = Buffer.from(good);
    flipped[second - 2] = (flipped[second - 2] ?? 0) ^ 0xff; // inside the 2nd record's payload
    const huge = Buffer.from(good);
    huge.writeUInt32BE(MAX_RECORD_BYTES + 1, first); // the 2nd record's length
    const garbage = Buffer.concat([good.subarray(0, first), Buffer.from('not a record at all')]);
    for (const damaged of [flipped, huge, garbage]) {
      await writeFile(file, damaged);
      const log = await reopen(file);
      expect(await log.localHead()).toBe(1);
      expect(await log.localEventFor(DOC, hash(1))).toMatchObject({ position: 1 });
      log.close();
      expect((await stat(file)).size).toBe(first);
    }
  });

  it('remote batches are all or nothing across a torn write', async () => {
    const { file, cleanup } = await tempFile();
    cleanups.push(cleanup);
    const log = await FileEventLog.open({ file });
    await log.addRemote('peer-a', [{ event: remote(1), kind: 'New' }]);
    const before = (await stat(file)).size;
    await log.addRemote('peer-a', [
      { event: remote(2), kind: 'Backfill' },
      { event: remote(3), kind: 'Backfill' },
    ]);
    log.close();
    await truncate(file, before + 20);
    const again = await reopen(file);
    expect((await again.remoteEvents('peer-a')).map((e) => e.position)).toEqual([1]);
    expect(await again.contiguous('peer-a')).toBe(1);
  });
});
