import { useEffect, useRef, useState } from 'react';
import { parseContentHash } from '../content/index.ts';
import type { FetchProgress, PeerService } from '../net/index.ts';
import { logger } from '../wire/index.ts';
import { errorMessage, formatBytes } from './format.ts';
import { contentUrl, downloadThroughWorker } from './serviceWorker.ts';
import type { PeerState } from './usePeerNode.ts';
import { addToLibrary } from './useSync.ts';

type FetchState =
  | { status: 'waiting' }
  | { status: 'running'; progress?: FetchProgress }
  | { status: 'done'; name: string; progress?: FetchProgress }
  | { status: 'failed'; error: string }
  | { status: 'cancelled' };

/** How long to keep looking for a holder before saying none was found. */
const FIND_DEADLINE_MS = 60_000;

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
              last = progress;
              setState({ status: 'running', progress });
            },
          });
          // The item joins the library (with the shared description the link named) before
          // the fetch is reported done; the bytes are kept even if that fails.
          await addToLibrary(manifest, { metaDoc: meta, title: name }).catch((error: unknown) =>
            log.error('%s was fetched but not added to the library: %s', hash, errorMessage(error)),
          );
          setState({ status: 'done', name: manifest.name || name, progress: last });
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
          setState({ status: 'failed', error: errorMessage(error) });
          return;
        }
      }
    })();
  }, [ready, hash, name, meta]);

  const progress =
    state.status === 'running' || state.status === 'done' ? state.progress : undefined;
  return (
    <section className="panel fetch" aria-label={`Fetching ${name}`} data-testid="fetch">
      <p className="fetch__eyebrow">Shared with you</p>
      <h2>{name}</h2>
      <p className="muted small">
        <code>{hash}</code>
      </p>
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
          <p data-testid="fetch-status">
            {!progress || progress.phase === 'finding'
              ? 'Looking for peers that hold it…'
              : progress.phase === 'verifying'
                ? 'Verifying…'
                : `${formatBytes(progress.bytesDone)} of ${formatBytes(progress.totalBytes)} · ${formatBytes(progress.rate)}/s`}
          </p>
          <button type="button" onClick={() => controller.current?.abort()}>
            Cancel
          </button>
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
      {progress && progress.peers.length > 0 && (
        <ul aria-label="Peers" className="fetch__peers">
          {progress.peers.map((p) => (
            <li
              key={p.peerId}
              data-testid="fetch-peer"
              data-peer-id={p.peerId}
              data-state={p.state}
            >
              <code>{p.peerId.slice(-8)}</code> {p.direct ? 'direct' : 'relayed'} ·{' '}
              {formatBytes(p.bytes)} · {p.state}
              {p.reason && <span className="muted"> ({p.reason})</span>}
            </li>
          ))}
        </ul>
      )}
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
    </section>
  );
}

function announce(state: FetchState, progress: FetchProgress | undefined): string {
  switch (state.status) {
    case 'waiting':
      return 'Connecting to the network';
    case 'running':
      if (!progress || progress.phase === 'finding') return 'Looking for peers that hold it';
      if (progress.phase === 'verifying') return 'Verifying';
      return `Downloading from ${progress.peers.length} peer${progress.peers.length === 1 ? '' : 's'}`;
    case 'done':
      return 'Fetched and verified';
    case 'cancelled':
      return 'Cancelled';
    case 'failed':
      return '';
  }
}
