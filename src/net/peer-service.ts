/**
 * What the UI uses of the network, the same in every tab. One tab per browser profile runs the
 * libp2p node (it holds the Web Lock, see src/peer/page.ts): its service is the *leader*.
 * Other tabs get a *follower* that talks to the leader over a BroadcastChannel: they see the
 * same network snapshot and their fetches run in the leader's node. When the leader's tab
 * closes, a follower takes the lock and becomes the leader; fetches in flight through the old
 * leader fail with `LeaderGoneError` and are retried by the caller.
 */
import {
  type ContentStore,
  type PieceRef,
  parseContentHash,
  type StoredManifest,
} from '../content/index.ts';
import { ElohimError, sleep, TypedEventEmitter, type TypedEventTarget } from '../wire/index.ts';
import { AllHoldersFailedError, NoHoldersError } from './errors.ts';
import { type FetchOptions, type FetchProgress, fetchContent, type HolderFinder } from './fetch.ts';
import type { NodeSnapshot, PeerNode } from './node.ts';
import type { ReplicaHealth, Replicator } from './replicator/index.ts';
import { SearchTally } from './search.ts';
import { ContentStreamer } from './stream-fetch.ts';
import type { Upload } from './uploads.ts';

/** Fetches tried again after every holder failed (see `#whileHoldersConnect`). */
const FAILED_RETRIES = 2;
/**
 * Rounds of asking every source before "nobody holds it": the second catches a holder that
 * connected (or announced) a moment after the first asked.
 */
const MIN_ROUNDS = 2;
/** Longest wait for the doorway's fresh list of peers between rounds. */
const DISCOVER_WAIT_MS = 1_500;
/** Pause between rounds. */
const ROUND_PAUSE_MS = 500;
/** How long the peers have to serve a fetch before the doorway's bridge is tried too. */
const LAST_RESORT_AFTER_MS = 8_000;
/** The progress of a fetch before its first answer. */
const NOTHING_YET: Omit<FetchProgress, 'hash'> = {
  phase: 'finding',
  bytesDone: 0,
  totalBytes: 0,
  rate: 0,
  peers: [],
};

export interface PeerFetchOptions {
  signal?: AbortSignal;
  onProgress?: (progress: FetchProgress) => void;
}

/** `change`: the snapshot or the replica health may differ. `uploads`: the uploads list may. */
export interface PeerServiceEvents {
  change: CustomEvent<void>;
  uploads: CustomEvent<void>;
}

export interface PeerService extends TypedEventTarget<PeerServiceEvents> {
  readonly role: 'leader' | 'follower';
  /** The node's state (undefined until a follower hears from the leader); `change` events. */
  snapshot(): NodeSnapshot | undefined;
  /**
   * Replica health of the items authored here, by hash (empty when replication is off, or
   * until a follower hears from the leader). A new map after each change; `change` events.
   */
  replicas(): ReadonlyMap<string, ReplicaHealth>;
  /** What this peer is sending to others now, and sent a moment ago; `uploads` events. */
  uploads(): readonly Upload[];
  /**
   * Fetches a blob from the peers that hold it and stores it. When the peers, the trust layer
   * and the doorway all say nobody holds it, it fails within a few seconds with
   * `NoHoldersError` (saying whom it asked); while a holder is known but still connecting it
   * keeps looking for up to `findForMs` (default 60 s). Progress carries the search so far.
   */
  fetch(hash: string, options?: PeerFetchOptions & { findForMs?: number }): Promise<StoredManifest>;
  /**
   * Streaming without a full fetch (see `ContentStreamer`): the manifest to read `hash` with,
   * stored or the import begun for it. Gives up on a hash nobody holds as `fetch` does (the
   * same search and tally, `NoHoldersError` saying whom it asked); `findForMs` (default 20 s)
   * bounds only the wait for a holder that is known but still connecting.
   */
  openStream(hash: string, options?: { signal?: AbortSignal }): Promise<StoredManifest>;
  /** Works offline (closes every connection) or goes back online; see `PeerNode.setWorkOffline`. */
  setWorkOffline(offline: boolean): Promise<void>;
  /** Resolves once these pieces of an open stream are verified and written. */
  ensurePieces(hash: string, pieces: PieceRef[], options?: { signal?: AbortSignal }): Promise<void>;
  close(): void;
}

