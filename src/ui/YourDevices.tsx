import { useCallback, useEffect, useState } from 'react';
import type { StoredManifest } from '../content/index.ts';
import type { OfferState, PairingOffer } from '../pairing/index.ts';
import type { Peer } from '../peer/index.ts';
import { agentKeyOfPeer } from '../reach/index.ts';
import type { TrustClient, TrustDevice } from '../trust/index.ts';
import { listen } from '../wire/index.ts';
import { CopyField } from './CopyButton.tsx';
import { markDevicesSeen } from './deviceNotice.ts';
import { errorMessage } from './format.ts';
import { LazyDisclosure } from './LazyDisclosure.tsx';
import { RelativeTime } from './RelativeTime.tsx';
import { useRunningPeer } from './usePeerNode.ts';
import { usePersonLists } from './usePersonLists.ts';
import { useQrCode } from './useQrCode.ts';

/**
 * "Your devices": the browsers that are this person (the first one, whose key is the agent
 * key, and each paired one, from the trust layer's certificates), "Add a device" (a one-time
 * pairing link and QR code, then the short code both screens show) and "Remove" (src/pairing,
 * docs/design.md §2).
 */
export function YourDevices(props: {
  trust: TrustClient | undefined;
  items: StoredManifest[] | undefined;
}) {
  return (
    <LazyDisclosure summary="Your devices" testId="devices">
      {() => <DevicesForm {...props} />}
    </LazyDisclosure>
  );
}

function DevicesForm({
  trust,
  items,
}: {
  trust: TrustClient | undefined;
  items: StoredManifest[] | undefined;
}) {
  const peer = useRunningPeer();
  const [devices, setDevices] = useState<TrustDevice[]>();
  const [error, setError] = useState<string>();
  const [offer, setOffer] = useState<PairingOffer>();
  // This browser's own device key, as the certificates name it.
  const selfAgent = peer && agentKeyOfPeer(peer.node.libp2p.peerId);

  const refresh = useCallback(async () => {
    if (!trust) return;
    try {
      setDevices(await trust.agentDevices(trust.me));
      setError(undefined);
    } catch (e) {
      setError(errorMessage(e));
    }
  }, [trust]);
  useEffect(() => {
    void refresh();
  }, [refresh]);

  if (!trust || !peer) {
    return (
      <p className="muted small">
        Connecting… Your devices are shown in the tab that runs this browser’s network (the first
        tab of the app you opened).
      </p>
    );
  }
  const changed = async () => {
    await peer.refreshTrust().catch(() => {});
    await refresh();
  };
  return (
    <>
      <p className="muted small">
        Each of your browsers and phones can be you: they share your contacts, family and items, and
        open your private items. Nobody else can.
      </p>
      <ul className="devices" data-testid="device-list">
        <li data-testid="device" data-device={trust.me}>
          Your first device{selfAgent === trust.me ? ' (this browser)' : ''}
        </li>
        {devices?.map((d) => (
          <DeviceRow
            key={d.device}
            device={d}
            here={d.device === selfAgent}
            trust={trust}
            onChange={() => void changed()}
          />
        ))}
      </ul>
      {error && (
        <p role="alert" className="error small">
          Your devices could not be read: {error}
        </p>
      )}
      {offer ? (
        <AddDevice
          offer={offer}
          onPaired={() => void changed()}
          onEnd={() => {
            offer.close();
            setOffer(undefined);
            void changed();
          }}
        />
      ) : (
        <OpenOffer peer={peer} trust={trust} items={items} onOpen={setOffer} />
      )}
    </>
  );
}

function DeviceRow({
  device,
  here,
  trust,
  onChange,
}: {
  device: TrustDevice;
  here: boolean;
  trust: TrustClient;
  onChange: () => void;
}) {
  const [asking, setAsking] = useState(false);
  const [error, setError] = useState<string>();
  const remove = async () => {
    try {
      await trust.removeDevice(device.device);
      onChange();
    } catch (e) {
      setError(errorMessage(e));
    }
  };
  return (
    <li data-testid="device" data-device={device.device} data-removed={device.removedAt ? 1 : 0}>
      {device.name}
      {here ? ' (this browser)' : ''} —{' '}
      {device.removedAt ? (
        <span className="muted">
          <RelativeTime verb="removed" at={new Date(device.removedAt).toISOString()} />
        </span>
      ) : (
        <span className="muted">
          <RelativeTime verb="added" at={new Date(device.addedAt).toISOString()} />
        </span>
      )}
      {!device.removedAt && !here && !asking && (
        <button type="button" onClick={() => setAsking(true)}>
          Remove
        </button>
      )}
      {asking && (
        <fieldset className="callout small">
          <legend>Remove {device.name}</legend>
          <p>
            Remove {device.name}? From now on your devices and everyone else&apos;s send it nothing,
            and it cannot be added again. What it already holds stays on it until its data is
            cleared: the items it fetched, and your keys as they were when it joined. Those keys
            include your identity key, so if someone else has this device they could still act as
            you: removing it cannot take that back yet.
          </p>
          <button type="button" data-testid="device-remove" onClick={() => void remove()}>
            Remove {device.name}
          </button>{' '}
          <button type="button" onClick={() => setAsking(false)}>
            Keep it
          </button>
        </fieldset>
      )}
      {error && (
        <p role="alert" className="error small">
          {error}
        </p>
      )}
    </li>
  );
}

