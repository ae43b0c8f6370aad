/**
 * Spreading a stored blob: offer it to candidate peers, in order, until `copies` of them have
 * stored it. Each accepting peer pulls the blob from us over `/elohim/pieces/1.0.0`, so this
 * node must serve the piece protocol (`shardServer`) to the peers it offers to; its
 * delivery gate will let them in, since a peer the replication gate allows is in the item's
 * audience (`mayReplicateTo` implies `mayDeliver`).
 */
import type { PeerId, Stream } from '@libp2p/interface';
import type { ContentStore } from '../../content/index.ts';
import { parseContentHash } from '../../content/index.ts';
import {
  errorMessage,
  FrameReader,
  WireStreamClosedError,
  WireTimeoutError,
  writeFrame,
} from '../../wire/index.ts';
import type { Libp2pDialLike } from '../shard/index.ts';
import {
  decodeAnswer,
  encodeOffer,
  MAX_ANSWER_FRAME_BYTES,
  REPLICATE_PROTOCOL,
  type ReplicaOffer,
  type ReplicateAnswer,
} from './codec.ts';
import { NotHeldError, ReplicaUnconfirmedError } from './errors.ts';
import { commonsOnly, type ReplicationGate, toDecision } from './policy.ts';

/**
 * - `refused`: our gate said no; the peer was sent nothing (not even dialled).
 * - `offered`: waiting for its answer. `pulling`: it accepted and is copying from us.
 * - `stored`: it confirmed the blob is stored. `declined`: it said no (reason from it).
 * - `failed`: error, timeout, or it went away before confirming.
 */
export type ReplicaState = 'refused' | 'offered' | 'pulling' | 'stored' | 'declined' | 'failed';

export interface ReplicaPeer {
  peer: string;
  state: ReplicaState;
  /** Verified bytes the peer reported storing so far. */
  bytes: number;
  reason?: string;
}

export interface ReplicateReport {
  hash: string;
  /** Copies asked for. */
  wanted: number;
  /** Peers that confirmed storing it, in the order they did. */
  stored: string[];
  /** Every candidate looked at, in order (candidates not needed are not listed). */
  peers: ReplicaPeer[];
}

export interface ReplicateOptions {
  /** Peers that must store it. Default 2. */
  copies?: number;
  /**
   * May this peer hold the item? Refused peers are skipped and sent nothing. Default: any peer
   * for commons, none otherwise (pass `replicationGate(item, trust)`).
   */
  gate?: ReplicationGate;
  signal?: AbortSignal;
  /** Called on every change of any peer's state. */
  onProgress?: (progress: ReplicateReport) => void;
  /** Time for the dial and the first answer to an Offer. Default 15 s. */
  offerTimeoutMs?: number;
  /** Time allowed between answers once a peer accepted (it sends Progress while pulling). Default 60 s. */
  idleTimeoutMs?: number;
  /**
   * Offer this one shard of an rs-4-7 blob instead of the whole blob (`OfferShard`): each
   * receiver keeps only that shard. This device must hold the blob or that shard.
   */
  shard?: number;
}

/** How an offer ends, as the receiver says it. */
type FinalAnswer = Extract<ReplicateAnswer, { type: 'Stored' | 'Declined' | 'Error' }>;

/**
 * Offers `hash` to `candidates` in order until `copies` peers stored it. Up to `copies`
 * offers run at once, but never more than the copies still missing, so no more copies are
 * made than asked for. Resolves with every peer's outcome even when too few stored it
 * (`report.stored.length < copies`: try again when more peers are online); rejects with
 * `NotHeldError` when this device does not hold the blob (or the shard offered), or the
 * signal's reason on abort.
 */