/** The tab running the node closed (or changed) while a fetch ran through it: try again. */
export class LeaderGoneError extends ElohimError.named('LeaderGoneError') {
  constructor() {
    super('The tab that ran the network closed during the transfer; it is being retried here.');
  }
}

type Message =
  | { type: 'snapshot'; leader: string; snapshot: NodeSnapshot }
  | { type: 'replicas'; leader: string; replicas: ReplicaHealth[] }
  | { type: 'uploads'; leader: string; uploads: Upload[] }
  | { type: 'hello' }
  | { type: 'fetch'; id: string; hash: string; findForMs?: number }
  | { type: 'open-stream'; id: string; hash: string }
  | { type: 'work-offline'; id: string; offline: boolean }
  | { type: 'ensure-pieces'; id: string; hash: string; pieces: PieceRef[] }
  | { type: 'cancel'; id: string }
  | { type: 'progress'; id: string; progress: FetchProgress }
  | { type: 'done'; id: string; result: unknown }
  | { type: 'failed'; id: string; name: string; message: string };

const CHANNEL = 'elohim-peer-service';
const HEARTBEAT_MS = 1_000;
/** A leader silent for this long is gone. */
const LEADER_TIMEOUT_MS = 3_500;

/** Runs fetches in this tab's node and answers the other tabs. */
export class LeaderPeerService extends TypedEventEmitter<PeerServiceEvents> implements PeerService {
  readonly role = 'leader';
  readonly #channel = new BroadcastChannel(CHANNEL);
  readonly #id = crypto.randomUUID();
  readonly #remote = new Map<string, AbortController>();
  readonly #heartbeat: ReturnType<typeof setInterval>;
  readonly #finder: HolderFinder;
  readonly #streamer: ContentStreamer;
  #replicas: ReadonlyMap<string, ReplicaHealth>;

