/**
 * The acceptance suite every document storage (automerge-repo's `StorageAdapterInterface`)
 * passes here: the page's (IndexedDB) and the doorway's (`FsDocStorage`). It follows
 * automerge-repo's own `helpers/tests/storage-adapter-tests.ts` case by case, except that
 * `loadRange` is compared in any order: automerge-repo reads it in no order, and its suite's
 * expectation of save order holds for neither IndexedDB nor files (only NodeFS's in-memory
 * cache happens to keep it).
 */
import type { Chunk, StorageAdapterInterface } from '@automerge/automerge-repo/slim';
import { afterEach, describe, expect, it } from 'vitest';

export interface DocStorageHarness {
  /** A new, empty storage. */
  open(): Promise<StorageAdapterInterface>;
  cleanup(): Promise<void>;
}

const A = () => new Uint8Array([0, 1, 127, 99, 154, 235]);
const B = () => new Uint8Array([1, 76, 160, 53, 57, 10, 230]);
const C = () => new Uint8Array([2, 111, 74, 131, 236, 96, 142, 193]);
const LARGE = new Uint8Array(100_000).map((_, i) => (i * 7919) % 256);

const sorted = (chunks: Chunk[]) =>
  [...chunks].sort((x, y) => x.key.join('/').localeCompare(y.key.join('/')));

export function runDocStorageTests(name: string, makeHarness: () => Promise<DocStorageHarness>) {
  describe(`document storage acceptance: ${name}`, () => {
    const harnesses: DocStorageHarness[] = [];
    afterEach(async () => {
      for (const h of harnesses.splice(0)) await h.cleanup();
    });
    async function storage() {
      const h = await makeHarness();
      harnesses.push(h);
      return h.open();
    }

    it('loads nothing that was not saved', async () => {
      const s = await storage();
      expect(await s.load(['AAAAA', 'sync-state', 'xxxxx'])).toBeUndefined();
      expect(await s.loadRange(['AAAAA'])).toEqual([]);
    });

    it('loads what was saved, under simple and composite keys, large too; a save replaces', async () => {
      const s = await storage();
      await s.save(['storage-adapter-id'], A());
      expect(await s.load(['storage-adapter-id'])).toEqual(A());
      await s.save(['AAAAA', 'sync-state', 'xxxxx'], A());
      expect(await s.load(['AAAAA', 'sync-state', 'xxxxx'])).toEqual(A());
      await s.save(['AAAAA', 'sync-state', 'xxxxx'], B());
      expect(await s.load(['AAAAA', 'sync-state', 'xxxxx'])).toEqual(B());
      await s.save(['AAAAA', 'snapshot', 'yyyyy'], LARGE);
      expect(await s.load(['AAAAA', 'snapshot', 'yyyyy'])).toEqual(LARGE);
    });

    it('loadRange returns every chunk under a prefix, and only those', async () => {
      const s = await storage();
      await s.save(['AAAAA', 'sync-state', 'xxxxx'], A());
      await s.save(['AAAAA', 'snapshot', 'yyyyy'], B());
      await s.save(['AAAAA', 'sync-state', 'zzzzz'], C());
      await s.save(['BBBBB', 'sync-state', 'zzzzz'], C());
      expect(sorted(await s.loadRange(['AAAAA']))).toEqual([
        { key: ['AAAAA', 'snapshot', 'yyyyy'], data: B() },
        { key: ['AAAAA', 'sync-state', 'xxxxx'], data: A() },
        { key: ['AAAAA', 'sync-state', 'zzzzz'], data: C() },
      ]);
      expect(sorted(await s.loadRange(['AAAAA', 'sync-state']))).toEqual([
        { key: ['AAAAA', 'sync-state', 'xxxxx'], data: A() },
        { key: ['AAAAA', 'sync-state', 'zzzzz'], data: C() },
      ]);
      expect(await s.loadRange(['BBBBB'])).toEqual([
        { key: ['BBBBB', 'sync-state', 'zzzzz'], data: C() },
      ]);
    });

    it('remove and removeRange drop what they name, and only that', async () => {
      const s = await storage();
      await s.save(['AAAAA', 'snapshot', 'xxxxx'], A());
      await s.save(['AAAAA', 'sync-state', 'xxxxx'], B());
      await s.save(['BBBBB', 'sync-state', 'xxxxx'], C());
      await s.remove(['AAAAA', 'snapshot', 'xxxxx']);
      await s.remove(['AAAAA', 'snapshot', 'never-saved']);
      expect(await s.load(['AAAAA', 'snapshot', 'xxxxx'])).toBeUndefined();
      expect(await s.loadRange(['AAAAA'])).toEqual([
        { key: ['AAAAA', 'sync-state', 'xxxxx'], data: B() },
      ]);
      await s.removeRange(['AAAAA']);
      expect(await s.loadRange(['AAAAA'])).toEqual([]);
      expect(await s.load(['BBBBB', 'sync-state', 'xxxxx'])).toEqual(C());
    });
  });
}
