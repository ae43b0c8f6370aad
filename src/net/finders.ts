/**
 * Composing holder finders so that the cheap one answers first. Asking the peers at hand
 * (`connectedPeersFinder`: one `Holds` round trip each) takes milliseconds; the trust layer's
 * listing (a request to the doorway, then dials) can take far longer, and a seek waits for the
 * finder before it asks for its first piece.
 */
import type { PeerId } from '@libp2p/interface';
import type { HolderFinder } from './fetch.ts';

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
 * Asks `near` and `far` at once. When `near` finds holders it answers with them at once,
 * without waiting for `far`; what `far` finds is remembered for a while and joins the next
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
      if (nearAnswer.ok && nearAnswer.peers.length > 0) {
        return union(nearAnswer.peers, recall(hash));
      }
      const farAnswered = await farAnswer;
      if (signal.aborted) throw signal.reason;
      if (!nearAnswer.ok && !farAnswered.ok) throw nearAnswer.error;
      return union(nearAnswer.ok ? nearAnswer.peers : [], farAnswered.ok ? farAnswered.peers : []);
    },
  };
}
