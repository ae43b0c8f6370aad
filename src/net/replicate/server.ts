/**
 * Receiving replicas: the `/elohim/replicate/1.0.0` handler. One Offer per stream; the
 * answers go back on the same stream, which stays open while this peer pulls the blob from
 * the offerer over `/elohim/pieces/1.0.0` (every piece verified as it arrives, the whole blob
 * and every shard verified before the manifest is committed).
 *
 * Nothing is ever half-stored: the pull is a store import, aborted (pieces and pending record
 * deleted) on any failure, on quota, when the offerer goes away and when the server stops.
 *
 * A libp2p-style service: `replicateServer(init)` returns the factory libp2p (or
 * {@link registerReplicateProtocol}) calls with the node's components; `start()` registers
 * the handler, `stop()` removes it and aborts the pulls in progress.
 */
import type {
  Connection,
  PeerId,
  Startable,
  Stream,
  StreamHandlerOptions,
} from '@libp2p/interface';
import type {
  ContentHash,
  ContentStore,
  ImportSession,
  ShardImportSession,
  StoredManifest,
} from '../../content/index.ts';
import { StorageQuotaError } from '../../content/index.ts';
import type { Decision } from '../../reach/index.ts';
import {
  errorMessage,
  FrameReader,
  logger,
  WireProtocolError,
  writeFrame,
} from '../../wire/index.ts';
import { type FetchNode, findManifest } from '../fetch.ts';
import { PieceScheduler } from '../piece-scheduler.ts';
import { type Libp2pDialLike, type Libp2pHandleLike, PIECES_PROTOCOL } from '../shard/index.ts';
import {
  decodeOffer,
  encodeAnswer,
  MAX_OFFER_FRAME_BYTES,
  REPLICATE_PROTOCOL,
  type ReplicaOffer,
  type ReplicateAnswer,
} from './codec.ts';
import { OfferMismatchError, OfferWithdrawnError, ReplicateError } from './errors.ts';
import {
  commonsOnly,
  type HoldGate,
  overBudget,
  type SpaceBudget,
  storageEstimate,
  toDecision,
} from './policy.ts';

const GiB = 1024 * 1024 * 1024;
/** At most one Progress frame per this many ms: liveness for the offerer, not a byte counter. */
const PROGRESS_INTERVAL_MS = 500;
/** How long a peer that was sent an Error may take to finish its side before it is reset. */
const ERROR_LINGER_MS = 5_000;

/** What this peer takes as a replica. Every check runs before `Accepted`, so no byte moves. */
export interface ReplicaPolicy {
  /** Whether this device takes replicas right now (user setting, battery, metered link). Default: yes. */
  willing?: () => boolean;
  /** Largest blob taken. Default 1 GiB. */
  maxBytes?: number;
  /** Whether this device may and will hold the item (reach, owner, who offers). Default: commons only. */
  mayHold?: HoldGate;
  /** Bytes this device can still store; default `navigator.storage.estimate()` when there is one. */
  spaceLeft?: () => Promise<number | undefined>;
  /**
   * Why taking `bytes` of this offer would not fit what this device gives others, or undefined
   * when it fits. Given, it replaces the check against `maxBytes` and `spaceLeft` (so a policy
   * that also bounds each author's share reads what is kept once per offer).
   */
  overBudget?: (offer: ReplicaOffer, bytes: number) => Promise<string | undefined>;
  /**
   * Whether the offer is a copy of the person's own item from one of their own devices: taken
   * even while this device keeps nothing for others, within the space it has left (not the
   * cap on what is kept for others), and stored as the person's own, in their library.
   */
  ownCopy?: (offer: ReplicaOffer, from: PeerId) => boolean;
}

export interface ReplicateServerOptions {
  policy?: ReplicaPolicy;
  /**
   * Called once per blob newly stored whole through an offer (not when it was already held),
   * after the commit and before `Stored` is sent; not awaited. Announce the location here.
   * Shards taken through `OfferShard` show as the store's `held` change event instead.
   */
  onStored?: (manifest: StoredManifest, from: PeerId) => void | Promise<void>;
  /** Pulls at once; further offers are declined as busy. Default 2. */
  maxConcurrentPulls?: number;
  /** Time allowed for the Offer to arrive and for each answer to be sent. Default 30 s. */
  timeoutMs?: number;
  /** Per-piece (and manifest) timeout of the pull. Default 20 s. */
  pieceTimeoutMs?: number;
  /** Passed to the registrar's `handle` (e.g. `maxInboundStreams`). */
  handlerOptions?: StreamHandlerOptions;
  /** Diagnostics, besides the `elohim:replicate` log (default: nothing). */
  onError?: (error: unknown, ctx: { peer: string; protocol: string }) => void;
}

