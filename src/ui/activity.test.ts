import { describe, expect, it } from 'vitest';
import type { LibraryItem, StoredNotice } from '../sync/index.ts';
import {
  type ActivityEntry,
  type NoticeContext,
  noticeEntries,
  ownLibraryEntries,
  pushEntries,
  SEED_WINDOW_MS,
  SHOWN,
} from './activity.ts';

function libraryItem(hash: string, name: string): LibraryItem {
  return {
    hash,
    name,
    mime: 'image/jpeg',
    size: 10,
    reach: 'commons',
    manifest_ref: 'bafk',
    added_at: '2026-01-01T00:00:00Z',
    meta_doc: `doc-${hash}` as LibraryItem['meta_doc'],
  };
}

const PHOTO = libraryItem('sha256-aa', 'photo.jpg');
const NOTES = libraryItem('sha256-bb', 'notes.txt');

function notice(doc_id: string, kind: StoredNotice['kind'], origin?: string): StoredNotice {
  return {
    event: { position: 1, doc_id, change_hash: 'c', kind, timestamp: 0 },
    kind,
    origin,
    here: true,
  };
}

function context(doc: unknown, over: Partial<NoticeContext> = {}): NoticeContext {
  return {
    doc,
    mine: (id) => id === 'my-library',
    entry: (hash) => [PHOTO, NOTES].find((i) => i.hash === hash),
    nameOfPeer: (peer) => (peer === 'peer-ana' ? "Ana's laptop" : undefined),
    nameOfAgent: (agent) => (agent === 'agent-ana' ? 'Ana' : undefined),
    seen: () => undefined,
    ...over,
  };
}

const texts = (entries: ActivityEntry[]) => entries.map((e) => e.text);

describe('activity in words', () => {
  it('says what this person added and removed, and nothing for an unchanged library', () => {
    expect(texts(ownLibraryEntries({}, { [PHOTO.hash]: PHOTO }, 1))).toEqual([
      'You added photo.jpg',
    ]);
    expect(texts(ownLibraryEntries({ [PHOTO.hash]: PHOTO }, {}, 1))).toEqual([
      'You removed photo.jpg',
    ]);
    // A fresh profile creates its empty libraries: no entry.
    expect(ownLibraryEntries({}, {}, 1)).toEqual([]);
  });

  it('names the item whose description changed, and who changed it', () => {
    const meta = { hash: PHOTO.hash, title: 'Holiday', description: '', tags: [] };
    expect(texts(noticeEntries(notice('doc-aa', 'Local'), context(meta), 1))).toEqual([
      'You edited the description of photo.jpg',
    ]);
    expect(texts(noticeEntries(notice('doc-aa', 'New', 'peer-ana'), context(meta), 1))).toEqual([
      "Ana's laptop edited the description of photo.jpg",
    ]);
    expect(texts(noticeEntries(notice('doc-aa', 'New', 'peer-x'), context(meta), 1))).toEqual([
      'Someone edited the description of photo.jpg',
    ]);
  });

  it('says what someone shared: each item, or how many when many', () => {
    const library = { agent: 'agent-ana', items: { [NOTES.hash]: NOTES } };
    const seen = { [PHOTO.hash]: PHOTO };
    expect(
      texts(
        noticeEntries(
          notice('ana-lib', 'New', 'peer-ana'),
          context(library, { seen: () => seen }),
          1,
        ),
      ),
    ).toEqual(['Ana shared notes.txt']);
    const many = Object.fromEntries(
      ['1', '2', '3', '4'].map((n) => [`sha256-${n}`, libraryItem(`sha256-${n}`, `${n}.bin`)]),
    );
    expect(
      texts(
        noticeEntries(
          notice('ana-lib', 'Outlier', 'peer-x'),
          context({ agent: 'x', items: many }),
          1,
        ),
      ),
    ).toEqual(['Someone shared 4 items']);
  });

  it('ignores events on my own libraries and on documents it cannot read', () => {
    expect(
      noticeEntries(notice('my-library', 'Local'), context({ agent: 'me', items: {} }), 1),
    ).toEqual([]);
    expect(noticeEntries(notice('unknown', 'New', 'peer-ana'), context(undefined), 1)).toEqual([]);
    expect(noticeEntries(notice('unknown', 'Local'), context(undefined), 1)).toEqual([]);
  });

  it('counts history caught up from a peer in one line per peer', () => {
    let feed: ActivityEntry[] = [];
    for (let i = 0; i < 12; i++) {
      feed = pushEntries(
        feed,
        noticeEntries(notice(`d${i}`, 'Backfill', 'peer-ana'), context(undefined), i),
      );
    }
    feed = pushEntries(
      feed,
      noticeEntries(notice('d', 'Backfill', 'peer-b'), context(undefined), 20),
    );
    expect(texts(feed)).toEqual([
      'Caught up with 1 earlier change from Someone',
      "Caught up with 12 earlier changes from Ana's laptop",
    ]);
  });

  it('folds the filling-in of a new item description into "You added", in either order', () => {
    const meta = { hash: PHOTO.hash, title: 'photo.jpg', description: '', tags: [] };
    const edited = () => noticeEntries(notice('doc-aa', 'Local'), context(meta), 1_000);
    const added = ownLibraryEntries({}, { [PHOTO.hash]: PHOTO }, 1_000);
    expect(texts(pushEntries(pushEntries([], added), edited()))).toEqual(['You added photo.jpg']);
    expect(texts(pushEntries(pushEntries([], edited()), added))).toEqual(['You added photo.jpg']);
    // A later edit is news.
    const later = noticeEntries(
      notice('doc-aa', 'Local'),
      context(meta),
      1_000 + SEED_WINDOW_MS + 1,
    );
    expect(texts(pushEntries(pushEntries([], added), later))).toEqual([
      'You edited the description of photo.jpg',
      'You added photo.jpg',
    ]);
  });

  it('keeps the newest entries only', () => {
    let feed: ActivityEntry[] = [];
    for (let i = 0; i < SHOWN + 5; i++) {
      const item = libraryItem(`sha256-${i}`, `${i}.bin`);
      feed = pushEntries(feed, ownLibraryEntries({}, { [item.hash]: item }, i * 60_000));
    }
    expect(feed).toHaveLength(SHOWN);
    expect(feed[0]?.text).toBe(`You added ${SHOWN + 4}.bin`);
  });
});