function OpenOffer({
  peer,
  trust,
  items,
  onOpen,
}: {
  peer: Peer;
  trust: TrustClient;
  items: StoredManifest[] | undefined;
  onOpen: (offer: PairingOffer) => void;
}) {
  const person = usePersonLists(trust, items);
  const [error, setError] = useState<string>();
  const [waiting, setWaiting] = useState(false);
  const open = async () => {
    try {
      const [{ PairingOffer }, { collectBackup, payloadToJson }, { pageIdentity }] =
        await Promise.all([
          import('../pairing/index.ts'),
          import('../backup/index.ts'),
          import('../identity/index.ts'),
        ]);
      const me = await pageIdentity();
      setWaiting(true);
      const addrs = await dialAddrs(peer);
      onOpen(
        await PairingOffer.open({
          libp2p: peer.node.libp2p,
          agentKey: me.agentKey,
          addrs,
          origin: location.origin,
          addDevice: (cert) => {
            // Added here: not news to this browser (NewDeviceNotice).
            markDevicesSeen([cert.device]);
            return trust.addDevice(cert);
          },
          payload: async () =>
            payloadToJson(
              await collectBackup({
                contacts: person.people,
                items: person.items,
                withPrivate: true,
              }),
            ),
        }),
      );
    } catch (e) {
      setError(errorMessage(e));
    } finally {
      setWaiting(false);
    }
  };
  return (
    <>
      <button
        type="button"
        data-testid="device-add"
        disabled={!person.loaded || waiting}
        onClick={() => void open()}
      >
        {waiting ? 'Getting reachable…' : 'Add a device'}
      </button>
      {error && (
        <p role="alert" className="error small">
          {error}
        </p>
      )}
    </>
  );
}

/**
 * Where the other device can dial this one: once the doorway's relay has given it an address
 * (a moment after start), else — after 30 s — none, and the link names this device alone.
 */
function dialAddrs(peer: Peer): Promise<string[]> {
  return new Promise((resolve) => {
    const check = () => {
      const addrs = peer.node.snapshot().dialAddrs;
      if (addrs.length === 0) return false;
      done(addrs);
      return true;
    };
    const timer = setTimeout(() => done([]), 30_000);
    const unlisten = listen(peer.node, 'change', check);
    const done = (addrs: string[]) => {
      clearTimeout(timer);
      unlisten();
      resolve(addrs);
    };
    check();
  });
}

function AddDevice({
  offer,
  onPaired,
  onEnd,
}: {
  offer: PairingOffer;
  onPaired: () => void;
  onEnd: () => void;
}) {
  const [state, setState] = useState<OfferState>(offer.state);
  useEffect(
    () =>
      listen<OfferState>(offer, 'change', (next) => {
        setState(next);
        if (next.step === 'done') onPaired();
      }),
    [offer, onPaired],
  );
  const qr = useQrCode(offer.link);
  switch (state.step) {
    case 'waiting':
      return (
        <div className="pairing" data-testid="pairing-offer">
          <p className="small">
            On your other device (another browser, or your phone), open this link. It works once,
            for 10 minutes, while this page stays open.
          </p>
          <CopyField
            text={offer.link}
            fieldLabel="Pairing link"
            copyLabel="Copy the pairing link"
            testId="pairing-link"
          />
          {qr && <img src={qr} width={240} height={240} alt="QR code of the pairing link" />}
          <button type="button" onClick={onEnd}>
            Cancel
          </button>
        </div>
      );
    case 'confirm':
      return (
        <fieldset className="pairing">
          <legend>Confirm the new device</legend>
          <p>“{state.name}” asks to become one of your devices. Does it show this code?</p>
          <p className="pairing__code" data-testid="pairing-code">
            {state.code}
          </p>
          <button type="button" data-testid="pairing-confirm" onClick={() => offer.confirm()}>
            Yes, the codes match
          </button>{' '}
          <button type="button" onClick={onEnd}>
            No — cancel
          </button>
        </fieldset>
      );
    case 'adding':
      return (
        <p role="status" aria-busy="true">
          Adding {state.name}…
        </p>
      );
    case 'done':
      return (
        <div role="status" data-testid="pairing-done">
          <p>{state.device.name} is now one of your devices.</p>
          <button type="button" onClick={onEnd}>
            Done
          </button>
        </div>
      );
    case 'expired':
    case 'failed':
      return (
        <div role="alert" className="error small" data-testid="pairing-failed">
          <p>
            {state.step === 'expired' ? 'The pairing link expired. Make a new one.' : state.message}
          </p>
          <button type="button" onClick={onEnd}>
            Close
          </button>
        </div>
      );
  }
}
