import { useEffect, useRef, useState } from 'react';
import { parseContentHash } from '../content/index.ts';
import type { FetchPeerProgress, FetchProgress, PeerService } from '../net/index.ts';
import { logger } from '../wire/index.ts';
import { fetchStatusText, peerLabel, sourcesText, steadyProgress } from './fetchStatus.ts';
import { errorMessage, formatBytes } from './format.ts';
import { contentUrl, downloadThroughWorker } from './serviceWorker.ts';
import { askToNotify, mayAskToNotify, noticeFetched } from './transferNotice.ts';
import type { PeerState } from './usePeerNode.ts';
import { addToLibrary } from './useSync.ts';

type FetchState =
  | { status: 'waiting' }
  | { status: 'running'; progress?: FetchProgress }
  | { status: 'done'; name: string; progress?: FetchProgress }
  | { status: 'failed'; error: string; progress?: FetchProgress }
  | { status: 'cancelled' };

/**
 * How long to keep looking while a holder is known but not reached yet. When every source
 * says nobody holds it, the search ends within a few seconds (`PeerService.fetch`).
 */
const FIND_DEADLINE_MS = 30_000;

const log = logger('library');

export type ShareLink =
  | { hash: string; name: string; meta: string | undefined }
  /** A `/get/` path that names no file (cut short, mistyped): nothing to look for. */
  | { damaged: string };

/**
 * A share link: `/get/sha256-<hex>?name=<file name>&meta=<document id>`. `meta` names the
 * item's shared metadata document, so whoever fetches it edits the same one. A hash that
 * cannot be one is said at once, not after a search that cannot succeed.
 */
export function parseShareLink(location: Location): ShareLink | undefined {
  const match = /^\/get(?:\/([^/]*))?\/?$/.exec(location.pathname);
  if (!match) return undefined;
  const params = new URLSearchParams(location.search);
  let hash: string;
  try {
    hash = parseContentHash(decodeURIComponent(match[1] ?? ''));
  } catch {
    return { damaged: params.get('name') ?? 'this file' };
  }
  return { hash, name: params.get('name') ?? hash, meta: params.get('meta') ?? undefined };
}

/** A share link that names no file: what happened and what to do, and no button that cannot work. */
export function DamagedLink({ name }: { name: string }) {
  return (
    <section className="panel fetch" aria-label="A damaged link" data-testid="fetch">
      <p className="fetch__eyebrow">Shared with you</p>
      <h2>This link is incomplete</h2>
      <p role="alert" className="error" data-testid="fetch-status">
        The link for {name} is cut short or mistyped, so it does not say which file to fetch. Ask
        whoever sent it to send the link again, or copy all of it.
      </p>
    </section>
  );
}

export function shareLink(hash: string, name?: string, meta?: string): string {
  const url = new URL(`/get/${hash}`, location.origin);
  if (name) url.searchParams.set('name', name);
  if (meta) url.searchParams.set('meta', meta);
  return url.toString();
}