export async function replicate(
  libp2p: Libp2pDialLike,
  store: ContentStore,
  hash: string,
  candidates: readonly PeerId[],
  options: ReplicateOptions = {},
): Promise<ReplicateReport> {
  const h = parseContentHash(hash);
  const copies = options.copies ?? 2;
  if (!Number.isSafeInteger(copies) || copies < 1) {
    throw new RangeError(`copies must be a positive integer, got ${copies}.`);
  }
  const signal = options.signal ?? new AbortController().signal;
  signal.throwIfAborted();
  const { shard } = options;
  const whole = await store.manifest(h);
  const holding = whole ? undefined : await store.holding(h);
  const manifest = whole ?? holding?.manifest;
  if (!manifest) throw new NotHeldError(h);
  if (shard !== undefined) {
    if (manifest.encoding !== 'rs-4-7') {
      throw new RangeError(`${h} is ${manifest.encoding}: only rs-4-7 blobs are offered by shard.`);
    }
    if (holding && !holding.shards.some((s) => s.index === shard)) throw new NotHeldError(h, shard);
  } else if (!whole) throw new NotHeldError(h);
  const offer: ReplicaOffer = {
    hash: h,
    reach: manifest.reach,
    owner: manifest.author_id ?? null,
    totalSize: manifest.total_size,
    ...(shard !== undefined ? { shard } : {}),
  };
  const offeredBytes = shard === undefined ? manifest.total_size : manifest.shard_size;
  const gate: ReplicationGate = options.gate ?? (() => commonsOnly(manifest.reach, 'send'));

  const report: ReplicateReport = { hash: h, wanted: copies, stored: [], peers: [] };
  const progress = () =>
    options.onProgress?.({
      ...report,
      stored: [...report.stored],
      peers: report.peers.map((p) => ({ ...p })),
    });
  const unique = new Map(candidates.map((p) => [p.toString(), p]));
  const queue = [...unique.values()];
  let inFlight = 0;

  const offerNext = async (peer: PeerId): Promise<void> => {
    const entry: ReplicaPeer = { peer: peer.toString(), state: 'offered', bytes: 0 };
    report.peers.push(entry);
    let decision: ReturnType<typeof toDecision>;
    try {
      decision = toDecision(await gate(peer), 'the replication gate');
    } catch (e) {
      decision = { allow: false, reason: `the replication gate failed: ${errorMessage(e)}` };
    }
    if (!decision.allow) {
      Object.assign(entry, { state: 'refused', reason: decision.reason });
      progress();
      return;
    }
    progress();
    try {
      const answer = await offerTo(libp2p, peer, offer, signal, options, (a) => {
        if (a.type === 'Accepted') entry.state = 'pulling';
        if (a.type === 'Progress') entry.bytes = a.bytes;
        progress();
      });
      if (answer.type === 'Stored') {
        Object.assign(entry, { state: 'stored', bytes: offeredBytes });
        report.stored.push(entry.peer);
      } else if (answer.type === 'Declined') {
        Object.assign(entry, { state: 'declined', reason: answer.reason });
      } else {
        Object.assign(entry, { state: 'failed', reason: `it reported: ${answer.message}` });
      }
    } catch (e) {
      if (signal.aborted) throw signal.reason;
      Object.assign(entry, { state: 'failed', reason: errorMessage(e) });
    }
    progress();
  };

  const worker = async () => {
    while (report.stored.length + inFlight < copies) {
      const peer = queue.shift();
      if (!peer) return;
      inFlight++;
      try {
        await offerNext(peer);
      } finally {
        inFlight--;
      }
    }
  };
  await Promise.all(Array.from({ length: copies }, worker));
  return report;
}

/**
 * One Offer on one stream: its final answer (`Stored`, `Declined` or `Error`); intermediate
 * answers go to `onAnswer`. Throws on timeout, a malformed answer, or a peer that goes away.
 */
async function offerTo(
  libp2p: Libp2pDialLike,
  peer: PeerId,
  offer: ReplicaOffer,
  signal: AbortSignal,
  options: ReplicateOptions,
  onAnswer: (answer: ReplicateAnswer) => void,
): Promise<FinalAnswer> {
  const id = peer.toString();
  const ac = new AbortController();
  const onAbort = () => ac.abort(signal.reason);
  signal.addEventListener('abort', onAbort, { once: true });
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expectWithin = (ms: number, what: string) => {
    clearTimeout(timer);
    timer = setTimeout(() => ac.abort(new WireTimeoutError(what, ms)), ms);
  };
  expectWithin(
    options.offerTimeoutMs ?? 15_000,
    `waiting for ${id} to answer the offer of ${offer.hash}`,
  );
  let stream: Stream | undefined;
  let reader: FrameReader | undefined;
  try {
    const connection = await libp2p.dial(peer, { signal: ac.signal });
    stream = await connection.newStream(REPLICATE_PROTOCOL, { signal: ac.signal });
    reader = new FrameReader(stream);
    await writeFrame(stream, encodeOffer(offer), { signal: ac.signal });
    await stream.close({ signal: ac.signal });
    for (;;) {
      const payload = await reader.read({
        maxFrameBytes: MAX_ANSWER_FRAME_BYTES,
        signal: ac.signal,
      });
      if (payload === undefined) {
        throw new ReplicaUnconfirmedError(id, offer.hash, 'it closed the stream');
      }
      const answer = decodeAnswer(payload);
      if (answer.type === 'Accepted' || answer.type === 'Progress') {
        onAnswer(answer);
        expectWithin(
          options.idleTimeoutMs ?? 60_000,
          `waiting for ${id} to make progress copying ${offer.hash}`,
        );
        continue;
      }
      if (answer.type === 'Stored' && answer.hash !== offer.hash) {
        throw new ReplicaUnconfirmedError(id, offer.hash, `it confirmed ${answer.hash} instead`);
      }
      return answer;
    }
  } catch (e) {
    stream?.abort(e instanceof Error ? e : new Error(String(e)));
    if (ac.signal.aborted) throw ac.signal.reason;
    if (e instanceof WireStreamClosedError) {
      throw new ReplicaUnconfirmedError(id, offer.hash, `the stream was reset: ${e.message}`);
    }
    throw e;
  } finally {
    clearTimeout(timer);
    signal.removeEventListener('abort', onAbort);
    reader?.dispose();
  }
}
