import { useEffect, useState } from 'react';
import type { StoredManifest } from '../content/index.ts';
import { agentKeyOfPeer } from '../reach/index.ts';
import type { TrustHolder, TrustState } from '../trust/index.ts';
import { listen } from '../wire/index.ts';
import { errorMessage } from './format.ts';
import { useTrustClient } from './usePeerNode.ts';

type Listing =
  | { status: 'loading' }
  | {
      status: 'listed';
      mine: boolean;
      others: TrustHolder[];
      /** The person's devices by device key: their names. */
      deviceNames: Map<string, string>;
    }
  | { status: 'failed'; error: string };

/** Where the trust layer says this item is held: this browser (once announced) and others. */
export function TrustAnnouncement({ item }: { item: StoredManifest }) {
  const trust = useTrustClient();
  const [listing, setListing] = useState<Listing>({ status: 'loading' });
  // The announcement may still be in the outbox when the details open: ask again whenever the
  // outbox sends something or the connection comes back, so the listing never goes stale.
  const [asked, setAsked] = useState(0);
  useEffect(() => {
    if (!trust) return;
    const askAgain = () => setAsked((n) => n + 1);
    const stops = [
      listen<{ queued: number }>(trust, 'queue', askAgain),
      listen<TrustState>(trust, 'state', (state) => {
        if (state.status === 'connected') askAgain();
      }),
    ];
    return () => {
      for (const stop of stops) stop();
    };
  }, [trust]);
  // biome-ignore lint/correctness/useExhaustiveDependencies: `asked` is the trigger to ask again.
  useEffect(() => {
    if (!trust || item.reach === 'private') return;
    let live = true;
    void (async () => {
      try {
        const [mine, others] = await Promise.all([
          trust.myAnnouncements(),
          trust.findHolders(item.blob_hash, { limit: 20 }),
        ]);
        // Only when one of the person's other devices holds it: their names.
        const devices = others.some((h) => h.agent === trust.me)
          ? await trust.agentDevices(trust.me)
          : [];
        if (!live) return;
        setListing({
          status: 'listed',
          // The person's record may list their other devices only.
          mine: mine.some((a) => a.hash === item.blob_hash && a.online && a.thisDevice),
          others,
          // The agent key is the first device's own (it has no certificate).
          deviceNames: new Map([
            [trust.me, 'your first device'],
            ...devices.map((d): [string, string] => [d.device, d.name]),
          ]),
        });
      } catch (error) {
        if (live) setListing({ status: 'failed', error: errorMessage(error) });
      }
    })();
    return () => {
      live = false;
    };
  }, [trust, item.blob_hash, item.reach, asked]);

  if (item.reach === 'private') {
    return <p className="muted small">Private: not listed in the trust layer.</p>;
  }
  if (!trust) {
    return (
      <p className="muted small">
        The tab that runs the network holds the trust-layer connection; open the details there.
      </p>
    );
  }
  if (listing.status === 'loading') {
    return (
      <p className="muted small" aria-busy="true">
        Asking the trust layer…
      </p>
    );
  }
  if (listing.status === 'failed') {
    return (
      <p className="small" data-testid="trust-listing" data-mine="unknown">
        The trust layer could not be asked ({listing.error}); announcements wait and are sent when
        it is back.
      </p>
    );
  }
  return (
    <div className="small" data-testid="trust-listing" data-mine={String(listing.mine)}>
      <p>
        {listing.mine
          ? 'Announced: the trust layer lists this browser as a holder.'
          : 'Not announced yet: it is sent when the trust layer is reachable.'}
      </p>
      {listing.others.length > 0 && (
        <ul>
          {listing.others.map((h) => (
            <li key={h.peerId.toString()}>
              {h.agent === trust.me ? (
                <>
                  Also on your device{' '}
                  {listing.deviceNames.get(agentKeyOfPeer(h.peerId) ?? '') ?? 'another device'}
                </>
              ) : (
                <>
                  Also held by{' '}
                  <code title={h.peerId.toString()}>{h.peerId.toString().slice(0, 12)}…</code>
                </>
              )}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
