import { type FormEvent, useEffect, useId, useState } from 'react';
import type { JoinState, PairingJoin, PairingLink } from '../pairing/index.ts';
import { listen } from '../wire/index.ts';
import { errorMessage } from './format.ts';
import { useRunningPeer } from './usePeerNode.ts';

/** Whether the page is a pairing link (`/pair#…`, read by {@link JoinAsDevice}). */
export function isPairRoute(location: Location): boolean {
  return location.pathname === '/pair';
}

/** A name to suggest for this device. */
function guessName(): string {
  return /Android|iPhone|iPad|Mobile/i.test(navigator.userAgent) ? 'Phone' : 'Computer';
}

/**
 * A pairing link opened on the new device: what joining means, a name for this device, the
 * code to compare, and — once both people confirmed — this browser becomes the person (their
 * keys staged as for a restore, every tab reloads; src/pairing).
 */
export function JoinAsDevice({ href }: { href: string }) {
  const peer = useRunningPeer();
  const [link, setLink] = useState<PairingLink | 'damaged'>();
  const [name, setName] = useState(guessName);
  const [join, setJoin] = useState<PairingJoin>();
  const [state, setState] = useState<JoinState>();
  const [error, setError] = useState<string>();
  const titleId = useId();
  const nameId = useId();

  // The pairing code loads with the link: most pages never pair.
  useEffect(() => {
    void import('../pairing/index.ts').then((p) => {
      try {
        setLink(p.parsePairingLink(href));
      } catch {
        setLink('damaged');
      }
    });
  }, [href]);

  useEffect(() => {
    if (!join) return;
    setState(join.state);
    return listen<JoinState>(join, 'change', setState);
  }, [join]);

  // Joined: keep the person's keys and lists as a restore does, and reload as them.
  useEffect(() => {
    if (state?.step !== 'done') return;
    void import('../backup/index.ts')
      .then(async (b) => {
        await b.stageRestore(state.payload, undefined, { pair: true });
        history.replaceState(null, '', '/');
        b.announceRestore();
      })
      .catch((e: unknown) => setError(errorMessage(e)));
  }, [state]);

  const start = async (event: FormEvent) => {
    event.preventDefault();
    if (!peer || !link || link === 'damaged') return;
    setError(undefined);
    try {
      const [{ PairingJoin }, { pageIdentity }] = await Promise.all([
        import('../pairing/index.ts'),
        import('../identity/index.ts'),
      ]);
      const me = await pageIdentity();
      setJoin(
        PairingJoin.start({ libp2p: peer.node.libp2p, deviceKey: me.privateKey, link, name }),
      );
    } catch (e) {
      setError(errorMessage(e));
    }
  };

  return (
    <section className="callout pairing" aria-labelledby={titleId} data-testid="pair-join">
      <h2 id={titleId}>Make this browser one of your devices</h2>
      {link === 'damaged' ? (
        <p role="alert" className="error small">
          This pairing link is damaged (cut short or changed). On your other device, choose “Add a
          device” again and open the new link.
        </p>
      ) : !state || state.step === 'failed' ? (
        <form onSubmit={(e) => void start(e)}>
          <p className="small">
            Your other device offered this link. Joining makes this browser you: your contacts,
            family and items come here, and it opens your private items. What this browser had as
            its own identity is replaced.
          </p>
          <label htmlFor={nameId}>Name this device</label>
          <input
            id={nameId}
            value={name}
            maxLength={64}
            data-testid="pair-name"
            onChange={(e) => setName(e.currentTarget.value)}
          />
          <button
            type="submit"
            disabled={!peer || !link || name.trim() === ''}
            data-testid="pair-start"
          >
            {peer && link ? 'Join' : 'Connecting…'}
          </button>
          {!peer && (
            <p className="muted small">
              Waiting for this browser’s network. If the app is open in another tab, close that tab
              (the network runs in one tab at a time).
            </p>
          )}
          {state?.step === 'failed' && (
            <p role="alert" className="error small" data-testid="pair-error">
              {state.message}
            </p>
          )}
        </form>
      ) : state.step === 'connecting' ? (
        <p role="status" aria-busy="true">
          Reaching your other device…
        </p>
      ) : state.step === 'confirm' ? (
        <fieldset className="pairing__confirm">
          <legend>Confirm the code</legend>
          <p>Check that your other device shows the same code:</p>
          <p className="pairing__code" data-testid="pair-code">
            {state.code}
          </p>
          <button type="button" data-testid="pair-confirm" onClick={() => join?.confirm()}>
            Yes, the codes match
          </button>{' '}
          <button type="button" onClick={() => join?.cancel()}>
            No — cancel
          </button>
        </fieldset>
      ) : state.step === 'waiting' ? (
        <p role="status" aria-busy="true">
          Waiting for your other device to confirm…
        </p>
      ) : (
        <p role="status" data-testid="pair-done">
          Joined. This browser now opens as you…
        </p>
      )}
      {error && (
        <p role="alert" className="error small">
          {error}
        </p>
      )}
    </section>
  );
}
