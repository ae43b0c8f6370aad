/**
 * The acceptance suite every event log (`event-log.ts`) passes: IndexedDB and the append-only
 * file. Each implementation's test file calls {@link runEventLogTests} with a harness that
 * opens its storage.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { SyncEvent } from './codec.ts';
import { ConflictingEventError } from './errors.ts';
import type { EventLog, StoredNotice } from './event-log.ts';

export interface EventLogHarness {
  /** Opens the log under test; every call of one harness opens the same storage. */
  open(): Promise<EventLog>;
  /** Removes the storage (after the logs are closed). */
  cleanup(): Promise<void>;
}

export const hash = (i: number) => i.toString(16).padStart(64, '0');
export const DOC = '2xTnVbL1JhBo3kBqrKSyKyiAF7QK';
export const remote = (position: number, h = hash(position)): SyncEvent => ({
  position,
  doc_id: DOC,
  change_hash: h,
  kind: 'Local',
  timestamp: 1,
});

export function runEventLogTests(name: string, makeHarness: () => Promise<EventLogHarness>) {
  describe(`EventLog acceptance: ${name}`, () => {
    const opened: EventLog[] = [];
    const harnesses: EventLogHarness[] = [];
    afterEach(async () => {
      for (const l of opened.splice(0)) l.close();
      for (const h of harnesses.splice(0)) await h.cleanup();
    });
    async function setup() {
      const harness = await makeHarness();
      harnesses.push(harness);
      const open = async () => {
        const l = await harness.open();
        opened.push(l);
        return l;
      };
      return { open };
    }

    it('numbers local events 1, 2, 3… and keeps the numbers across reopen', async () => {
      const { open } = await setup();
      const log = await open();
      expect(await log.localHead()).toBe(0);
      expect((await log.appendLocal(DOC, hash(1), 10))?.position).toBe(1);
      expect((await log.appendLocal(DOC, hash(2), 11))?.position).toBe(2);
      // The same change again is not a new event.
      expect(await log.appendLocal(DOC, hash(1))).toBeUndefined();
      log.close();

      const again = await open();
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
      expect(await again.knowsDoc(DOC)).toBe(true);
      expect(await again.knownDocs()).toEqual([DOC]);
    });

    it('gives unique, gapless positions to concurrent appends', async () => {
      const { open } = await setup();
      const log = await open();
      const appended = await Promise.all(
        Array.from({ length: 20 }, (_, i) => log.appendLocal(DOC, hash(100 + i))),
      );
      const positions = appended.map((e) => e?.position).sort((x, y) => (x ?? 0) - (y ?? 0));
      expect(positions).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    });

    it('stores remote events per origin with a contiguous cursor; conflicts store nothing', async () => {
      const { open } = await setup();
      const log = await open();
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

      // All of it is there after a reopen, and nothing of the refused batch.
      const again = await open();
      expect((await again.remoteEvents('peer-a')).map((e) => [e.position, e.kind])).toEqual([
        [1, 'New'],
        [2, 'Backfill'],
        [3, 'Backfill'],
        [4, 'Outlier'],
      ]);
      expect(await again.contiguous('peer-a')).toBe(4);
      expect(await again.remoteEvent('peer-a', 2)).toMatchObject({ origin: 'peer-a', doc_id: DOC });
    });

    it('passes the gaps a page covers (events we may not receive), only from where it stands', async () => {
      const { open } = await setup();
      const log = await open();
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
      // An empty page that covers a gap moves the cursor too, and that survives a reopen.
      await log.addRemote('peer-a', [], { after: 9, through: 12 });
      log.close();
      const again = await open();
      expect(await again.contiguous('peer-a')).toBe(12);
      expect((await again.remoteEvents('peer-a')).map((e) => e.position)).toEqual([1, 4, 7, 8, 9]);
    });

    it('tells its listeners what it stored', async () => {
      const { open } = await setup();
      const log = await open();
      const here: StoredNotice[] = [];
      log.addEventListener('stored', (n) => here.push(n.detail));
      await log.appendLocal(DOC, hash(1));
      await log.addRemote('peer-a', [{ event: remote(1), kind: 'New' }]);
      expect(here.map((n) => [n.kind, n.origin, n.here])).toEqual([
        ['Local', undefined, true],
        ['New', 'peer-a', true],
      ]);
      expect(here[0]?.event).toMatchObject({ position: 1, doc_id: DOC, change_hash: hash(1) });
    });
  });
}
