/**
 * The words of a fetch in progress: what the search asked so far, how the transfer goes (the
 * current rate and the time left), and from whom. Pure, so that they are tested without a
 * browser; `FetchPanel` shows them.
 */
import type { FetchPeerProgress, FetchProgress, SearchProgress } from '../net/index.ts';
import { formatBytes, formatRate, formatTimeLeft, plural } from './format.ts';

const PHASES: FetchProgress['phase'][] = ['finding', 'manifest', 'pieces', 'verifying', 'done'];

/**
 * The progress to show after `next` arrives while `shown` is on screen. A transfer does not
 * step back: a late report of an earlier phase (or fewer bytes) keeps what is shown, so the
 * status does not flicker between "Verifying…" and the byte count. A new search (a fresh
 * attempt after every holder failed) starts over.
 */
export function steadyProgress(
  shown: FetchProgress | undefined,
  next: FetchProgress,
): FetchProgress {
  if (!shown || next.phase === 'finding') return next;
  const back = PHASES.indexOf(next.phase) < PHASES.indexOf(shown.phase);
  if (back) return { ...shown, peers: next.peers, ...(next.search ? { search: next.search } : {}) };
  return next.bytesDone < shown.bytesDone && next.phase === shown.phase
    ? { ...next, bytesDone: shown.bytesDone }
    : next;
}

/** "asked 3 peers and the trust layer": whom the search asked so far, or '' before any answer. */
export function askedSoFar(search: SearchProgress | undefined): string {
  if (!search) return '';
  const sources: string[] = [];
  if (search.peersAsked > 0) sources.push(plural(search.peersAsked, 'peer'));
  if (search.trust === 'answered') sources.push('the trust layer');
  if (search.doorway === 'none') sources.push('the doorway');
  if (sources.length === 0) return '';
  const last = sources.pop() as string;
  return `asked ${sources.length > 0 ? `${sources.join(', ')} and ${last}` : last}`;
}

/** The one status line of a running fetch. */
export function fetchStatusText(progress: FetchProgress | undefined): string {
  if (!progress || progress.phase === 'finding') {
    const search = progress?.search;
    if (search && search.holdersConnecting > 0) {
      const n = search.holdersConnecting;
      return `Looking for peers that hold it… ${plural(n, 'peer')} ${n === 1 ? 'has' : 'have'} it: connecting`;
    }
    const asked = askedSoFar(search);
    return `Looking for peers that hold it…${asked ? ` ${asked} so far` : ''}`;
  }
  if (progress.phase === 'manifest' || progress.totalBytes === 0) {
    return `Found ${plural(Math.max(1, progress.peers.length), 'peer')} that ${progress.peers.length > 1 ? 'hold' : 'holds'} it; starting…`;
  }
  if (progress.phase === 'verifying' || progress.phase === 'done') {
    return `${formatBytes(progress.totalBytes)} received · verifying…`;
  }
  const amount = `${formatBytes(progress.bytesDone)} of ${formatBytes(progress.totalBytes)}`;
  if (progress.rate <= 0) return `${amount} · starting…`;
  const left = formatTimeLeft(progress.secondsLeft);
  return `${amount} · ${formatRate(progress.rate)}${left ? ` · ${left}` : ''}`;
}

/** Who a peer of a fetch is, in plain words (the PeerId is in the details). */
export function peerLabel(peer: Pick<FetchPeerProgress, 'peerId'>): string {
  // The doorway's HTTP bridge reports its origin, not a PeerId.
  return /^https?:\/\//.test(peer.peerId) ? 'the doorway' : `a peer (…${peer.peerId.slice(-6)})`;
}

/** "from 2 peers, 1 direct": the sources in one phrase, for the status and screen readers. */
export function sourcesText(peers: readonly FetchPeerProgress[]): string {
  const live = peers.filter((p) => p.state !== 'dropped');
  if (live.length === 0) return '';
  const direct = live.filter((p) => p.direct).length;
  const how = direct === live.length ? 'direct' : direct === 0 ? 'relayed' : `${direct} direct`;
  return `from ${plural(live.length, 'peer')}, ${how}`;
}
