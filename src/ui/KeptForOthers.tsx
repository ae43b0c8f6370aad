import { useEffect, useState } from 'react';
import {
  type ContentStore,
  keptBytes,
  releaseAll,
  type ShardHolding,
  type StoredManifest,
} from '../content/index.ts';
import type { AgentKey } from '../reach/index.ts';
import type { TrustClient, TrustState } from '../trust/index.ts';
import { listen } from '../wire/index.ts';
import { errorMessage, formatBytes, shortHash } from './format.ts';
import { RelativeTime } from './RelativeTime.tsx';
import { ReplicaHealthChip } from './ReplicaHealth.tsx';
import { useKeepingSettings, useKeptForOthers } from './useKeeping.ts';
import { useTrustClient } from './usePeerNode.ts';

/**
 * The display names of `agents` as they registered them with the trust layer (asked once per
 * agent while it is connected); an agent not found keeps no name.
 */
function useAgentNames(trust: TrustClient | undefined, agents: readonly string[]) {
  const [names, setNames] = useState<ReadonlyMap<string, string>>(new Map());
  const [connected, setConnected] = useState(trust?.state.status === 'connected');
  const wanted = [...new Set(agents)].sort().join('\n');
  useEffect(() => {
    if (!trust) return;
    setConnected(trust.state.status === 'connected');
    return listen<TrustState>(trust, 'state', (s) => setConnected(s.status === 'connected'));
  }, [trust]);
  useEffect(() => {
    if (!trust || !connected || wanted === '') return;
    let live = true;
    void Promise.all(
      wanted.split('\n').map(async (agent) => {
        const human = await trust.getHuman(agent as AgentKey).catch(() => undefined);
        return [agent, human?.displayName ?? ''] as const;
      }),
    ).then((found) => {
      if (live) setNames(new Map(found.filter(([, name]) => name !== '')));
    });
    return () => {
      live = false;
    };
  }, [trust, connected, wanted]);
  return names;
}

/** Whose an item is, in words: their name when the trust layer knows it. */
function whose(author: string | null | undefined, names: ReadonlyMap<string, string>): string {
  const name = author ? names.get(author) : undefined;
  return name ? name : 'someone you have not linked with';
}

interface Row {
  hash: string;
  name: string;
  author: string | null | undefined;
  bytes: number;
  /** Whole copy: when it came, and the device that asked. */
  copy?: StoredManifest;
  holding?: ShardHolding;
}

function rows(copies: StoredManifest[], shards: ShardHolding[]): Row[] {
  return [
    ...copies.map((m) => ({
      hash: m.blob_hash,
      name: m.name || shortHash(m.blob_hash),
      author: m.author_id,
      bytes: keptBytes(m),
      copy: m,
    })),
    ...shards.map((h) => ({
      hash: h.blob_hash,
      name: h.manifest.name || shortHash(h.blob_hash),
      author: h.manifest.author_id,
      bytes: keptBytes(h),
      holding: h,
    })),
  ];
}

/**
 * Copies and shards this browser keeps because other people's devices asked it to, so their
 * files stay reachable while they are away. Not the person's library: listed apart, with
 * whose they are, the space they take against the person's limit, and a way to let go of
 * them (one, or all and no new ones).
 */
