/**
 * The activity feed in words: what changed ("You added photo.jpg", "Ana shared notes.txt"),
 * made from the library's own changes and the sync events (src/sync). Pure: the panel feeds
 * it snapshots and notices and shows what comes out. What a person did not do and would not
 * miss — creating the empty libraries of a fresh profile, the changes that fill in a new
 * item's description, history caught up from a peer one event at a time — makes no entry of
 * its own (history is one line per peer, counted).
 */
import { isItemMeta, isLibrary, type LibraryItem, type StoredNotice } from '../sync/index.ts';

export interface ActivityEntry {
  /** Unique in the feed; a catch-up keeps one key per peer and is updated in place. */
  key: string;
  kind: 'added' | 'removed' | 'edited' | 'shared' | 'caught-up';
  text: string;
  /** When it was seen here, ms since epoch. */
  at: number;
  /** The item concerned, if one. */
  hash?: string;
  /** Done by this person (on any of their tabs). */
  mine: boolean;
  /** Who, for a catch-up (its text is rebuilt as the count grows). */
  who?: string;
  count?: number;
}

/** Entries kept: the newest. */
export const SHOWN = 30;
/** An edit of a description this soon after its item was added is the add filling it in. */
export const SEED_WINDOW_MS = 10_000;
/** More items than this added at once by someone is said in one entry. */
const LISTED_AT_ONCE = 3;

type Items = Record<string, LibraryItem>;

/** What was added to and removed from a library between two of its snapshots. */
export function libraryDiff(
  before: Items,
  after: Items,
): { added: LibraryItem[]; removed: LibraryItem[] } {
  return {
    added: Object.values(after).filter((item) => !before[item.hash]),
    removed: Object.values(before).filter((item) => !after[item.hash]),
  };
}

/** Entries for a change of this person's own libraries. */
export function ownLibraryEntries(before: Items, after: Items, at: number): ActivityEntry[] {
  const { added, removed } = libraryDiff(before, after);
  return [
    ...added.map((item) => entry('added', `You added ${item.name}`, at, item.hash)),
    ...removed.map((item) => entry('removed', `You removed ${item.name}`, at, item.hash)),
  ];
}

export interface NoticeContext {
  /** The document the notice names, as this browser holds it now (undefined: not loaded). */
  doc: unknown;
  /** Whether the document is one of this person's libraries (told by `ownLibraryEntries`). */
  mine: (docId: string) => boolean;
  /** This person's library entry for an item. */
  entry: (hash: string) => LibraryItem | undefined;
  /** A person's name for the PeerId a change came from, if known. */
  nameOfPeer: (peerId: string) => string | undefined;
  /** A person's name for an agent key, if known. */
  nameOfAgent: (agent: string) => string | undefined;
  /** The items a remote library listed when last seen (undefined: never seen). */
  seen: (docId: string) => Items | undefined;
}

/** Entries for a stored sync event (`seen` is the caller's to update afterwards). */
export function noticeEntries(
  { event, kind, origin }: StoredNotice,
  context: NoticeContext,
  at: number,
): ActivityEntry[] {
  const { doc } = context;
  if (context.mine(event.doc_id)) return [];
  const itemName = (hash: string, title?: string) =>
    context.entry(hash)?.name ?? (title?.trim() || 'an item');
  if (origin === undefined) {
    if (!isItemMeta(doc)) return [];
    const text = `You edited the description of ${itemName(doc.hash, doc.title)}`;
    return [entry('edited', text, at, doc.hash)];
  }
  const who = context.nameOfPeer(origin) ?? 'Someone';
  if (kind === 'Backfill') {
    return [
      {
        ...entry('caught-up', caughtUp(who, 1), at),
        mine: false,
        who,
        count: 1,
        key: `caught-up:${origin}`,
      },
    ];
  }
  if (isLibrary(doc)) {
    const owner = context.nameOfAgent(doc.agent) ?? who;
    const { added } = libraryDiff(context.seen(event.doc_id) ?? {}, doc.items);
    if (added.length > LISTED_AT_ONCE) {
      return [{ ...entry('shared', `${owner} shared ${added.length} items`, at), mine: false }];
    }
    return added.map((item) => ({
      ...entry('shared', `${owner} shared ${item.name}`, at, item.hash),
      mine: false,
    }));
  }
  if (isItemMeta(doc)) {
    const text = `${who} edited the description of ${itemName(doc.hash, doc.title)}`;
    return [{ ...entry('edited', text, at, doc.hash), mine: false }];
  }
  return [];
}

/** The feed with `entries` added, newest first, without the noise described above. */
export function pushEntries(
  feed: readonly ActivityEntry[],
  entries: readonly ActivityEntry[],
): ActivityEntry[] {
  let next = [...feed];
  for (const e of entries) {
    const recent = (other: ActivityEntry) =>
      other.hash === e.hash && Math.abs(e.at - other.at) <= SEED_WINDOW_MS;
    if (e.kind === 'edited' && e.mine && next.some((o) => o.kind === 'added' && recent(o))) {
      continue;
    }
    if (e.kind === 'added')
      next = next.filter((o) => !(o.kind === 'edited' && o.mine && recent(o)));
    if (e.kind === 'caught-up') {
      const before = next.find((o) => o.key === e.key);
      const count = (before?.count ?? 0) + (e.count ?? 1);
      next = next.filter((o) => o.key !== e.key);
      next.unshift({ ...e, count, text: caughtUp(e.who ?? 'Someone', count) });
      continue;
    }
    next.unshift(e);
  }
  return next.slice(0, SHOWN);
}

let serial = 0;

function entry(
  kind: ActivityEntry['kind'],
  text: string,
  at: number,
  hash?: string,
): ActivityEntry {
  return { key: `${kind}:${++serial}`, kind, text, at, mine: true, ...(hash ? { hash } : {}) };
}

function caughtUp(who: string, count: number): string {
  return `Caught up with ${count} earlier change${count === 1 ? '' : 's'} from ${who}`;
}
