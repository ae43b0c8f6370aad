import type { Chunk, StorageAdapterInterface, StorageKey } from '@automerge/automerge-repo/slim';

/**
 * A storage adapter that knows which of its operations are still running. A Repo saves on a
 * timer and `Repo.shutdown` does not wait for a save already under way (nor for a compaction
 * removing old chunks), so whoever leaves the storage (a Node process exiting, a test removing
 * its directory) must first wait for {@link settled}, or a late write lands after it
 * (ENOTEMPTY).
 */
export class SettlingStorage implements StorageAdapterInterface {
  readonly #inner: StorageAdapterInterface;
  readonly #running = new Set<Promise<unknown>>();
  #started = 0;

  constructor(inner: StorageAdapterInterface) {
    this.#inner = inner;
  }

  #track<T>(op: Promise<T>): Promise<T> {
    this.#running.add(op);
    this.#started++;
    const done = () => this.#running.delete(op);
    op.then(done, done);
    return op;
  }

  load(key: StorageKey): Promise<Uint8Array | undefined> {
    return this.#track(this.#inner.load(key));
  }
  save(key: StorageKey, data: Uint8Array): Promise<void> {
    return this.#track(this.#inner.save(key, data));
  }
  remove(key: StorageKey): Promise<void> {
    return this.#track(this.#inner.remove(key));
  }
  loadRange(keyPrefix: StorageKey): Promise<Chunk[]> {
    return this.#track(this.#inner.loadRange(keyPrefix));
  }
  removeRange(keyPrefix: StorageKey): Promise<void> {
    return this.#track(this.#inner.removeRange(keyPrefix));
  }

  /** Resolves once no operation is running (including ones started while waiting). */
  async settled(): Promise<void> {
    while (this.#running.size > 0) await Promise.allSettled([...this.#running]);
  }

  /**
   * Resolves once no operation has started for `quietMs`: the Repo's throttled saves (100 ms
   * by default) still fire after `Repo.shutdown` has flushed. Gives up after `maxMs`.
   */
  async quiet(quietMs = 250, maxMs = 5_000): Promise<void> {
    const end = Date.now() + maxMs;
    for (;;) {
      await this.settled();
      const seen = this.#started;
      await new Promise((resolve) => setTimeout(resolve, quietMs));
      if ((this.#started === seen && this.#running.size === 0) || Date.now() > end) return;
    }
  }
}
