import type { NodeSnapshot } from '../net/index.ts';
import type { PeerState } from './usePeerNode.ts';

function short(peerId: string): string {
  return `${peerId.slice(0, 8)}…${peerId.slice(-6)}`;
}

const DOORWAY_STATUS_LABELS: Record<string, string> = {
  connected: 'connected',
  connecting: 'connecting…',
  offline: 'offline',
};

/**
 * The network at a glance (online, how many browsers, reachable), the offline switch, and
 * behind "Network details" who exactly: this browser's id, the doorways, each connection.
 */
export function PeersPanel({ peer }: { peer: PeerState }) {
  return (
    <section className="panel peers" aria-labelledby="network-heading">
      <h2 id="network-heading">Network</h2>
      <NetworkState peer={peer} />
    </section>
  );
}

function NetworkState({ peer }: { peer: PeerState }) {
  if (peer.status === 'starting') {
    return (
      <p className="muted" aria-busy="true">
        Starting the network…
      </p>
    );
  }
  if (peer.status === 'failed') {
    return (
      <p role="alert" className="error">
        The network could not start: {peer.error}. Your files stay available here; reload the page
        to try again, or check the doorways in Settings.
      </p>
    );
  }
  const { snapshot, service } = peer;
  const role = (
    <p className="muted small" data-testid="network-role" data-role={service.role}>
      {service.role === 'leader'
        ? 'This tab runs the network for every tab of this browser.'
        : 'The network runs in another tab of this browser; this tab takes over if that one closes.'}
    </p>
  );
  if (!snapshot) {
    return (
      <>
        {role}
        <p className="muted" aria-busy="true">
          Waiting for the tab that runs the network…
        </p>
      </>
    );
  }
  const others = snapshot.peers.filter((p) => !p.doorway);
  const reachable = snapshot.webrtcAddrs.length > 0;
  const doorwayUp = snapshot.doorways.some((d) => d.status === 'connected');
  const state = snapshot.workingOffline ? 'offline' : doorwayUp ? 'online' : 'connecting';
  return (
    <div data-testid="peers-panel">
      {/* The summary a person reads; what a developer looks for is under "Network details". */}
      <p className="peers__summary" data-testid="network-summary" data-state={state}>
        <span
          className={`dot ${state === 'online' ? 'dot--ok' : state === 'offline' ? 'dot--bad' : 'dot--wait'}`}
          aria-hidden="true"
        />
        {state === 'online' ? 'Online' : state === 'offline' ? 'Offline by choice' : 'Connecting…'}
        {' · '}
        {others.length === 0
          ? 'no other browser connected yet'
          : `${others.length} other browser${others.length === 1 ? '' : 's'} connected`}
        {' · '}
        <span data-testid="reachable" role="status" data-addrs={snapshot.webrtcAddrs.join(' ')}>
          {reachable ? 'reachable by other browsers' : 'not yet reachable'}
        </span>
      </p>
      {service.role !== 'leader' && role}
      <p>
        <button
          type="button"
          data-testid="network-offline-toggle"
          aria-pressed={snapshot.workingOffline}
          onClick={() => void service.setWorkOffline(!snapshot.workingOffline)}
        >
          {snapshot.workingOffline ? 'Go back online' : 'Work offline'}
        </button>{' '}
        <span className="muted small">
          {snapshot.workingOffline
            ? 'Your changes are kept and shared when you go back online.'
            : 'Closes every connection until you come back.'}
        </span>
      </p>
      <DoorwaySwitch snapshot={snapshot} />
      <details className="disclosure" data-testid="network-details">
        <summary>Network details</summary>
        <p className="small">
          This browser <code title={snapshot.peerId}>{short(snapshot.peerId)}</code>
        </p>
        {service.role === 'leader' && role}
        <h3 className="peers__subhead">Doorways</h3>
        <DoorwayInUse snapshot={snapshot} />
        <ul className="peers__doorways">
          {snapshot.doorways.map((d) => (
            <li
              key={d.origin}
              data-testid="doorway"
              data-status={d.status}
              data-in-use={String(d.origin === snapshot.doorwayInUse)}
            >
              <span
                className={`dot ${d.status === 'connected' ? 'dot--ok' : d.status === 'offline' ? 'dot--bad' : 'dot--wait'}`}
                aria-hidden="true"
              />
              <span className="peers__origin">{d.origin}</span>
              {d.origin === snapshot.doorwayInUse && <span className="muted"> (in use)</span>}:{' '}
              <strong>{DOORWAY_STATUS_LABELS[d.status] ?? d.status}</strong>
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
        <h3 className="peers__subhead">Connected browsers</h3>
        {others.length === 0 ? (
          <p className="muted small">None yet. They appear here when someone else opens the app.</p>
        ) : (
          <ul className="peers__list" aria-label="Connected browsers">
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
      </details>
    </div>
  );
}

/** Which doorway the trust layer, the relay and the fallback go through. */
function DoorwayInUse({ snapshot }: { snapshot: NodeSnapshot }) {
  const { doorwayInUse } = snapshot;
  if (!doorwayInUse) return null;
  return (
    <p className="small" data-testid="doorway-in-use" data-origin={doorwayInUse}>
      Using the doorway <span className="peers__origin">{doorwayInUse}</span>
    </p>
  );
}

/**
 * The last failover, in the summary: the person sees why the app moved to another doorway
 * (README, "Failover").
 */
function DoorwaySwitch({ snapshot }: { snapshot: NodeSnapshot }) {
  const { lastSwitch } = snapshot;
  if (!lastSwitch) return null;
  return (
    <p
      className="small"
      role="status"
      data-testid="doorway-switch"
      data-from={lastSwitch.from}
      data-to={lastSwitch.to}
    >
      Switched to {lastSwitch.to} because {lastSwitch.reason} (
      {new Date(lastSwitch.at).toLocaleTimeString()}).
    </p>
  );
}
