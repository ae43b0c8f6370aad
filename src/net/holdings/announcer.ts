/**
 * Tells the doorways this peer is attached to which commons items it holds
 * (`/elohim/holdings/1.0.0`), so that each can provide them in the DHT as itself and pull them
 * through for peers elsewhere: browsers do not run kad-dht.
 *
 * Only whole items of reach `commons` that are not sealed: anyone may receive those, and the
 * doorway answers for them to anyone. Private, invited and local items are never named.
 *
 * Per doorway connection: the first message replaces what the doorway recorded for us
 * (`reset`), later ones carry the difference. A pass runs shortly after the store or the
 * connections change; a new connection (a reconnect) starts over with a reset.
 */
import type { Connection, Libp2p } from '@libp2p/interface';
import type { ContentChange, ContentHash, ContentStore } from '../../content/index.ts';
import { isSealed } from '../../reach/index.ts';
import {
  errorMessage,
  FrameReader,
  listen,
  logger,
  type TypedEventTarget,
  withTimeout,
  writeFrame,
} from '../../wire/index.ts';
import {
  decodeHoldingsAnswer,
  encodeHoldings,
  HOLDINGS_PROTOCOL,
  type HoldingsUpdate,
  MAX_HASHES_PER_MESSAGE,
  MAX_HOLDINGS_ANSWER_BYTES,
} from './codec.ts';
import { HoldingsRefusedError } from './errors.ts';

const log = logger('net:holdings');

/** Items named to one doorway at most (the newest): a doorway records no more per peer. */
export const MAX_ANNOUNCED = 10_000;
/** After a request failed in transit (not a refusal), the next try. */
const RETRY_MS = 5_000;

/** The part of `PeerNode` the announcer needs. */
export interface HoldingsNode extends TypedEventTarget<{ change: CustomEvent<void> }> {
  readonly libp2p: Libp2p;
  connectedDoorways(): string[];
}

export interface HoldingsAnnouncerOptions {
  /** Wait after a change before a pass (changes in a burst make one pass). Default 200 ms. */
  delayMs?: number;
  /** Per message: open, send, answer. Default 10 s. */
  timeoutMs?: number;
  /** Items named at most. Default {@link MAX_ANNOUNCED}. */
  max?: number;
}

interface Told {
  /** The connection it was told over: another one (a reconnect) starts over. */
  connectionId: string;
  hashes: Set<ContentHash>;
  /** Nothing sent on this connection yet: the next message is a reset. */
  fresh: boolean;
  /**
   * The doorway does not speak the protocol (an older one) or refused us (it saw a relayed
   * connection, or takes us for a doorway): not asked again on this connection.
   */
  unsupported: boolean;
}

export class HoldingsAnnouncer {
  readonly #told = new Map<string, Told>();
  readonly #stop = new AbortController();
  readonly #delayMs: number;
  readonly #timeoutMs: number;
  readonly #max: number;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #running: Promise<void> | undefined;
  #again = false;
  /** The store changed since the last pass listed it (at first: never listed). */
  #storeChanged = true;

  constructor(
    private readonly node: HoldingsNode,
    private readonly store: ContentStore,
    options: HoldingsAnnouncerOptions = {},
  ) {
    this.#delayMs = options.delayMs ?? 200;
    this.#timeoutMs = options.timeoutMs ?? 10_000;
    this.#max = options.max ?? MAX_ANNOUNCED;
    const signal = this.#stop.signal;
    const offNode = listen(node, 'change', () => this.schedule());
    const offStore = listen<ContentChange>(store, 'change', ({ kind }) => {
      if (kind !== 'added' && kind !== 'removed') return;
      this.#storeChanged = true;
      this.schedule();
    });
    signal.addEventListener('abort', () => {
      offNode();
      offStore();
    });
    this.schedule();
  }

  /** A pass soon (the store or the connections changed), or after `delayMs`. */
  schedule(delayMs = this.#delayMs): void {
    if (this.#stop.signal.aborted || this.#timer) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.#run();
    }, delayMs);
    (this.#timer as { unref?: () => void }).unref?.();
  }