  /** `replicator`: the one running beside `node`, if replication is on. */
  constructor(
    private readonly node: PeerNode,
    private readonly store: ContentStore,
    replicator: Replicator | undefined,
    /** Who holds a hash: the peer's finder (connected peers, doorways, the trust layer). */
    finder: HolderFinder,
    /** What a fetch that reached no holder tries next (the doorway's bridge); tried once per fetch. */
    private readonly fallBack?: (
      hash: string,
      error: unknown,
      options: FetchOptions,
    ) => Promise<StoredManifest>,
  ) {
    super();
    this.#finder = finder;
    this.#streamer = new ContentStreamer(node, store, this.#finder);
    this.#replicas = new Map(replicator?.health().map((h) => [h.hash, h]));
    node.addEventListener('change', () => {
      this.#announce();
      this.safeDispatchEvent('change');
    });
    replicator?.addEventListener('change', (event) => {
      const { hash, health } = event.detail;
      const next = new Map(this.#replicas);
      if (health) next.set(hash, health);
      else next.delete(hash);
      this.#replicas = next;
      this.#announceReplicas();
      this.safeDispatchEvent('change');
    });
    node.uploads.addEventListener('change', () => {
      this.#post({ type: 'uploads', leader: this.#id, uploads: node.uploads.list() });
      this.safeDispatchEvent('uploads');
    });
    this.#channel.onmessage = (event: MessageEvent<Message>) => this.#onMessage(event.data);
    this.#heartbeat = setInterval(() => this.#announce(), HEARTBEAT_MS);
    this.#announce();
    this.#announceReplicas();
  }

  snapshot(): NodeSnapshot {
    return this.node.snapshot();
  }

  replicas(): ReadonlyMap<string, ReplicaHealth> {
    return this.#replicas;
  }

  uploads(): readonly Upload[] {
    return this.node.uploads.list();
  }

  fetch(
    input: string,
    options: PeerFetchOptions & { findForMs?: number } = {},
  ): Promise<StoredManifest> {
    const hash = parseContentHash(input);
    const signal = options.signal ?? new AbortController().signal;
    // Every answer of the search goes out at once, with the transfer's own progress.
    const tally = new SearchTally();
    let last: FetchProgress = { ...NOTHING_YET, hash };
    // A late answer of a search (a dial that ended after the fetch failed) must not show the
    // fetch as running again.
    let over = false;
    const emit = (progress?: FetchProgress) => {
      if (over) return;
      if (progress) last = progress;
      options.onProgress?.({ ...last, search: tally.snapshot() });
    };
    const fetchOptions: FetchOptions = {
      signal,
      onProgress: emit,
      onSearch: (event) => {
        tally.record(event);
        emit();
      },
    };
    const fallBack = this.fallBack;
    return this.#whileHoldersConnect(
      signal,
      options.findForMs ?? 60_000,
      () => fetchContent(this.node, this.store, this.#finder, hash, fetchOptions),
      tally,
      fallBack &&
        ((error) => {
          // Whatever the doorway answers, the peers' failure is the one to report (and to
          // retry on): it says what the person can do.
          fetchOptions.onSearch?.({ source: 'doorway', status: 'asking' });
          return fallBack(hash, error, fetchOptions).catch((viaDoorway: unknown) => {
            fetchOptions.onSearch?.({
              source: 'doorway',
              status: viaDoorway instanceof NoHoldersError ? 'none' : 'unreachable',
            });
            throw error;
          });
        }),
    ).finally(() => {
      over = true;
    });
  }

  openStream(
    hash: string,
    options: { signal?: AbortSignal; findForMs?: number } = {},
  ): Promise<StoredManifest> {
    const signal = options.signal ?? new AbortController().signal;
    // Tallied as a fetch is, so that `/content/<hash>` of a hash nobody holds answers as soon
    // as the fetch panel would ("asked 3 peers…; nobody holds it"), not after `findForMs`.
    const tally = new SearchTally();
    return this.#whileHoldersConnect(
      signal,
      options.findForMs ?? 20_000,
      () => this.#streamer.open(hash, { signal, onSearch: tally.record }),
      tally,
    );
  }

