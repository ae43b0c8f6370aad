import { describe, expect, it } from 'vitest';
import type { StoredManifest } from '../content/index.ts';
import { arrival, sortItems } from './libraryQuery.ts';

const item = (hash: string, created_at: string, origin?: StoredManifest['origin']) =>
  ({ blob_hash: hash, created_at, ...(origin ? { origin } : {}) }) as StoredManifest;

describe('library order and dates', () => {
  it('says how and when an item came: added, fetched, or (older records) added when made', () => {
    expect(arrival(item('a', '2026-01-01T00:00:00.000Z'))).toEqual({
      verb: 'added',
      at: '2026-01-01T00:00:00.000Z',
    });
    const fetched = item('b', '2025-01-01T00:00:00.000Z', {
      how: 'fetched',
      at: '2026-02-01T00:00:00.000Z',
    });
    expect(arrival(fetched)).toEqual({ verb: 'fetched', at: '2026-02-01T00:00:00.000Z' });
  });

  it('newest first is by arrival here, not by when its author made it', () => {
    const old = item('old', '2026-03-01T00:00:00.000Z', {
      how: 'added',
      at: '2026-03-01T00:00:00.000Z',
    });
    // Made long ago by someone else, fetched just now.
    const fresh = item('fresh', '2020-01-01T00:00:00.000Z', {
      how: 'fetched',
      at: '2026-04-01T00:00:00.000Z',
    });
    expect(sortItems([old, fresh], 'newest').map((i) => i.blob_hash)).toEqual(['fresh', 'old']);
    expect(sortItems([fresh, old], 'oldest').map((i) => i.blob_hash)).toEqual(['old', 'fresh']);
  });
});
