import { useEffect, useState } from 'react';
import { agentKeyOfPeer } from '../reach/index.ts';
import type { TrustDevice } from '../trust/index.ts';
import { listen } from '../wire/index.ts';
import { devicesSince, markDevicesSeen, seenDevices, unexpectedDevices } from './deviceNotice.ts';
import { RelativeTime } from './RelativeTime.tsx';
import { useRunningPeer, useTrustClient } from './usePeerNode.ts';

/**
 * "A device was added to you": shown on each of the person's devices when one they did not add
 * from this browser appears (deviceNotice.ts), until they say it was them. The list is read
 * again only when the peer's set of the person's devices changes.
 */
export function NewDeviceNotice() {
  const peer = useRunningPeer();
  const trust = useTrustClient();
  const [news, setNews] = useState<TrustDevice[]>([]);
  useEffect(() => {
    if (!peer || !trust) return;
    const since = devicesSince();
    const self = agentKeyOfPeer(peer.node.libp2p.peerId);
    let last: string | undefined;
    const check = async () => {
      const inForce = peer.trustView.myDevices;
      const now = [...inForce].sort().join();
      if (now === last) return;
      last = now;
      const seen = seenDevices();
      if ([...inForce].every((d) => seen.has(d))) return setNews([]);
      try {
        const certificates = await trust.agentDevices(trust.me);
        setNews(unexpectedDevices(certificates, { inForce, since, seen, self }));
      } catch {
        // Asked again at the next change.
        last = undefined;
      }
    };
    void check();
    return listen(peer, 'trust', () => void check());
  }, [peer, trust]);
  if (news.length === 0) return null;
  return (
    <div className="banner" role="alert" data-testid="new-device">
      <span>
        {news.map((d, i) => (
          <span key={d.device}>
            {i > 0 && ', '}
            <strong>{d.name}</strong>{' '}
            <RelativeTime verb="added" at={new Date(d.addedAt).toISOString()} />
          </span>
        ))}{' '}
        {news.length === 1 ? 'is' : 'are'} now one of your devices. If you did not add{' '}
        {news.length === 1 ? 'it' : 'them'}, remove {news.length === 1 ? 'it' : 'them'} in Settings
        → Your devices.
      </span>
      <button
        type="button"
        data-testid="new-device-ok"
        onClick={() => {
          markDevicesSeen(news.map((d) => d.device));
          setNews([]);
        }}
      >
        It was me
      </button>
    </div>
  );
}
