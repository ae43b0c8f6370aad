import 'fake-indexeddb/auto';
import { describe, expect, it, vi } from 'vitest';
import { runEventLogTests } from './event-log-tests.ts';
import { type EventLog, IdbEventLog, type StoredNotice, type SyncEvent } from './index.ts';

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

runEventLogTests('IndexedDB', async () => {
  const name = dbName();
  return {
    open: () => IdbEventLog.open({ dbName: name, broadcast: false }),
    cleanup: async () => {},
  };
});

/** Two logs on one new database, as two tabs of the app open it. */
function twoTabs(): Promise<[EventLog, EventLog]> {
  const name = dbName();
  return Promise.all([IdbEventLog.open({ dbName: name }), IdbEventLog.open({ dbName: name })]);
}

describe('EventLog (IndexedDB): tabs', () => {
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