  /** Resolves when no pass runs (tests; a pass started meanwhile is waited for too). */
  async settled(): Promise<void> {
    while (this.#running) await this.#running;
  }

  stop(): void {
    this.#stop.abort();
    clearTimeout(this.#timer);
    this.#told.clear();
  }

  async #run(): Promise<void> {
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = (async () => {
      do {
        this.#again = false;
        try {
          await this.#pass();
        } catch (error) {
          if (!this.#stop.signal.aborted) log.error('telling the doorways what is held: %e', error);
        }
      } while (this.#again && !this.#stop.signal.aborted);
    })();
    await this.#running;
    this.#running = undefined;
  }

  async #pass(): Promise<void> {
    const doorways = this.node.connectedDoorways();
    for (const peer of this.#told.keys()) if (!doorways.includes(peer)) this.#told.delete(peer);
    if (doorways.length === 0) return;
    // Nothing to tell unless the store changed or a doorway has not heard from us on its
    // connection (connection events come often; listing the store is not free).
    const heard = (peer: string) => {
      const told = this.#told.get(peer);
      return (
        told !== undefined &&
        this.#connectionTo(peer)?.id === told.connectionId &&
        (told.unsupported || !told.fresh)
      );
    };
    if (!this.#storeChanged && doorways.every(heard)) return;
    this.#storeChanged = false;
    const current = await this.#commons();
    for (const peer of doorways) {
      if (this.#stop.signal.aborted) return;
      await this.#tell(peer, current);
    }
  }

  /** The commons items held, newest first, at most `max`. */
  async #commons(): Promise<Set<ContentHash>> {
    const held = new Set<ContentHash>();
    for (const m of await this.store.list()) {
      if (held.size >= this.#max) break;
      if (m.reach === 'commons' && !isSealed(m)) held.add(m.blob_hash as ContentHash);
    }
    return held;
  }

  #connectionTo(peer: string): Connection | undefined {
    return this.node.libp2p
      .getConnections()
      .find((c) => c.remotePeer.toString() === peer && c.status === 'open' && c.limits == null);
  }

  async #tell(peer: string, current: Set<ContentHash>): Promise<void> {
    const connection = this.#connectionTo(peer);
    if (!connection) return;
    let told = this.#told.get(peer);
    if (!told || told.connectionId !== connection.id) {
      told = { connectionId: connection.id, hashes: new Set(), fresh: true, unsupported: false };
      this.#told.set(peer, told);
    }
    if (told.unsupported) return;
    const removed = [...told.hashes].filter((h) => !current.has(h));
    const added = [...current].filter((h) => !told.hashes.has(h));
    if (!told.fresh && removed.length === 0 && added.length === 0) return;
    const changes = [
      ...removed.map((h) => ({ h, add: false })),
      ...added.map((h) => ({ h, add: true })),
    ];
    try {
      // A fresh connection gets a reset even when nothing is held: the doorway starts clean.
      do {
        const batch = changes.splice(0, MAX_HASHES_PER_MESSAGE);
        const update: HoldingsUpdate = {
          reset: told.fresh,
          added: batch.filter((c) => c.add).map((c) => c.h),
          removed: batch.filter((c) => !c.add).map((c) => c.h),
        };
        await this.#send(connection, update);
        if (told.fresh) told.hashes.clear();
        told.fresh = false;
        for (const c of batch) {
          if (c.add) told.hashes.add(c.h);
          else told.hashes.delete(c.h);
        }
      } while (changes.length > 0);
    } catch (error) {
      if (this.#stop.signal.aborted) return;
      if (
        error instanceof HoldingsRefusedError ||
        (error as Error)?.name === 'UnsupportedProtocolError'
      ) {
        told.unsupported = true;
        log('%s takes no holdings from us on this connection: %s', peer, errorMessage(error));
        return;
      }
      // Told in part: a pass a little later starts over on this connection with a reset.
      this.#told.delete(peer);
      log('telling %s what is held failed: %s', peer, errorMessage(error));
      this.schedule(RETRY_MS);
    }
  }

  async #send(connection: Connection, update: HoldingsUpdate): Promise<void> {
    const signal = withTimeout(this.#stop.signal, this.#timeoutMs);
    const stream = await connection.newStream(HOLDINGS_PROTOCOL, { signal });
    const reader = new FrameReader(stream);
    try {
      await writeFrame(stream, encodeHoldings(update), { signal });
      await stream.close({ signal });
      const frame = await reader.read({
        maxFrameBytes: MAX_HOLDINGS_ANSWER_BYTES,
        timeoutMs: this.#timeoutMs,
        signal,
      });
      if (frame === undefined) {
        throw new HoldingsRefusedError(connection.remotePeer.toString(), 'no answer');
      }
      const answer = decodeHoldingsAnswer(frame);
      if (answer.type === 'Error') {
        throw new HoldingsRefusedError(connection.remotePeer.toString(), answer.message);
      }
      if (answer.dropped > 0) {
        log(
          '%s recorded %d of ours, not %d more (its caps)',
          connection.remotePeer,
          answer.held,
          answer.dropped,
        );
      }
    } catch (error) {
      stream.abort(error instanceof Error ? error : new Error(String(error)));
      throw error;
    } finally {
      reader.dispose();
    }
  }
}
