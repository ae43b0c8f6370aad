/**
 * Provider records for what the doorway keeps: every item and held shard of its store is
 * announced in the DHT under the content's CID (kad-dht republishes them before they expire),
 * new ones as they arrive, and a removed one is no longer republished. What an attached browser
 * holds is provided the same way (`add`), until neither a browser nor the store holds it
 * (`withdraw`).
 */
import type { KadDHT } from '@libp2p/kad-dht';
import type { ContentChange } from '../../src/content/index.ts';
import type { ContentStore } from '../../src/content/node.ts';
import { contentCid } from '../../src/net/index.ts';
import { errorMessage, listen, withTimeout } from '../../src/wire/index.ts';
import type { Logger } from '../log.ts';

export interface ProvideOptions {
  /** `provide` calls at once. Default 4. */
  concurrency?: number;
  /** Per `provide` (the walk and the ADD_PROVIDER messages). Default 30 s. */
  timeoutMs?: number;
  /** Hashes waiting to be provided; beyond, new ones wait for the next `retry`. Default 10,000. */
  maxPending?: number;
  /** Whether something besides the store (an attached browser) holds `hash`: kept provided. */
  heldElsewhere?: (hash: string) => boolean;
  /** Asked before each record (within its timeout): false, and `hash` is not provided. */
  mayProvide?: (hash: string, signal: AbortSignal) => Promise<boolean>;
}

export class ContentProvider {
  readonly #pending = new Set<string>();
  /** Provided nowhere but here yet (no other DHT server answered): tried again by `retry`. */
  readonly #unplaced = new Set<string>();
  readonly #stop = new AbortController();
  readonly #concurrency: number;
  readonly #timeoutMs: number;
  readonly #maxPending: number;
  readonly #heldElsewhere: (hash: string) => boolean;
  readonly #mayProvide: ProvideOptions['mayProvide'];
  #running = 0;
  #unlisten: (() => void) | undefined;
  /** Records placed on at least one other DHT server since start. */
  provided = 0;

  constructor(
    private readonly dht: KadDHT,
    private readonly store: ContentStore,
    private readonly log: Logger,
    options: ProvideOptions = {},
  ) {
    this.#concurrency = options.concurrency ?? 4;
    this.#timeoutMs = options.timeoutMs ?? 30_000;
    this.#maxPending = options.maxPending ?? 10_000;
    this.#heldElsewhere = options.heldElsewhere ?? (() => false);
    this.#mayProvide = options.mayProvide;
  }

  /** Provides everything kept now, then each item as it is kept. */
  async start(): Promise<void> {
    this.#unlisten = listen<ContentChange>(this.store, 'change', (detail) => {
      if (detail.kind === 'added' || detail.kind === 'held') this.#enqueue(detail.hash);
      else if (detail.kind === 'removed' && !this.#heldElsewhere(detail.hash)) {
        this.#cancel(detail.hash);
      }
    });
    const [items, holdings] = await Promise.all([this.store.list(), this.store.holdings()]);
    for (const m of items) this.#enqueue(m.blob_hash);
    for (const h of holdings) this.#enqueue(h.blob_hash);
  }

  /** Provides `hash`, which something besides the store holds (an attached browser). */
  add(hash: string): void {
    this.#enqueue(hash);
  }

  /** No longer provides `hash` (nothing besides the store holds it), unless the store does. */
  async withdraw(hash: string): Promise<void> {
    if (this.#heldElsewhere(hash)) return;
    if ((await this.store.has(hash)) || (await this.store.holding(hash))) return;
    this.#cancel(hash);
  }

  /** Hashes waiting or not yet placed on another server. */
  get backlog(): number {
    return this.#pending.size + this.#unplaced.size;
  }

  /** Hashes waiting or being provided now. */
  get busy(): number {
    return this.#pending.size + this.#running;
  }

  /** Provides again what no other server took (call when a DHT peer arrives). */
  retry(): void {
    for (const hash of this.#unplaced) this.#enqueue(hash);
    this.#unplaced.clear();
  }

  stop(): void {
    this.#stop.abort();
    this.#unlisten?.();
    this.#pending.clear();
    this.#unplaced.clear();
  }

  #cancel(hash: string): void {
    this.#pending.delete(hash);
    this.#unplaced.delete(hash);
    void this.dht.cancelReprovide(contentCid(hash)).catch(() => {});
  }

  #enqueue(hash: string): void {
    if (this.#stop.signal.aborted) return;
    if (this.#pending.size >= this.#maxPending) {
      this.#unplaced.add(hash);
      return;
    }
    this.#pending.add(hash);
    this.#pump();
  }

  #pump(): void {
    while (this.#running < this.#concurrency && this.#pending.size > 0) {
      const hash = this.#pending.values().next().value as string;
      this.#pending.delete(hash);
      this.#running++;
      void this.#provide(hash).finally(() => {
        this.#running--;
        this.#pump();
      });
    }
  }

  async #provide(hash: string): Promise<void> {
    let placed = false;
    try {
      const signal = withTimeout(this.#stop.signal, this.#timeoutMs);
      if (this.#mayProvide && !(await this.#mayProvide(hash, signal))) {
        this.log.debug(`dht: not providing ${hash}: nobody here may serve it`);
        return;
      }
      for await (const event of this.dht.provide(contentCid(hash), { signal })) {
        // kad-dht answers an ADD_PROVIDER with nothing; a PEER_RESPONSE there is a server's ack.
        if (event.name === 'PEER_RESPONSE' && event.messageName === 'ADD_PROVIDER') placed = true;
      }
    } catch (error) {
      if (this.#stop.signal.aborted) return;
      this.log.debug(`dht: providing ${hash} failed: ${errorMessage(error)}`);
    }
    if (placed) this.provided++;
    else if (!this.#stop.signal.aborted) this.#unplaced.add(hash);
  }
}
