import 'fake-indexeddb/auto';
import { describe, expect, it, vi } from 'vitest';
import { ConflictingEventError, EventLog, type StoredNotice, type SyncEvent } from './index.ts';

let n = 0;
const dbName = () => `event-log-test-${++n}-${Date.now()}`;
const hash = (i: number) => i.toString(16).padStart(64, '0');
const DOC = '2xTnVbL1JhBo3kBqrKSyKyiAF7QK';
const remote = (position: number, h = hash(position)): SyncEvent => ({
  position,
  doc_id: DOC,
  change_hash: h,
  kind: 'Local',
  timestamp: 1,
});

/** Two logs on one new database, as two tabs of the app open it. */
function twoTabs(): Promise<[EventLog, EventLog]> {
  const name = dbName();
  return Promise.all([EventLog.open({ dbName: name }), EventLog.open({ dbName: name })]);
}

describe('EventLog (IndexedDB)', () => {
  it('numbers local events 1, 2, 3… and keeps the numbers across reopen', async () => {
    const name = dbName();
    const log = await EventLog.open({ dbName: name });
    expect(await log.localHead()).toBe(0);
    expect((await log.appendLocal(DOC, hash(1), 10))?.position).toBe(1);
    expect((await log.appendLocal(DOC, hash(2), 11))?.position).toBe(2);
    // The same change again is not a new event.
    expect(await log.appendLocal(DOC, hash(1))).toBeUndefined();
    log.close();

    const again = await EventLog.open({ dbName: name });
    expect(await again.localHead()).toBe(2);
    expect((await again.appendLocal(DOC, hash(3)))?.position).toBe(3);
    expect(await again.localSince(0, 2)).toEqual({
      events: [
        { position: 1, doc_id: DOC, change_hash: hash(1), kind: 'Local', timestamp: 10 },
        { position: 2, doc_id: DOC, change_hash: hash(2), kind: 'Local', timestamp: 11 },
      ],
      hasMore: true,
    });
    expect((await again.localSince(2, 2)).hasMore).toBe(false);
    expect(await again.localEventFor(DOC, hash(2))).toMatchObject({ position: 2 });
    expect(await again.knownDocs()).toEqual([DOC]);
    again.close();
  });

  it('gives unique, gapless positions to concurrent appends from two connections (tabs)', async () => {
    const [tab1, tab2] = await twoTabs();
    const appended = await Promise.all(
      Array.from({ length: 20 }, (_, i) => (i % 2 ? tab1 : tab2).appendLocal(DOC, hash(100 + i))),
    );
    const positions = appended.map((e) => e?.position).sort((x, y) => (x ?? 0) - (y ?? 0));
    expect(positions).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    tab1.close();
    tab2.close();
  });

  it('stores remote events per origin with a contiguous cursor; conflicts store nothing', async () => {
    const log = await EventLog.open({ dbName: dbName() });
    await log.addRemote('peer-a', [{ event: remote(1), kind: 'New' }]);
    await log.addRemote('peer-a', [{ event: remote(4), kind: 'Outlier' }]);
    expect(await log.contiguous('peer-a')).toBe(1);
    const added = await log.addRemote('peer-a', [
      { event: remote(2), kind: 'Backfill' },
      { event: remote(3), kind: 'Backfill' },
      { event: remote(4), kind: 'Backfill' }, // already stored: skipped
    ]);
    expect(added.map((e) => e.position)).toEqual([2, 3]);
    expect(await log.contiguous('peer-a')).toBe(4);
    expect((await log.remoteEvents('peer-a')).map((e) => e.kind)).toEqual([
      'New',
      'Backfill',
      'Backfill',
      'Outlier',
    ]);
    expect(await log.contiguous('peer-b')).toBe(0);

    const err = await log
      .addRemote('peer-a', [
        { event: remote(5), kind: 'New' },
        { event: remote(2, hash(999)), kind: 'Backfill' },
      ])
      .catch((e) => e);
    expect(err).toBeInstanceOf(ConflictingEventError);
    expect(err.message).toMatch(/position 2, where its log had/);
    expect(await log.remoteEvent('peer-a', 5)).toBeUndefined(); // the whole batch was dropped
    expect(await log.contiguous('peer-a')).toBe(4);
    log.close();
  });

  it('passes the gaps a page covers (events we may not receive), only from where it stands', async () => {
    const log = await EventLog.open({ dbName: dbName() });
    await log.addRemote('peer-a', [{ event: remote(1), kind: 'Backfill' }]);
    // A page after 1 showed 2 and 3 hold nothing for us, then 4: the cursor reaches 4.
    await log.addRemote('peer-a', [{ event: remote(4), kind: 'Backfill' }], {
      after: 1,
      through: 4,
    });
    expect(await log.contiguous('peer-a')).toBe(4);
    // A page from further on than the cursor proves nothing about what lies before it.
    await log.addRemote('peer-a', [{ event: remote(9), kind: 'Backfill' }], {
      after: 7,
      through: 9,
    });
    expect(await log.contiguous('peer-a')).toBe(4);
    // Nothing for us in 5…6, then 7 stored; 8 was stored before: the cursor runs to 9.
    await log.addRemote('peer-a', [{ event: remote(8), kind: 'Outlier' }]);
    await log.addRemote('peer-a', [{ event: remote(7), kind: 'Backfill' }], {
      after: 4,
      through: 7,
    });
    expect(await log.contiguous('peer-a')).toBe(9);
    expect((await log.remoteEvents('peer-a')).map((e) => e.position)).toEqual([1, 4, 7, 8, 9]);
    log.close();
  });

  it('tells the other tabs (instances on the same database) what it stored', async () => {
    const [tab1, tab2] = await twoTabs();
    const here: StoredNotice[] = [];
    const there: StoredNotice[] = [];
    tab1.addEventListener('stored', (n) => here.push(n.detail));
    tab2.addEventListener('stored', (n) => there.push(n.detail));
    await tab1.appendLocal(DOC, hash(1));
    await tab1.addRemote('peer-a', [{ event: remote(1), kind: 'New' }]);
    await vi.waitFor(() => expect(there).toHaveLength(2), { timeout: 10_000 });
    const summary = (ns: StoredNotice[]) => ns.map((n) => [n.kind, n.origin, n.here]);
    expect(summary(here)).toEqual([
      ['Local', undefined, true],
      ['New', 'peer-a', true],
    ]);
    expect(summary(there)).toEqual([
      ['Local', undefined, false],
      ['New', 'peer-a', false],
    ]);
    expect(there[0]?.event).toMatchObject({ position: 1, doc_id: DOC, change_hash: hash(1) });
    tab1.close();
    tab2.close();
  });
});