  /**
   * Runs `attempt` again while it finds no holder, for up to `findForMs`: they may still be
   * connecting; and up to twice when every holder failed (a connection cut under load drops a
   * holder for that attempt; a fresh one finds it again).
   *
   * With a `tally` (a fetch a person waits for) it gives up early: after {@link MIN_ROUNDS}
   * rounds in which every source said no and none named a holder still connecting, looking
   * longer cannot change the answer, so it says whom it asked ({@link NoHoldersError}).
   *
   * `lastResort` (the doorway's bridge) is tried once: when the peers are given up on, or once
   * they have had {@link LAST_RESORT_AFTER_MS} to answer. Not sooner: right after a page
   * loads its dials to the holders may still be under way, and a fetch the doorway relays
   * costs it every byte that a direct one a moment later would not.
   */
  async #whileHoldersConnect<T>(
    signal: AbortSignal,
    findForMs: number,
    attempt: () => Promise<T>,
    tally?: SearchTally,
    lastResort?: (error: unknown) => Promise<T>,
  ): Promise<T> {
    await this.node.whenDiscovered();
    const began = Date.now();
    const deadline = began + findForMs;
    let failedRetries = 0;
    let resort = lastResort;
    for (;;) {
      try {
        return await attempt();
      } catch (error) {
        if (signal.aborted) throw error;
        const nobody = error instanceof NoHoldersError;
        const failed = error instanceof AllHoldersFailedError;
        let giveUp = !(nobody || (failed && failedRetries++ < FAILED_RETRIES));
        if (nobody && tally) {
          tally.endRound();
          giveUp ||= tally.snapshot().rounds >= MIN_ROUNDS && !tally.reasonToWait();
        }
        giveUp ||= Date.now() >= deadline;
        if (
          resort &&
          (nobody || failed) &&
          (giveUp || Date.now() - began >= LAST_RESORT_AFTER_MS)
        ) {
          const tried = resort;
          resort = undefined;
          const answer = await tried(error).then(
            (value) => ({ value }),
            () => undefined,
          );
          if (answer) return answer.value;
          if (signal.aborted) throw error;
        }
        if (!giveUp) {
          // Ask the doorway for peers again (not waiting long for slow dials), then retry.
          await Promise.race([this.node.discoverNow(), sleep(DISCOVER_WAIT_MS, signal)]);
          await sleep(ROUND_PAUSE_MS, signal);
          continue;
        }
        // Whom it asked, the doorway included when it was.
        throw nobody && tally ? new NoHoldersError(error.hash, tally.snapshot()) : error;
      }
    }
  }

  setWorkOffline(offline: boolean): Promise<void> {
    return this.node.setWorkOffline(offline);
  }

  ensurePieces(
    hash: string,
    pieces: PieceRef[],
    options: { signal?: AbortSignal } = {},
  ): Promise<void> {
    return this.#streamer.ensure(hash, pieces, options);
  }

  close(): void {
    clearInterval(this.#heartbeat);
    for (const controller of this.#remote.values()) controller.abort();
    this.#streamer.close();
    this.#channel.close();
  }

  #announce(): void {
    this.#post({ type: 'snapshot', leader: this.#id, snapshot: this.node.snapshot() });
  }

  /** Sent on change and to new tabs only, not with the heartbeat: the list grows with the library. */
  #announceReplicas(): void {
    this.#post({ type: 'replicas', leader: this.#id, replicas: [...this.#replicas.values()] });
  }

  #post(message: Message): void {
    this.#channel.postMessage(message);
  }

  #onMessage(message: Message): void {
    if (message.type === 'hello') {
      this.#announce();
      this.#announceReplicas();
    } else if (message.type === 'cancel') this.#remote.get(message.id)?.abort();
    else if (message.type === 'fetch') {
      const { id, hash, findForMs } = message;
      void this.#serve(id, (signal) =>
        this.fetch(hash, {
          signal,
          findForMs,
          onProgress: (progress) => this.#post({ type: 'progress', id, progress }),
        }),
      );
    } else if (message.type === 'work-offline') {
      void this.#serve(message.id, () => this.setWorkOffline(message.offline));
    } else if (message.type === 'open-stream') {
      void this.#serve(message.id, (signal) => this.openStream(message.hash, { signal }));
    } else if (message.type === 'ensure-pieces') {
      const { id, hash, pieces } = message;
      void this.#serve(id, (signal) => this.ensurePieces(hash, pieces, { signal }));
    }
  }

  /** Runs a follower's request here and posts its result (or error) back. */
  async #serve(id: string, run: (signal: AbortSignal) => Promise<unknown>): Promise<void> {
    const controller = new AbortController();
    this.#remote.set(id, controller);
    try {
      this.#post({ type: 'done', id, result: await run(controller.signal) });
    } catch (error) {
      const { name, message } =
        error instanceof Error ? error : { name: 'Error', message: String(error) };
      this.#post({ type: 'failed', id, name, message });
    } finally {
      this.#remote.delete(id);
    }
  }
}

interface Pending {
  leader: string | undefined;
  resolve(result: unknown): void;
  reject(error: unknown): void;
  onProgress?: (progress: FetchProgress) => void;
}

