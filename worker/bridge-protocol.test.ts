import { describe, expect, it } from 'vitest';
import type { StoredManifest } from '../src/content/index.ts';
import { firstPieceOf } from './bridge-protocol.ts';

const MiB = 1024 * 1024;
/** Only the fields the offset arithmetic reads. */
const manifest = (m: Pick<StoredManifest, 'encoding' | 'total_size' | 'shard_size'>) =>
  ({ piece_size: MiB, ...m }) as StoredManifest;

describe('firstPieceOf: the piece the window fetches with open', () => {
  const none = manifest({ encoding: 'none', total_size: 1024 * MiB, shard_size: 1024 * MiB });
  const rs = manifest({ encoding: 'rs-4-7', total_size: 1000 * MiB, shard_size: 250 * MiB });

  it('names the piece holding the first byte of the range', () => {
    expect(firstPieceOf(none, null)).toEqual({ shard: 0, piece: 0 });
    expect(firstPieceOf(none, `bytes=${1020 * MiB + 5}-`)).toEqual({ shard: 0, piece: 1020 });
    expect(firstPieceOf(none, 'bytes=-10')).toEqual({ shard: 0, piece: 1023 });
    // rs-4-7 lays the data shards end to end.
    expect(firstPieceOf(rs, `bytes=${600 * MiB}-${700 * MiB}`)).toEqual({ shard: 2, piece: 100 });
  });

  it('names none for a HEAD, an unsatisfiable range or an oversized header', () => {
    expect(firstPieceOf(none, undefined)).toBeUndefined();
    expect(firstPieceOf(none, `bytes=${1024 * MiB}-`)).toBeUndefined();
    expect(firstPieceOf(none, `bytes=0-${'9'.repeat(300)}`)).toBeUndefined();
    const empty = manifest({ encoding: 'none', total_size: 0, shard_size: 0 });
    expect(firstPieceOf(empty, null)).toBeUndefined();
  });
});