/** What the server stores accepted offers into, and how it decides. */
export interface ReplicateServerInit extends ReplicateServerOptions {
  store: ContentStore;
}

/**
 * What the server needs of the node: libp2p passes its components to a service factory. The
 * pull dials the offerer through `connectionManager`.
 */
export interface ReplicateServerComponents {
  registrar: Libp2pHandleLike;
  connectionManager: {
    openConnection(...args: Parameters<Libp2pDialLike['dial']>): ReturnType<Libp2pDialLike['dial']>;
  };
}

export interface ReplicateServer extends Startable {
  readonly protocols: readonly string[];
  /** Registers the handler. */
  start(): Promise<void>;
  /** Unregisters the protocol and aborts the pulls in progress (their imports are discarded). */
  stop(): Promise<void>;
  isStarted(): boolean;
}

const log = logger('replicate');

/** Bytes an offer would take here: the blob, or one rs-4-7 shard of it. */
function offeredBytes(offer: ReplicaOffer): number {
  return offer.shard === undefined ? offer.totalSize : Math.ceil(offer.totalSize / 4);
}

/**
 * `/elohim/replicate/1.0.0` as a libp2p service, storing accepted offers into `init.store`:
 * `services: { replicate: replicateServer({ store }) }`. The node must also be able to dial
 * the offerer (the pull goes over its `/elohim/pieces/1.0.0`).
 */
export function replicateServer(
  init: ReplicateServerInit,
): (components: ReplicateServerComponents) => ReplicateServer {
  return ({ registrar, connectionManager }) =>
    createReplicateServer(
      registrar,
      { dial: (peer, options) => connectionManager.openConnection(peer, options) },
      init,
    );
}

/** Starts a {@link replicateServer} on a libp2p node created without it. */
export async function registerReplicateProtocol(
  libp2p: Libp2pHandleLike & Libp2pDialLike,
  store: ContentStore,
  options: ReplicateServerOptions = {},
): Promise<ReplicateServer> {
  const server = replicateServer({ ...options, store })({
    registrar: libp2p,
    connectionManager: { openConnection: (peer, o) => libp2p.dial(peer, o) },
  });
  await server.start();
  return server;
}

