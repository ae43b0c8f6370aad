import { Repo, type StorageAdapterInterface } from '@automerge/automerge-repo';
import { afterEach, describe, expect, it } from 'vitest';
import { findDoc } from './index.ts';

/** Storage whose reads wait until released: the moment Repo.find's own signal misbehaves. */
function slowStorage() {
  let release = () => {};
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  const storage: StorageAdapterInterface = {
    load: async () => {
      await gate;
      return undefined;
    },
    save: async () => {},
    remove: async () => {},
    loadRange: async () => {
      await gate;
      return [];
    },
    removeRange: async () => {},
  };
  return { storage, release };
}

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);
afterEach(() => {
  process.off('unhandledRejection', onUnhandled);
  unhandled.length = 0;
});

/** Lets pending rejections be reported (Node reports them after the microtask queue drains). */
const settle = () => new Promise((resolve) => setTimeout(resolve, 50));

describe('findDoc', () => {
  it('aborted while the document loads from storage: the caller sees the abort, nothing goes unhandled', async () => {
    process.on('unhandledRejection', onUnhandled);
    const { storage, release } = slowStorage();
    const id = new Repo().create({ title: 'x' }).documentId;
    const repo = new Repo({ storage });
    const controller = new AbortController();
    const finding = findDoc(repo, id, { signal: controller.signal });
    await settle();
    controller.abort(new Error('left the page'));
    const outcome = finding.then(
      () => 'found',
      (error: Error) => error.message,
    );
    // Storage is still loading (IndexedDB can take a while): nothing may be left unhandled.
    await settle();
    // Repo.find(id, { signal }) leaves an "AbortError: Operation aborted" here.
    expect(unhandled.map(String)).toEqual([]);
    expect(await outcome).toBe('left the page');
    release();
    await settle();
    expect(unhandled).toEqual([]);
  });

  it('finds a document as Repo.find does', async () => {
    const repo = new Repo();
    const handle = repo.create({ title: 'x' });
    const found = await findDoc<{ title: string }>(repo, handle.documentId, {
      signal: new AbortController().signal,
    });
    expect(found.doc()?.title).toBe('x');
  });

  it('rejects at once with a signal already aborted', async () => {
    const repo = new Repo();
    const handle = repo.create({ title: 'x' });
    await expect(
      findDoc(repo, handle.documentId, { signal: AbortSignal.abort(new Error('gone')) }),
    ).rejects.toThrow('gone');
  });
});
