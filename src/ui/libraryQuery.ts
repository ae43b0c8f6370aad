import type { StoredManifest } from '../content/index.ts';

export type SortOrder = 'newest' | 'oldest' | 'name' | 'size';

export const SORT_LABELS: Record<SortOrder, string> = {
  newest: 'Newest first',
  oldest: 'Oldest first',
  name: 'Name (A–Z)',
  size: 'Size (largest first)',
};

/**
 * Whether an item matches what was typed: every word must match its name, its MIME type or
 * the start of its hash (with or without the `sha256-` prefix), so "png sha256-ab" narrows.
 */
export function matchesQuery(item: StoredManifest, query: string): boolean {
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  if (words.length === 0) return true;
  const name = (item.name ?? '').toLowerCase();
  const mime = (item.mime_type ?? '').toLowerCase();
  const hash = item.blob_hash.toLowerCase();
  const hex = hash.replace(/^sha256-/, '');
  return words.every(
    (word) =>
      name.includes(word) ||
      mime.includes(word) ||
      hash.startsWith(word) ||
      hex.startsWith(word) ||
      item.blob_cid?.toLowerCase().startsWith(word),
  );
}

/**
 * When and how an item came into the library: `added` here or `fetched` from peers, at the
 * time its origin records. Items stored before origins were recorded were added when made.
 */
export function arrival(item: StoredManifest): { verb: 'added' | 'fetched'; at: string } {
  const origin = item.origin;
  if (!origin) return { verb: 'added', at: item.created_at };
  return { verb: origin.how === 'fetched' ? 'fetched' : 'added', at: origin.at };
}

const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' });

export function sortItems(items: StoredManifest[], order: SortOrder): StoredManifest[] {
  const sorted = [...items];
  switch (order) {
    case 'newest':
      // RFC 3339 UTC timestamps sort lexicographically by time.
      return sorted.sort((a, b) => arrival(b).at.localeCompare(arrival(a).at));
    case 'oldest':
      return sorted.sort((a, b) => arrival(a).at.localeCompare(arrival(b).at));
    case 'name':
      return sorted.sort((a, b) => collator.compare(a.name || a.blob_hash, b.name || b.blob_hash));
    case 'size':
      return sorted.sort((a, b) => b.total_size - a.total_size);
  }
}

export function isSortOrder(value: string): value is SortOrder {
  return value in SORT_LABELS;
}