/** A tab that does not run the node: it mirrors the leader's state and asks it to fetch. */
export class FollowerPeerService
  extends TypedEventEmitter<PeerServiceEvents>
  implements PeerService
{
  readonly role = 'follower';
  readonly #channel = new BroadcastChannel(CHANNEL);
  readonly #pending = new Map<string, Pending>();
  readonly #watchdog: ReturnType<typeof setInterval>;
  #snapshot: NodeSnapshot | undefined;
  #replicas: ReadonlyMap<string, ReplicaHealth> = new Map();
  #uploads: readonly Upload[] = [];
  #leader: string | undefined;
  #lastHeard = 0;

  constructor() {
    super();
    this.#channel.onmessage = (event: MessageEvent<Message>) => this.#onMessage(event.data);
    this.#watchdog = setInterval(() => {
      if (this.#leader && Date.now() - this.#lastHeard > LEADER_TIMEOUT_MS) this.#leaderGone();
    }, HEARTBEAT_MS);
    this.#channel.postMessage({ type: 'hello' } satisfies Message);
  }

  snapshot(): NodeSnapshot | undefined {
    return this.#snapshot;
  }

  replicas(): ReadonlyMap<string, ReplicaHealth> {
    return this.#replicas;
  }

  uploads(): readonly Upload[] {
    return this.#uploads;
  }

  fetch(
    input: string,
    options: PeerFetchOptions & { findForMs?: number } = {},
  ): Promise<StoredManifest> {
    const hash = parseContentHash(input);
    return this.#request(
      (id) => ({ type: 'fetch', id, hash, findForMs: options.findForMs }),
      options,
    ) as Promise<StoredManifest>;
  }

  openStream(hash: string, options: { signal?: AbortSignal } = {}): Promise<StoredManifest> {
    return this.#request(
      (id) => ({ type: 'open-stream', id, hash: parseContentHash(hash) }),
      options,
    ) as Promise<StoredManifest>;
  }

  async setWorkOffline(offline: boolean): Promise<void> {
    await this.#request((id) => ({ type: 'work-offline', id, offline }), {});
  }

  async ensurePieces(
    hash: string,
    pieces: PieceRef[],
    options: { signal?: AbortSignal } = {},
  ): Promise<void> {
    await this.#request(
      (id) => ({ type: 'ensure-pieces', id, hash: parseContentHash(hash), pieces }),
      options,
    );
  }

  /** Sends a request to the leader; resolves with its result, rejects with its error. */
  #request(
    message: (id: string) => Message,
    { signal, onProgress }: PeerFetchOptions,
  ): Promise<unknown> {
    const id = crypto.randomUUID();
    return new Promise<unknown>((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      signal?.addEventListener(
        'abort',
        () => {
          this.#channel.postMessage({ type: 'cancel', id } satisfies Message);
          this.#pending.delete(id);
          reject(signal.reason);
        },
        { once: true },
      );
      this.#pending.set(id, { leader: this.#leader, resolve, reject, onProgress });
      this.#channel.postMessage(message(id));
    });
  }

  /** Fails every fetch in flight (this tab is about to lead, or the leader went away). */
  close(): void {
    clearInterval(this.#watchdog);
    this.#leaderGone();
    this.#channel.close();
  }

  #leaderGone(): void {
    this.#leader = undefined;
    for (const [id, pending] of this.#pending) {
      this.#pending.delete(id);
      pending.reject(new LeaderGoneError());
    }
  }

  #onMessage(message: Message): void {
    if (message.type === 'snapshot') {
      if (this.#leader !== undefined && this.#leader !== message.leader) this.#leaderGone();
      this.#leader = message.leader;
      // Requests sent while no leader listened (it was starting) reached nobody: fail them
      // so that the caller sends them again, now to this leader.
      for (const [id, pending] of this.#pending) {
        if (pending.leader !== message.leader) {
          this.#pending.delete(id);
          pending.reject(new LeaderGoneError());
        }
      }
      this.#lastHeard = Date.now();
      this.#snapshot = message.snapshot;
      this.safeDispatchEvent('change');
      return;
    }
    if (message.type === 'replicas') {
      this.#replicas = new Map(message.replicas.map((h) => [h.hash, h]));
      this.safeDispatchEvent('change');
      return;
    }
    if (message.type === 'uploads') {
      this.#uploads = message.uploads;
      this.safeDispatchEvent('uploads');
      return;
    }
    if (message.type !== 'progress' && message.type !== 'done' && message.type !== 'failed') {
      return;
    }
    const pending = this.#pending.get(message.id);
    if (!pending) return;
    if (message.type === 'progress') {
      pending.onProgress?.(message.progress);
    } else if (message.type === 'done') {
      this.#pending.delete(message.id);
      pending.resolve(message.result);
    } else {
      this.#pending.delete(message.id);
      const error = new Error(message.message);
      error.name = message.name;
      pending.reject(error);
    }
  }
}
