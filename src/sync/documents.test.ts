import { type DocHandle, Repo } from '@automerge/automerge-repo';
import { describe, expect, it } from 'vitest';
import {
  addTag,
  createItemMeta,
  createLibrary,
  type DocTracker,
  type ItemMeta,
  removeItemFromLibrary,
  removeTag,
  seedItem,
  setDescription,
  setItemReach,
  tagsOf,
} from './index.ts';

describe('library and item metadata documents', () => {
  it('seeds an item: a metadata document and a library entry naming it', () => {
    const repo = new Repo();
    const tracked: string[] = [];
    const tracker: DocTracker = { track: (h) => void tracked.push(h.documentId) };
    const library = createLibrary(repo, 'agent-1', tracker);
    const { item, meta } = seedItem(
      repo,
      library,
      {
        blob_hash: `sha256-${'a'.repeat(64)}`,
        blob_cid: 'bafkreiabc',
        total_size: 1234,
        mime_type: 'video/mp4',
        reach: 'local',
        name: 'clip.mp4',
      },
      { tags: ['fun', ' fun ', 'film'], tracker, addedAt: new Date(0) },
    );
    expect(library.doc()).toEqual({
      agent: 'agent-1',
      items: {
        [item.hash]: {
          hash: `sha256-${'a'.repeat(64)}`,
          name: 'clip.mp4',
          mime: 'video/mp4',
          size: 1234,
          reach: 'local',
          manifest_ref: 'bafkreiabc',
          added_at: '1970-01-01T00:00:00.000Z',
          meta_doc: meta.documentId,
        },
      },
    });
    expect(meta.doc()).toEqual({
      hash: item.hash,
      title: 'clip.mp4',
      description: '',
      tags: ['fun', 'film'],
    });
    expect(tracked).toEqual([library.documentId, meta.documentId]);

    setItemReach(library, item.hash, 'commons');
    expect(library.doc().items[item.hash]?.reach).toBe('commons');
    removeItemFromLibrary(library, item.hash);
    expect(library.doc().items).toEqual({});
    expect(() => setItemReach(library, item.hash, 'private')).toThrow(/no item/);
  });

  it('tags: no duplicates from one peer; concurrent duplicates read once and remove together', () => {
    const repo = new Repo();
    const meta = createItemMeta(repo, { hash: 'sha256-x', title: 't' });
    addTag(meta, 'x');
    const heads = meta.heads();
    addTag(meta, 'x'); // no-op: no change at all
    expect(meta.heads()).toEqual(heads);
    expect(() => addTag(meta, '   ')).toThrow(/non-blank/);
    setDescription(meta, 'about');

    // A peer that already has "x" adds it again (nothing) and "y".
    const other = repo.clone(meta) as DocHandle<ItemMeta>;
    addTag(other, 'x');
    addTag(other, 'y');
    meta.merge(other);
    expect(meta.doc().tags).toEqual(['x', 'y']);
    // Two peers add "z" concurrently: the list holds it twice.
    const concurrent = repo.clone(meta) as DocHandle<ItemMeta>;
    addTag(concurrent, 'z');
    addTag(meta, 'z');
    meta.merge(concurrent);
    expect(meta.doc().tags.filter((t) => t === 'z').length).toBe(2);
    expect(tagsOf(meta.doc())).toEqual(['x', 'y', 'z']);
    removeTag(meta, 'z');
    expect(tagsOf(meta.doc())).toEqual(['x', 'y']);
    expect(meta.doc().description).toBe('about');
  });
});