/** Fetches the item of a share link from the peers that hold it, with live progress. */
export function FetchPanel({
  hash,
  name,
  meta,
  peer,
  onRetry,
}: {
  hash: string;
  name: string;
  /** The item's metadata document, from the share link. */
  meta?: string | undefined;
  peer: PeerState;
  /** Starts a fresh attempt after a failure or a cancel. */
  onRetry?: () => void;
}) {
  const [state, setState] = useState<FetchState>({ status: 'waiting' });
  const [askNotify, setAskNotify] = useState(mayAskToNotify);
  const controller = useRef<AbortController | undefined>(undefined);
  // The service can change under a running fetch (this tab takes over the network when the
  // leading tab closes): the loop reads the current one at each attempt.
  const service = useRef<PeerService | undefined>(undefined);
  service.current = peer.status === 'running' ? peer.service : undefined;
  const ready = service.current !== undefined;

  useEffect(() => {
    if (!ready || controller.current) return;
    const abort = new AbortController();
    controller.current = abort;
    const started = performance.now();
    void (async () => {
      const { LeaderGoneError } = await import('../net/index.ts');
      setState({ status: 'running' });
      let last: FetchProgress | undefined;
      for (;;) {
        try {
          const active = service.current;
          if (!active) throw new LeaderGoneError();
          const manifest = await active.fetch(hash, {
            signal: abort.signal,
            findForMs: FIND_DEADLINE_MS,
            onProgress: (progress) => {
              last = steadyProgress(last, progress);
              setState({ status: 'running', progress: last });
            },
          });
          // The item joins the library (with the shared description the link named) before
          // the fetch is reported done; the bytes are kept even if that fails.
          await addToLibrary(manifest, { metaDoc: meta, title: name }).catch((error: unknown) =>
            log.error('%s was fetched but not added to the library: %s', hash, errorMessage(error)),
          );
          setState({ status: 'done', name: manifest.name || name, progress: last });
          noticeFetched(manifest.name || name, started);
          return;
        } catch (error) {
          if (abort.signal.aborted) {
            setState({ status: 'cancelled' });
            return;
          }
          if (error instanceof LeaderGoneError) {
            // Another tab (or this one) is starting the network: try again through it.
            await new Promise((resolve) => setTimeout(resolve, 500));
            continue;
          }
          setState({ status: 'failed', error: errorMessage(error), progress: last });
          return;
        }
      }
    })().catch((error: unknown) => {
      // Nothing above should throw (the import of the network code could): say it, not a
      // stack trace in the console.
      setState({ status: 'failed', error: errorMessage(error) });
    });
  }, [ready, hash, name, meta]);

  const progress =
    state.status === 'running' || state.status === 'done' ? state.progress : undefined;
  const moving = progress?.phase === 'pieces';
  return (
    <section className="panel fetch" aria-label={`Fetching ${name}`} data-testid="fetch">
      <p className="fetch__eyebrow">Shared with you</p>
      <h2>{name}</h2>
      {/* Phases only, not every byte count: a screen reader should not recite the progress. */}
      <p className="visually-hidden" role="status">
        {announce(state, progress)}
      </p>
      {state.status === 'waiting' && (
        <p aria-busy="true">
          {peer.status === 'failed'
            ? `The network could not start: ${peer.error}. Reload the page to try again.`
            : 'Connecting to the network…'}
        </p>
      )}
      {state.status === 'running' && (
        <>
          {/* Without a size yet (still finding holders) the bar is indeterminate: it moves
              without claiming a share done. */}
          <progress
            max={Math.max(progress?.totalBytes ?? 1, 1)}
            value={progress?.totalBytes ? progress.bytesDone : undefined}
            aria-label={`Fetching ${name}`}
            data-testid="fetch-progress"
          />
          <p data-testid="fetch-status" aria-live="off">
            {fetchStatusText(progress)}
          </p>
          <p className="fetch__actions">
            <button type="button" onClick={() => controller.current?.abort()}>
              Cancel
            </button>
            {askNotify && moving && (
              <button
                type="button"
                data-testid="fetch-notify"
                onClick={() => void askToNotify().then(() => setAskNotify(false))}
              >
                Notify me when it is done
              </button>
            )}
          </p>
        </>
      )}
      {state.status === 'done' && (
        <p data-testid="fetch-status">
          Fetched and verified.{' '}
          <a href={contentUrl(hash)} target="_blank" rel="noopener">
            Open
          </a>{' '}
          ·{' '}
          <button type="button" onClick={() => downloadThroughWorker(contentUrl(hash, state.name))}>
            Download
          </button>
        </p>
      )}
      {progress && progress.peers.length > 0 && <FetchPeers peers={progress.peers} />}
      {state.status === 'failed' && (
        <p role="alert" className="error" data-testid="fetch-status">
          {state.error}
        </p>
      )}
      {state.status === 'cancelled' && <p data-testid="fetch-status">Cancelled.</p>}
      {(state.status === 'failed' || state.status === 'cancelled') && onRetry && (
        <p>
          <button type="button" className="primary" onClick={onRetry}>
            Try again
          </button>
        </p>
      )}
      <details className="fetch__details">
        <summary>Details</summary>
        <p className="muted small">
          Content hash <code>{hash}</code>
        </p>
      </details>
    </section>
  );
}

/** Where the bytes come from: a peer (direct or relayed) or the doorway; PeerIds on hover. */
function FetchPeers({ peers }: { peers: readonly FetchPeerProgress[] }) {
  return (
    <>
      <p className="muted small" data-testid="fetch-sources">
        {sourcesText(peers)}
      </p>
      <ul aria-label="Peers" className="fetch__peers">
        {peers.map((p) => (
          <li
            key={p.peerId}
            data-testid="fetch-peer"
            data-peer-id={p.peerId}
            data-state={p.state}
            title={p.peerId}
          >
            {peerLabel(p)} · {p.direct ? 'direct' : 'relayed'} · {formatBytes(p.bytes)}
            {p.state === 'dropped' && (
              <span className="muted"> · left this transfer ({p.reason})</span>
            )}
          </li>
        ))}
      </ul>
    </>
  );
}

function announce(state: FetchState, progress: FetchProgress | undefined): string {
  switch (state.status) {
    case 'waiting':
      return 'Connecting to the network';
    case 'running':
      if (!progress || progress.phase === 'finding') return 'Looking for peers that hold it';
      if (progress.phase === 'verifying') return 'Verifying';
      return `Downloading ${sourcesText(progress.peers)}`;
    case 'done':
      return 'Fetched and verified';
    case 'cancelled':
      return 'Cancelled';
    case 'failed':
      return '';
  }
}