function createReplicateServer(
  registrar: Libp2pHandleLike,
  libp2p: Libp2pDialLike,
  init: ReplicateServerInit,
): ReplicateServer {
  const { store, ...options } = init;
  const policy = options.policy ?? {};
  const budget: SpaceBudget = {
    maxBytes: policy.maxBytes ?? GiB,
    spaceLeft: policy.spaceLeft ?? storageEstimate,
  };
  const mayHold: HoldGate = policy.mayHold ?? ((offer) => commonsOnly(offer.reach, 'hold'));
  const timeoutMs = options.timeoutMs ?? 30_000;
  const pieceTimeoutMs = options.pieceTimeoutMs ?? 20_000;
  const maxPulls = options.maxConcurrentPulls ?? 2;
  // Only `libp2p` is used by the pull; directness matters for progress displays only.
  const node: FetchNode = { libp2p, isDirectPeer: () => false };
  const pulling = new Set<ContentHash>();
  const handlers = new Set<Promise<void>>();
  /** One per stream being served: `stop` aborts them all. */
  const cancels = new Set<AbortController>();

  const report = (e: unknown, peer: string) => {
    log.error('%s from %s: %e', REPLICATE_PROTOCOL, peer, e);
    try {
      options.onError?.(e, { peer, protocol: REPLICATE_PROTOCOL });
    } catch {}
  };

  /** Why this offer is declined, or undefined to accept it. */
  const declineReason = async (
    offer: ReplicaOffer,
    from: PeerId,
    own: boolean,
  ): Promise<string | undefined> => {
    if (!own && policy.willing && !policy.willing()) {
      return 'unwilling: this peer is not taking replicas now';
    }
    let hold: Decision;
    try {
      hold = toDecision(await mayHold(offer, from), 'the hold policy');
    } catch (e) {
      report(e, from.toString());
      hold = { allow: false, reason: `the hold policy failed: ${errorMessage(e)}` };
    }
    if (!hold.allow) return `reach: ${hold.reason}`;
    const bytes = offeredBytes(offer);
    const tooMuch =
      policy.overBudget && !own
        ? await policy.overBudget(offer, bytes)
        : await overBudget(bytes, budget);
    if (tooMuch !== undefined) return tooMuch;
    if (pulling.has(offer.hash)) return 'busy: this peer is already receiving it';
    if (pulling.size >= maxPulls)
      return `busy: this peer is already receiving ${pulling.size} item(s)`;
    return undefined;
  };

  /**
   * Pulls the offered blob (or shard) from `from` into the store; on any failure nothing is
   * kept. Resolves with the manifest of a blob stored whole.
   */
  const pull = async (
    offer: ReplicaOffer,
    from: PeerId,
    own: boolean,
    signal: AbortSignal,
    onBytes: (bytes: number) => void,
  ): Promise<StoredManifest | undefined> => {
    const peer = from.toString();
    let lastFailure: unknown;
    const remember = (_peer: string, e: unknown) => {
      lastFailure = e;
    };
    const manifest = await findManifest(node, [from], offer.hash, signal, pieceTimeoutMs, remember);
    if (!manifest) {
      throw new ReplicateError(
        `Could not get the manifest of ${offer.hash} from the offering peer (${errorMessage(lastFailure)}). ` +
          `The offerer must serve ${PIECES_PROTOCOL} to the peers it offers to.`,
      );
    }
    const mismatch = [
      manifest.total_size !== offer.totalSize &&
        `total_size ${manifest.total_size}, not the offered ${offer.totalSize}`,
      manifest.reach !== offer.reach && `reach ${manifest.reach}, not the offered ${offer.reach}`,
      (manifest.author_id ?? null) !== offer.owner &&
        `author_id ${manifest.author_id ?? 'none'}, not the offered owner ${offer.owner ?? 'none'}`,
      offer.shard !== undefined &&
        manifest.encoding !== 'rs-4-7' &&
        `encoding ${manifest.encoding}: only rs-4-7 blobs are offered by shard`,
      offer.shard !== undefined &&
        offer.shard >= manifest.total_shards &&
        `shard ${offer.shard}, but the blob has ${manifest.total_shards}`,
    ].filter((d): d is string => typeof d === 'string');
    if (mismatch.length > 0) throw new OfferMismatchError(peer, offer.hash, mismatch.join('; '));

    // A shard offer is for that shard: never another one in its place.
    const fill = async (session: ImportSession | ShardImportSession) => {
      if (session.complete) return;
      let bytes = 0;
      const scheduler = new PieceScheduler(
        session,
        session.needed,
        node,
        signal,
        { timeoutMs: pieceTimeoutMs, substitute: offer.shard === undefined },
        {
          joined: () => {},
          state: () => {},
          bytes: (_peer, n) => {
            bytes += n;
            onBytes(bytes);
          },
          // The only holder is the offerer: its failure (or a quota error while writing) ends the pull.
          dropped: remember,
        },
      );
      await scheduler.run([from], async () => []);
      if (!session.complete) {
        throw lastFailure ?? new ReplicateError(`The pull of ${offer.hash} ended early.`);
      }
    };
    if (offer.shard !== undefined) {
      const session = await store.beginShardImport(manifest, [offer.shard], { signal });
      try {
        await fill(session);
        await session.commit({ signal });
        return undefined;
      } catch (e) {
        await session.abort();
        throw e;
      }
    }
    // Kept for the peer that asked, apart from the person's own library; a copy of the
    // person's own item from their own device is theirs.
    const session = await store.beginImport(manifest, {
      signal,
      ...(own ? {} : { keptFor: peer }),
    });
    try {
      await fill(session);
      return await session.commit({ signal });
    } catch (e) {
      await session.abort();
      throw e;
    }
  };

  /** Already held: the whole blob, or (for a shard offer) that shard; another shard is a refusal. */
  const alreadyHeld = async (offer: ReplicaOffer): Promise<ReplicateAnswer | undefined> => {
    if (await store.has(offer.hash)) return { type: 'Stored', hash: offer.hash };
    if (offer.shard === undefined) return undefined;
    const held = (await store.holding(offer.hash))?.shards.map((s) => s.index) ?? [];
    if (held.includes(offer.shard)) return { type: 'Stored', hash: offer.hash };
    if (held.length > 0) {
      return {
        type: 'Declined',
        reason: `distinct: this peer keeps shard ${held.join(', ')} of it already; each shard goes to another peer`,
      };
    }
    return undefined;
  };

  /** The final answer to an offer; `send` delivers the intermediate ones. */
  const receive = async (
    offer: ReplicaOffer,
    from: PeerId,
    send: (answer: ReplicateAnswer) => Promise<void>,
    signal: AbortSignal,
  ): Promise<ReplicateAnswer> => {
    const held = await alreadyHeld(offer);
    if (held) return held;
    const own = policy.ownCopy?.(offer, from) === true;
    const reason = await declineReason(offer, from, own);
    if (reason !== undefined) return { type: 'Declined', reason };
    pulling.add(offer.hash);
    try {
      await send({ type: 'Accepted' });
      let lastProgress = Date.now();
      const manifest = await pull(offer, from, own, signal, (bytes) => {
        const now = Date.now();
        if (now - lastProgress < PROGRESS_INTERVAL_MS) return;
        lastProgress = now;
        send({ type: 'Progress', bytes }).catch(() => {});
      });
      if (manifest) {
        Promise.resolve()
          .then(() => options.onStored?.(manifest, from))
          .catch((e: unknown) => report(e, from.toString()));
      }
      return { type: 'Stored', hash: offer.hash };
    } catch (e) {
      // Gone: nobody to answer. Stopping: the offerer hears why.
      if (signal.reason instanceof OfferWithdrawnError) throw signal.reason;
      if (e instanceof StorageQuotaError) {
        return {
          type: 'Declined',
          reason: `quota: this peer ran out of storage while receiving ${offer.hash}; nothing of it was kept`,
        };
      }
      return { type: 'Error', message: errorMessage(signal.aborted ? signal.reason : e) };
    } finally {
      pulling.delete(offer.hash);
    }
  };

  const serve = async (stream: Stream, connection: Connection) => {
    const from = connection.remotePeer;
    const peer = from.toString();
    const reader = new FrameReader(stream);
    // Answers are written one after another: a Progress frame never interleaves with another.
    let queue: Promise<void> = Promise.resolve();
    const send = (answer: ReplicateAnswer) => {
      const sent = queue.then(() => writeFrame(stream, encodeAnswer(answer), { timeoutMs }));
      queue = sent.catch(() => {});
      return sent;
    };
    let offered: ReplicaOffer | undefined;
    let done = false;
    const cancel = new AbortController();
    const onGone = () => {
      if (!done) cancel.abort(new OfferWithdrawnError(peer, offered?.hash ?? 'the offered item'));
    };
    stream.addEventListener('close', onGone);
    cancels.add(cancel);
    try {
      const payload = await reader.read({ maxFrameBytes: MAX_OFFER_FRAME_BYTES, timeoutMs });
      if (payload !== undefined) {
        offered = decodeOffer(payload);
        const answer = await receive(offered, from, send, cancel.signal);
        await send(answer);
      }
      done = true;
      await stream.close({ signal: AbortSignal.timeout(timeoutMs) });
    } catch (e) {
      done = true;
      report(e, peer);
      if (e instanceof WireProtocolError && stream.writeStatus === 'writable') {
        // A malformed or oversized Offer: say so, let the peer finish sending, then close.
        try {
          reader.discardRest();
          await send({ type: 'Error', message: errorMessage(e) });
          await stream.close({ signal: AbortSignal.timeout(timeoutMs) });
          if (await reader.waitEnd(Math.min(timeoutMs, ERROR_LINGER_MS))) return;
        } catch {}
      }
      stream.abort(e instanceof Error ? e : new Error(String(e)));
    } finally {
      stream.removeEventListener('close', onGone);
      cancels.delete(cancel);
      reader.dispose();
    }
  };

  const handler = (stream: Stream, connection: Connection) => {
    const running = serve(stream, connection);
    handlers.add(running);
    return running.finally(() => handlers.delete(running));
  };

  let started = false;
  return {
    protocols: [REPLICATE_PROTOCOL],
    async start() {
      if (started) return;
      await registrar.handle(REPLICATE_PROTOCOL, handler, options.handlerOptions);
      started = true;
    },
    async stop() {
      if (!started) return;
      started = false;
      await registrar.unhandle(REPLICATE_PROTOCOL);
      const reason = new ReplicateError('This peer is shutting down; offer it again later.');
      for (const cancel of cancels) cancel.abort(reason);
      await Promise.allSettled([...handlers]);
    },
    isStarted: () => started,
  };
}
