import { useEffect, useId, useState } from 'react';
import type { TrustClient } from '../trust/index.ts';
import { errorMessage } from './format.ts';
import { useContacts } from './useContacts.ts';
import { useRecoveryShares } from './useRecoveryShares.ts';

const PATH = /^\/recover\/(uhCAk[A-Za-z0-9_-]{48})\/?$/;

/** The link a person recovering sends to their trusted contacts: it names their new browser. */
export function recoveryLink(requester: string): string {
  return new URL(`/recover/${requester}`, location.origin).toString();
}

/** The requesting browser's agent key, when the page is a recovery link. */
export function parseRecoveryLink(location: Location): string | undefined {
  return PATH.exec(location.pathname)?.[1];
}

type State = { status: 'idle' | 'releasing' | 'released' } | { status: 'failed'; error: string };

/**
 * A recovery link opened by a trusted contact: whom they help (among the people whose share
 * they hold), the code they must hear from that person first, and "Release my share", which
 * seals their share for the requesting browser only (src/recovery).
 */
export function HelpRecover({
  requester,
  trust,
}: {
  requester: string;
  trust: TrustClient | undefined;
}) {
  const { contacts } = useContacts(trust);
  const { held, error } = useRecoveryShares(trust);
  const [code, setCode] = useState<string>();
  const [owner, setOwner] = useState<string>();
  const [heard, setHeard] = useState(false);
  const [state, setState] = useState<State>({ status: 'idle' });
  const titleId = useId();
  const name = (agent: string) =>
    contacts.find((c) => c.agent === agent)?.name ?? `${agent.slice(0, 12)}…`;

  useEffect(() => {
    void import('../recovery/index.ts').then(async (r) => setCode(await r.requestCode(requester)));
  }, [requester]);
  // One person to help: chosen already.
  useEffect(() => {
    if (held?.length === 1) setOwner(held[0]?.owner);
  }, [held]);

  const release = async () => {
    const share = held?.find((s) => s.owner === owner);
    if (!trust || !share) return;
    setState({ status: 'releasing' });
    try {
      const [{ releaseShare }, { pageIdentity }] = await Promise.all([
        import('../recovery/index.ts'),
        import('../identity/index.ts'),
      ]);
      const sealed = await releaseShare(share, requester, await pageIdentity());
      await trust.releaseRecoveryShare(share.owner, requester, sealed);
      setState({ status: 'released' });
    } catch (e) {
      setState({ status: 'failed', error: errorMessage(e) });
    }
  };

  let body: React.ReactNode;
  if (!trust) body = <p className="muted">Open this link in the tab that runs the network.</p>;
  else if (requester === trust.me)
    body = (
      <p data-testid="help-recover-own">
        This is your own recovery link: send it to your trusted contacts, not to yourself.
      </p>
    );
  else if (!held) body = <p className="muted">{error ?? 'Asking the trust layer…'}</p>;
  else if (held.length === 0)
    body = (
      <p data-testid="help-recover-none">
        Nobody chose you as a trusted contact for recovery, so you hold nothing to release.
      </p>
    );
  else
    body = (
      <>
        <p>
          Someone on a new browser asks you to help them get their identity back. Before you do,
          call them or meet them, and ask them to read you the code on their screen. It must be:{' '}
          <strong data-testid="help-recover-code">{code ?? '…'}</strong>
        </p>
        <fieldset>
          <legend>Who is asking?</legend>
          {held.map((share) => (
            <label key={share.owner} className="settings__check">
              <input
                type="radio"
                name="recover-owner"
                data-testid="help-recover-owner"
                data-agent={share.owner}
                checked={owner === share.owner}
                onChange={() => setOwner(share.owner)}
              />
              {name(share.owner)}
            </label>
          ))}
        </fieldset>
        <label className="settings__check">
          <input
            type="checkbox"
            checked={heard}
            data-testid="help-recover-confirm"
            onChange={(e) => setHeard(e.currentTarget.checked)}
          />
          {owner ? name(owner) : 'They'} read me this code, and I am sure it is them.
        </label>
        <button
          type="button"
          className="primary"
          disabled={!owner || !heard || state.status === 'releasing' || state.status === 'released'}
          data-testid="help-recover-release"
          onClick={() => void release()}
        >
          Release my share to them
        </button>
        {state.status === 'released' && (
          <p role="status" data-testid="help-recover-done">
            Released. Once enough of their trusted contacts have done the same, they are back.
          </p>
        )}
        {state.status === 'failed' && (
          <p role="alert" className="error small" data-testid="help-recover-error">
            {state.error}
          </p>
        )}
      </>
    );

  return (
    <section className="panel" aria-labelledby={titleId} data-testid="help-recover">
      <h2 id={titleId}>Help someone get back in</h2>
      {body}
    </section>
  );
}
