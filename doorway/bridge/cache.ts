/**
 * What the doorway fetched for HTTP clients: a filesystem content store (`<dir>/content`)
 * whose committed blobs beyond `maxBytes` go least recently used first. Separate from what the
 * doorway keeps for others, which it never evicts for a reader's sake.
 *
 * The order survives restarts in `<dir>/lru.json` (hashes, least recent first), written
 * atomically (temp file, rename) at most once a second. A blob committed after the last write
 * (a crash before it) counts as the most recent: it was fetched lately.
 */
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  type ContentChange,
  type ContentHash,
  type ContentStore,
  type FsContentStoreOptions,
  isContentHash,
  openFsContentStore,
  type StoredManifest,
} from '../../src/content/node.ts';
import { listen } from '../../src/wire/index.ts';

export interface ContentCacheOptions {
  /** The cache's own directory: its store in `content/`, the LRU order in `lru.json`. */
  dir: string;
  /** Bytes of committed blobs kept (rs-4-7 counts its 7 shards). */
  maxBytes: number;
  /** Hashing and the like of the store (pieces keep the size each holder's manifest gives). */
  store?: Omit<FsContentStoreOptions, 'dir'>;
  /** Called with what an eviction could not remove (the next one tries again). */
  onError?: (error: unknown) => void;
}

export interface CacheStats {
  bytes: number;
  items: number;
  maxBytes: number;
}

const INDEX_FILE = 'lru.json';
const SAVE_EVERY_MS = 1_000;

/** Bytes a blob takes on disk, parity included. */
function storedBytes(m: StoredManifest): number {
  return m.encoding === 'rs-4-7' ? m.shard_size * m.total_shards : m.total_size;
}

export class ContentCache {
  /** Committed blobs, least recently used first (a Map keeps insertion order). */
  readonly #entries = new Map<ContentHash, number>();
  /** Readers per hash: a blob being read is never evicted. */
  readonly #pins = new Map<string, number>();
  #bytes = 0;
  /** Changes and evictions, one at a time, in order. */
  #work: Promise<void> = Promise.resolve();
  #saveTimer: ReturnType<typeof setTimeout> | undefined;
  #saving: Promise<void> = Promise.resolve();
  readonly #unlisten: () => void;
  #closed = false;

  private constructor(
    readonly store: ContentStore,
    private readonly dir: string,
    readonly maxBytes: number,
    private readonly onError: (error: unknown) => void,
  ) {
    this.#unlisten = listen<ContentChange>(store, 'change', ({ kind, hash }) => {
      if (kind === 'added') this.#queue(() => this.#added(hash));
      if (kind === 'removed') this.#forget(hash);
    });
  }

  static async open(options: ContentCacheOptions): Promise<ContentCache> {
    if (!(Number.isSafeInteger(options.maxBytes) && options.maxBytes >= 0)) {
      throw new RangeError(`maxBytes must be a whole number of bytes, not ${options.maxBytes}`);
    }
    const store = await openFsContentStore({
      ...options.store,
      dir: join(options.dir, 'content'),
    });
    const cache = new ContentCache(
      store,
      options.dir,
      options.maxBytes,
      options.onError ?? (() => {}),
    );
    try {
      await cache.#load();
    } catch (error) {
      // Not `close()`: that would write an order read only in part over the real one.
      cache.#unlisten();
      store.close();
      throw error;
    }
    return cache;
  }

  stats(): CacheStats {
    return { bytes: this.#bytes, items: this.#entries.size, maxBytes: this.maxBytes };
  }

  /**
   * When the cache holds `hash`: marks it just used and keeps it until the returned function is
   * called. Checked and pinned at once, so an eviction cannot slip in between.
   */
  acquire(hash: ContentHash): (() => void) | undefined {
    const bytes = this.#entries.get(hash);
    if (bytes === undefined) return undefined;
    this.#entries.delete(hash);
    this.#entries.set(hash, bytes);
    this.#scheduleSave();
    return this.pin(hash);
  }

  /** Keeps `hash` from eviction until the returned function is called (once). */
  pin(hash: string): () => void {
    this.#pins.set(hash, (this.#pins.get(hash) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.#pins.get(hash) ?? 1) - 1;
      if (left > 0) this.#pins.set(hash, left);
      else this.#pins.delete(hash);
      this.#queue(() => this.#evict());
    };
  }

  /** Resolves once the changes seen so far are counted and their evictions done. */
  settled(): Promise<void> {
    return this.#work;
  }

  /** Writes the LRU order and closes the store. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#unlisten();
    clearTimeout(this.#saveTimer);
    await this.#work;
    await this.#save().catch(this.onError);
    this.store.close();
  }

  async #load(): Promise<void> {
    const manifests = await this.store.list();
    const sizes = new Map(manifests.map((m) => [m.blob_hash as ContentHash, storedBytes(m)]));
    for (const hash of await this.#readIndex()) {
      const bytes = sizes.get(hash);
      if (bytes === undefined) continue;
      this.#entries.set(hash, bytes);
      sizes.delete(hash);
    }
    // Not in the index: committed after its last write, so recent. `list` is newest first.
    for (const [hash, bytes] of [...sizes].reverse()) this.#entries.set(hash, bytes);
    for (const bytes of this.#entries.values()) this.#bytes += bytes;
    await this.#evict();
  }

  async #readIndex(): Promise<ContentHash[]> {
    try {
      const parsed: unknown = JSON.parse(await readFile(join(this.dir, INDEX_FILE), 'utf8'));
      const order = (parsed as { order?: unknown })?.order;
      return Array.isArray(order) ? order.filter(isContentHash) : [];
    } catch {
      // Missing or damaged: the order is only a hint, the store is the truth.
      return [];
    }
  }

  async #added(hash: ContentHash): Promise<void> {
    const m = await this.store.manifest(hash).catch(() => undefined);
    if (!m || this.#closed || this.#entries.has(hash)) return;
    this.#entries.set(hash, storedBytes(m));
    this.#bytes += storedBytes(m);
    this.#scheduleSave();
    await this.#evict();
  }

  #forget(hash: ContentHash): void {
    const bytes = this.#entries.get(hash);
    if (bytes === undefined) return;
    this.#entries.delete(hash);
    this.#bytes -= bytes;
    this.#scheduleSave();
  }

  #queue(job: () => Promise<void>): void {
    this.#work = this.#work.then(job).catch(this.onError);
  }

  /** Removes least recently used, unpinned blobs until the cache fits its budget. */
  async #evict(): Promise<void> {
    while (this.#bytes > this.maxBytes && !this.#closed) {
      const victim = [...this.#entries.keys()].find((hash) => !this.#pins.has(hash));
      if (!victim) return;
      this.#forget(victim);
      await this.store.remove(victim);
    }
  }

  #scheduleSave(): void {
    if (this.#saveTimer || this.#closed) return;
    this.#saveTimer = setTimeout(() => {
      this.#saveTimer = undefined;
      this.#save().catch(this.onError);
    }, SAVE_EVERY_MS);
    this.#saveTimer.unref?.();
  }

  #save(): Promise<void> {
    // A failed write was reported by its caller; the next one starts afresh.
    this.#saving = this.#saving
      .catch(() => {})
      .then(async () => {
        const path = join(this.dir, INDEX_FILE);
        const temp = `${path}.${process.pid}.tmp`;
        await writeFile(temp, JSON.stringify({ order: [...this.#entries.keys()] }));
        await rename(temp, path);
      });
    return this.#saving;
  }
}
