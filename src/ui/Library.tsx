import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import type { ContentStore, StoredManifest } from '../content/index.ts';
import { ItemDetails } from './ItemDetails.tsx';
import { LibraryRow } from './LibraryRow.tsx';
import { LibraryToolbar } from './LibraryToolbar.tsx';
import { isSortOrder, matchesQuery, type SortOrder, sortItems } from './libraryQuery.ts';
import { useItemReader } from './useItemReader.ts';

interface Props {
  store: ContentStore;
  items: StoredManifest[];
}

const SORT_KEY = 'elohim.sort';

function savedSort(): SortOrder {
  const saved = localStorage.getItem(SORT_KEY) ?? '';
  return isSortOrder(saved) ? saved : 'newest';
}

/** What the store holds: searchable, sortable; each item opens, downloads, shares, or shows its details. */
export function Library({ store, items }: Props) {
  const reader = useItemReader(store);
  const [query, setQuery] = useState('');
  const [sort, setSort] = useState<SortOrder>(savedSort);
  const [selected, setSelected] = useState<string | undefined>();
  const search = useRef<HTMLInputElement>(null);
  // "added 5 minutes ago" must age while the page stays open.
  const [now, setNow] = useState(Date.now);
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 60_000);
    return () => clearInterval(timer);
  }, []);
  // Where focus goes back to when the details close (the name that opened them).
  const opener = useRef<HTMLElement | null>(null);

  const shown = useMemo(
    () =>
      sortItems(
        items.filter((item) => matchesQuery(item, query)),
        sort,
      ),
    [items, query, sort],
  );
  // Removed here or in another tab: the details of a vanished item close by themselves.
  const details = items.find((item) => item.blob_hash === selected);

  const showDetails = useCallback((item: StoredManifest) => {
    opener.current = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    setSelected(item.blob_hash);
  }, []);

  const closeDetails = useCallback(() => {
    setSelected(undefined);
    const back = opener.current?.isConnected ? opener.current : search.current;
    // After React has removed the dialog, or the browser puts focus back on <body>.
    requestAnimationFrame(() => back?.focus());
  }, []);

  return (
    <section className="library" aria-labelledby="library-heading">
      <h2 id="library-heading">Library</h2>
      {items.length === 0 ? (
        <p className="empty">
          Nothing stored yet. Add a file above: it stays in this browser, and its share link lets
          other people fetch it from you.
        </p>
      ) : (
        <>
          <LibraryToolbar
            query={query}
            onQuery={setQuery}
            sort={sort}
            onSort={(order) => {
              setSort(order);
              localStorage.setItem(SORT_KEY, order);
            }}
            shown={shown.length}
            total={items.length}
            searchRef={search}
          />
          {shown.length === 0 ? (
            <p className="empty" data-testid="library-no-match">
              Nothing matches “{query}”. Search looks at names, types (like <code>image/png</code>)
              and the start of hashes.{' '}
              <button type="button" className="linklike" onClick={() => setQuery('')}>
                Clear the search
              </button>
            </p>
          ) : (
            <ul className="items" aria-label="Stored items">
              {shown.map((item) => (
                <LibraryRow
                  key={item.blob_hash}
                  item={item}
                  now={now}
                  error={reader.errors[item.blob_hash]}
                  busy={reader.busy === item.blob_hash}
                  onRead={(it, action) => void reader.read(it, action)}
                  onShowDetails={showDetails}
                />
              ))}
            </ul>
          )}
        </>
      )}
      {details && (
        <ItemDetails
          item={details}
          store={store}
          error={reader.errors[details.blob_hash]}
          busy={reader.busy === details.blob_hash}
          onRead={(it, action) => void reader.read(it, action)}
          onClose={closeDetails}
        />
      )}
    </section>
  );
}
