/**
 * What the shard server reads from its store: which blob (or shard of one) an incoming hash
 * names — {@link ShardIndex}, since the Rust store keys shards by their hash — and the verified
 * pieces it sends, one at a time.
 */
import type { ContentHash, ContentStore, RemoteManifest } from '../../content/index.ts';
import {
  pieceLength,
  piecesInShard,
  type StoredManifest,
  shardLength,
} from '../../content/index.ts';
import { ShardError } from './errors.ts';

interface ShardLocation {
  blobHash: ContentHash;
  shard: number;
}

/** shard hash → (blob, shard index), for sharded blobs and held shards. */
export class ShardIndex {
  private map: Promise<Map<string, ShardLocation>> | undefined;
  private readonly onChange = () => {
    this.map = undefined;
  };
  constructor(private readonly store: ContentStore) {}
  open(): void {
    this.store.addEventListener('change', this.onChange);
  }
  async lookup(hash: ContentHash): Promise<ShardLocation | undefined> {
    if (!this.map) {
      const built = this.build();
      this.map = built;
      built.catch(() => {
        if (this.map === built) this.map = undefined;
      });
    }
    return (await this.map).get(hash);
  }
  private async build(): Promise<Map<string, ShardLocation>> {
    const out = new Map<string, ShardLocation>();
    for (const m of await this.store.list()) {
      if (m.encoding === 'none') continue;
      m.shard_hashes.forEach((h, shard) => {
        if (!out.has(h)) out.set(h, { blobHash: m.blob_hash, shard });
      });
    }
    for (const holding of await this.store.holdings()) {
      for (const { index } of holding.shards) {
        const h = holding.manifest.shard_hashes[index];
        if (h && !out.has(h)) out.set(h, { blobHash: holding.blob_hash, shard: index });
      }
    }
    return out;
  }
  close(): void {
    this.store.removeEventListener('change', this.onChange);
    this.map = undefined;
  }
}

/** The verified pieces of one shard, read one at a time. */
export async function* shardPieces(
  store: ContentStore,
  m: StoredManifest | RemoteManifest,
  shard: number,
): AsyncGenerator<Uint8Array> {
  const len = shardLength(m, shard);
  const n = piecesInShard(len, m.piece_size);
  for (let p = 0; p < n; p++) {
    const bytes = await store.readPiece(m.blob_hash, shard, p);
    if (bytes.byteLength !== pieceLength(len, m.piece_size, p)) {
      throw new ShardError(`stored piece ${shard}/${p} of ${m.blob_hash} has the wrong length`);
    }
    yield bytes;
  }
}

/** The verified bytes of a whole blob (any encoding), one piece per pull. */
export async function* blobPieces(
  store: ContentStore,
  hash: ContentHash,
): AsyncGenerator<Uint8Array> {
  const reader = store.get(hash).getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      yield value;
    }
  } finally {
    reader.releaseLock();
  }
}
