import { type Ref, useId } from 'react';
import { isSortOrder, SORT_LABELS, type SortOrder } from './libraryQuery.ts';

interface Props {
  query: string;
  onQuery: (query: string) => void;
  sort: SortOrder;
  onSort: (sort: SortOrder) => void;
  shown: number;
  total: number;
  searchRef?: Ref<HTMLInputElement>;
}

/** Search and sort for the library; the count of what is shown is announced as it changes. */
export function LibraryToolbar({ query, onQuery, sort, onSort, shown, total, searchRef }: Props) {
  const searchId = useId();
  const sortId = useId();
  const hintId = useId();
  return (
    <search className="toolbar" aria-label="Library">
      <div className="field field--grow">
        <label htmlFor={searchId}>Search</label>
        <input
          ref={searchRef}
          id={searchId}
          type="search"
          value={query}
          placeholder="Name, type or hash…"
          aria-describedby={hintId}
          data-testid="library-search"
          onChange={(event) => onQuery(event.currentTarget.value)}
          onKeyDown={(event) => {
            if (event.key === 'Escape' && query) {
              event.preventDefault();
              onQuery('');
            }
          }}
        />
      </div>
      <div className="field">
        <label htmlFor={sortId}>Sort</label>
        <select
          id={sortId}
          value={sort}
          data-testid="library-sort"
          onChange={(event) => {
            const value = event.currentTarget.value;
            if (isSortOrder(value)) onSort(value);
          }}
        >
          {Object.entries(SORT_LABELS).map(([value, label]) => (
            <option key={value} value={value}>
              {label}
            </option>
          ))}
        </select>
      </div>
      <p
        id={hintId}
        className="toolbar__count muted"
        aria-live="polite"
        data-testid="library-count"
      >
        {query ? `${shown} of ${total} shown` : `${total} item${total === 1 ? '' : 's'}`}
      </p>
    </search>
  );
}
