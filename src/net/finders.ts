/**
 * Holder finders: asking the connected peers (`connectedPeersFinder`), and composing finders
 * so that the cheap one answers first. Asking the peers at hand
 * (`connectedPeersFinder`: one `Holds` round trip each) takes milliseconds; the trust layer's
 * listing (a request to the doorway, then dials) can take far longer, and a seek waits for the
 * finder before it asks for its first piece.
 */
import type { PeerId } from '@libp2p/interface';
import { peerIdFromString } from '@libp2p/peer-id';
import { logger } from '../wire/index.ts';
import { type HolderFinder, namesNew } from './fetch.ts';
import { fetchHolding, type Libp2pDialLike } from './shard/index.ts';

const log = logger('net:find');

export interface NearFirstOptions {
  /** How long what `far` found joins the answers for that hash. Default 30 s. */
  rememberMs?: number;
  /** Hashes remembered at most (the oldest go first). Default 64. */
  maxRemembered?: number;
  /** The clock (tests). */
  now?: () => number;
}

type Settled = { ok: true; peers: PeerId[] } | { ok: false; error: unknown };

const settle = (answer: Promise<PeerId[]>): Promise<Settled> =>
  answer.then(
    (peers) => ({ ok: true, peers }),
    (error: unknown) => ({ ok: false, error }),
  );

/** Each peer once, in the order given. */
function union(...lists: PeerId[][]): PeerId[] {
  const peers = new Map<string, PeerId>();
  for (const peer of lists.flat())
    if (!peers.has(peer.toString())) peers.set(peer.toString(), peer);
  return [...peers.values()];
}

/**
 * Asks `near` and `far` at once. When `near` finds holders (other than the `known` ones) it
 * answers with them at once, without waiting for `far`; what `far` finds is remembered for a while and joins the next
 * answer for the same hash (a fetch asks its finder again every few seconds, so those holders
 * join it then). When `near` finds none, `far` is waited for. Fails only when both fail.
 */
export function nearFirst(
  near: HolderFinder,
  far: HolderFinder,
  options: NearFirstOptions = {},
): HolderFinder {
  const rememberMs = options.rememberMs ?? 30_000;
  const maxRemembered = options.maxRemembered ?? 64;
  const now = options.now ?? Date.now;
  const remembered = new Map<string, { peers: PeerId[]; until: number }>();

  const remember = (hash: string, peers: PeerId[]) => {
    remembered.delete(hash);
    if (peers.length === 0) return;
    remembered.set(hash, { peers, until: now() + rememberMs });
    for (const oldest of remembered.keys()) {
      if (remembered.size <= maxRemembered) break;
      remembered.delete(oldest);
    }
  };
  const recall = (hash: string): PeerId[] => {
    const entry = remembered.get(hash);
    if (entry && entry.until > now()) return entry.peers;
    remembered.delete(hash);
    return [];
  };

  return {
    async findHolders(hash, options) {
      const { signal } = options;
      const farAnswer = settle(
        far.findHolders(hash, options).then((peers) => {
          remember(hash, peers);
          return peers;
        }),
      );
      const nearAnswer = await settle(near.findHolders(hash, options));
      if (signal.aborted) throw signal.reason;
      if (nearAnswer.ok && namesNew(nearAnswer.peers, options.known)) {
        return union(nearAnswer.peers, recall(hash));
      }
      const farAnswered = await farAnswer;
      if (signal.aborted) throw signal.reason;
      if (!nearAnswer.ok && !farAnswered.ok) throw nearAnswer.error;
      return union(nearAnswer.ok ? nearAnswer.peers : [], farAnswered.ok ? farAnswered.peers : []);
    },
  };
}

/**
 * Once the connected browsers have answered and one peer said it holds the blob, how long the
 * doorways have to answer before the search answers without them: a slow one (asking around
 * for what it does not keep) must not hold up a transfer a connected holder can start now.
 * Browsers answer from their own store, so each of them is waited for (within the Holds
 * timeout): a holder left out would sit out the whole transfer. Late doorways join the fetch
 * when it asks again.
 */
const LATE_ANSWER_MS = 150;

/**
 * Asks each of `peers` (the connected ones: direct peers and doorways) whether it holds the blob, or shards of
 * it (`Holds` on the piece protocol). `isDoorway` tells doorways apart in what it reports, so
 * that a person reads "asked 2 peers and the doorway", not a doorway counted as a peer.
 */
export function connectedPeersFinder(
  peers: () => string[],
  libp2p: Libp2pDialLike,
  isDoorway: (peerId: string) => boolean = () => false,
): HolderFinder {
  return {
    async findHolders(hash, { signal, onSearch }) {
      const asked = peers();
      const began = Date.now();
      log('asking %d connected peers whether they hold %s', asked.length, hash);
      const found: PeerId[] = [];
      let doorwaysSaidNo = 0;
      const answers = asked.map(async (id) => {
        const peer = peerIdFromString(id);
        const held = await fetchHolding(libp2p, peer, hash, { signal, timeoutMs: 5_000 }).catch(
          (error: unknown) => {
            log('%s could not say whether it holds %s: %e', id, hash, error);
            return undefined;
          },
        );
        log('%s answered %s after %d ms', id, held ? 'holds' : 'no', Date.now() - began);
        if (!held) {
          if (isDoorway(id)) doorwaysSaidNo++;
          return;
        }
        found.push(peer);
      });
      const all = Promise.all(answers);
      const browsers = Promise.all(answers.filter((_, i) => !isDoorway(asked[i] as string)));
      let late: ReturnType<typeof setTimeout> | undefined;
      const enough = browsers.then(() =>
        found.length > 0
          ? new Promise<void>((resolve) => {
              late = setTimeout(resolve, LATE_ANSWER_MS);
            })
          : all.then(() => {}),
      );
      await Promise.race([all, enough]);
      clearTimeout(late);
      const holders = [...found];
      onSearch?.({
        source: 'peers',
        asked: asked.filter((id) => !isDoorway(id)),
        found: holders.length,
      });
      if (doorwaysSaidNo > 0 && doorwaysSaidNo === asked.filter(isDoorway).length) {
        onSearch?.({ source: 'doorway', status: 'none' });
      }
      return holders;
    },
  };
}