export function KeptForOthers({ store }: { store: ContentStore }) {
  const kept = useKeptForOthers(store);
  const settings = useKeepingSettings();
  const trust = useTrustClient();
  const items = kept ? rows(kept.copies, kept.shards) : [];
  const names = useAgentNames(
    trust,
    items.flatMap((i) => (i.author ? [i.author] : [])),
  );
  const [confirming, setConfirming] = useState(false);
  const [status, setStatus] = useState<string>();
  const [busy, setBusy] = useState(false);
  // Nothing kept and the person still keeps copies: nothing to show or decide here.
  if (!kept || (items.length === 0 && settings.keep && !status)) return null;

  const run = async (what: () => Promise<string>) => {
    setBusy(true);
    try {
      setStatus(await what());
    } catch (e) {
      setStatus(`Could not let go of it: ${errorMessage(e)}. Try again.`);
    } finally {
      setBusy(false);
    }
  };
  const stopAll = () =>
    run(async () => {
      settings.setKeep(false);
      setConfirming(false);
      const freed = kept.bytes;
      const count = await releaseAll(store);
      return `Stopped. ${count === 1 ? '1 item' : `${count} items`} (${formatBytes(freed)}) freed; no new copies are kept for others.`;
    });

  return (
    <section className="kept" aria-labelledby="kept-heading" data-testid="kept-for-others">
      <h2 id="kept-heading">Kept for others</h2>
      <p className="muted small">
        Other people’s devices asked this browser to keep these, so their files stay reachable while
        they are away. They are not in your library; fetch one to make it yours.
      </p>
      <p className="kept__usage" data-testid="kept-usage">
        {settings.keep ? (
          <>
            Using <strong>{formatBytes(kept.bytes)}</strong> of your{' '}
            {formatBytes(settings.capBytes)} limit (change it in Settings).
          </>
        ) : (
          <>
            You keep no new copies for others
            {kept.bytes > 0 ? ` (${formatBytes(kept.bytes)} still kept)` : ''}.{' '}
            <button type="button" className="linklike" onClick={() => settings.setKeep(true)}>
              Keep copies again
            </button>
          </>
        )}
      </p>
      {items.length > 0 && (
        <ul className="items" aria-label="Kept for others">
          {items.map((item) => (
            <KeptRow
              key={item.hash}
              item={item}
              who={whose(item.author, names)}
              busy={busy}
              onStop={() =>
                run(async () =>
                  (await store.release(item.hash))
                    ? `No longer keeping ${item.name}; ${formatBytes(item.bytes)} freed.`
                    : `${item.name} was not kept for others any more.`,
                )
              }
            />
          ))}
        </ul>
      )}
      {(items.length > 0 || settings.keep) && (
        <div className="kept__stop">
          {confirming ? (
            <>
              <p>
                Stop keeping copies for others? {formatBytes(kept.bytes)} are freed at once and no
                new copies are taken until you turn it back on. Your own files stay.
              </p>
              <button
                type="button"
                className="danger"
                disabled={busy}
                data-testid="kept-stop-all-confirm"
                onClick={() => void stopAll()}
              >
                Stop keeping and free {formatBytes(kept.bytes)}
              </button>{' '}
              <button type="button" onClick={() => setConfirming(false)}>
                Cancel
              </button>
            </>
          ) : (
            <button
              type="button"
              disabled={busy}
              data-testid="kept-stop-all"
              onClick={() => setConfirming(true)}
            >
              Stop keeping for others…
            </button>
          )}
        </div>
      )}
      <p className="muted small" role="status" data-testid="kept-status">
        {status}
      </p>
    </section>
  );
}

function KeptRow({
  item,
  who,
  busy,
  onStop,
}: {
  item: Row;
  who: string;
  busy: boolean;
  onStop: () => void;
}) {
  const { copy, holding } = item;
  const shards = holding?.shards.map((s) => s.index) ?? [];
  const since = copy?.origin?.at ?? holding?.updated_at;
  return (
    <li
      className="item item--kept"
      data-testid="kept"
      data-hash={item.hash}
      data-kind={holding ? 'shards' : 'copy'}
      data-shards={holding ? shards.join(',') : undefined}
      data-bytes={item.bytes}
    >
      <div className="item__main">
        <span className="item__name">{item.name}</span>
        <p className="item__meta">
          <span data-testid="kept-whose">
            {holding
              ? `${shards.length === 1 ? 'A piece' : `${shards.length} pieces`} of a large file by ${who}`
              : `A copy kept for ${who}`}
          </span>
          <span data-testid="kept-size">{formatBytes(item.bytes)}</span>
          {holding && <ReplicaHealthChip hash={item.hash} reach={holding.manifest.reach} />}
          {since && <RelativeTime verb="since" at={since} />}
        </p>
      </div>
      <div className="item__actions">
        <button
          type="button"
          disabled={busy}
          onClick={onStop}
          aria-label={`Stop keeping ${item.name}`}
        >
          Stop keeping
        </button>
      </div>
    </li>
  );
}
