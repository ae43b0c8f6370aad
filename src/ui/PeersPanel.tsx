import type { PeerState } from './usePeerNode.ts';

function short(peerId: string): string {
  return `${peerId.slice(0, 8)}…${peerId.slice(-6)}`;
}

/** Who this browser is connected to, how (direct WebRTC or through the relay), and the doorways. */
export function PeersPanel({ peer }: { peer: PeerState }) {
  if (peer.status === 'starting') return <p aria-busy="true">Starting the network…</p>;
  if (peer.status === 'other-tab') {
    return (
      <p className="muted" data-testid="network-other-tab">
        Networking runs in another tab of this browser; this tab takes over if that one closes.
      </p>
    );
  }
  if (peer.status === 'failed') {
    return (
      <p role="alert" className="error">
        The network could not start: {peer.error}. Reload the page to try again.
      </p>
    );
  }
  const { snapshot } = peer;
  const others = snapshot.peers.filter((p) => !p.doorway);
  return (
    <section className="peers" aria-label="Network" data-testid="peers-panel">
      <h2>Network</h2>
      <p>
        This browser: <code title={snapshot.peerId}>{short(snapshot.peerId)}</code>{' '}
        <span data-testid="reachable">
          {snapshot.webrtcAddrs.length > 0
            ? '· reachable by other browsers'
            : '· not yet reachable'}
        </span>
      </p>
      <ul className="peers__doorways">
        {snapshot.doorways.map((d) => (
          <li key={d.origin} data-testid="doorway" data-status={d.status}>
            Doorway {d.origin}: <strong>{d.status}</strong>
            {d.error && d.status !== 'connected' && <span className="muted"> — {d.error}</span>}
            {d.retryAt && d.status === 'offline' && (
              <span className="muted">
                {' '}
                (retrying at {new Date(d.retryAt).toLocaleTimeString()})
              </span>
            )}
          </li>
        ))}
      </ul>
      {others.length === 0 ? (
        <p className="muted">No other peers connected yet.</p>
      ) : (
        <ul className="peers__list" aria-label="Connected peers">
          {others.map((p) => (
            <li
              key={p.peerId}
              data-testid="peer"
              data-peer-id={p.peerId}
              data-direct={String(p.direct)}
            >
              <code title={p.peerId}>{short(p.peerId)}</code>{' '}
              {p.direct ? 'direct (WebRTC)' : 'relayed through the doorway'}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
