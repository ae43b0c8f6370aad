import { type FormEvent, useEffect, useId, useState } from 'react';
import type { Family, FamilySnapshot } from '../family/index.ts';
import type { AgentKey } from '../reach/index.ts';
import type { TrustClient, TrustState } from '../trust/index.ts';
import { listen } from '../wire/index.ts';
import { CopyButton } from './CopyButton.tsx';
import { NAME_KEY, savedDisplayName } from './displayName.ts';
import { FamilyCluster } from './FamilyCluster.tsx';
import { errorMessage } from './format.ts';
import { contactsChanged, useContacts } from './useContacts.ts';
import type { PeerState } from './usePeerNode.ts';

const STATUS_LABELS: Record<TrustState['status'], string> = {
  connecting: 'Connecting…',
  connected: 'Connected: the people you know can find you and what you share.',
  offline: 'Offline: what you change here is kept and sent when the connection is back.',
};

interface Props {
  trust: TrustClient | undefined;
  /** This tab's network: says why there is no trust client (starting, or another tab's). */
  peer: PeerState;
  /** The family cluster service (in the tab that runs the network, once the trust layer is set up). */
  family: Family | undefined;
  familySnapshot: FamilySnapshot | undefined;
}

/**
 * Who I am to other people (the trust layer, hosted by the doorway): my name and a contact
 * link to share; the people I have a trust link with, adding one from their contact link (as
 * family, or not), and my family cluster. The agent key is under "Technical details".
 */
export function TrustPanel({ trust, peer, family, familySnapshot }: Props) {
  return (
    <section className="panel trust" aria-labelledby="trust-heading" data-testid="trust-panel">
      <h2 id="trust-heading">People</h2>
      {trust ? (
        <TrustDetails trust={trust} family={family} familySnapshot={familySnapshot} />
      ) : (
        <p
          className="muted small"
          data-testid="trust-absent"
          aria-busy={peer.status === 'starting'}
        >
          {noTrustClient(peer)}
        </p>
      )}
    </section>
  );
}

/** Why People is empty in this tab, in its own terms (another tab is only named when there is one). */
function noTrustClient(peer: PeerState): string {
  if (peer.status === 'starting') return 'Connecting…';
  if (peer.status === 'failed') return 'Your contacts show here once the network runs.';
  if (peer.service.role !== 'leader') {
    return 'Another tab of this browser runs the network: your contacts and family are shown there.';
  }
  return 'Connecting to the people you know… This needs the doorway; your files work without it.';
}

function useTrustState(trust: TrustClient) {
  const [state, setState] = useState(trust.state);
  const [queued, setQueued] = useState(trust.queued);
  useEffect(() => {
    const stops = [
      listen<TrustState>(trust, 'state', setState),
      listen<{ queued: number }>(trust, 'queue', (q) => setQueued(q.queued)),
    ];
    setState(trust.state);
    setQueued(trust.queued);
    return () => {
      for (const stop of stops) stop();
    };
  }, [trust]);
  return { state, queued };
}

function TrustDetails({
  trust,
  family,
  familySnapshot,
}: Omit<Props, 'peer'> & { trust: TrustClient }) {
  const { state, queued } = useTrustState(trust);
  const [name, setName] = useState(savedDisplayName);
  const { contacts, loaded: contactsLoaded, error: contactsError } = useContacts(trust);
  const [error, setError] = useState<string>();
  const [asFamily, setAsFamily] = useState(false);
  const [busy, setBusy] = useState(false);
  const nameId = useId();
  const addId = useId();
  const familyId = useId();
  // Opened from someone's contact link (/contact/<agent>?name=…): ready to add them.
  const [adding, setAdding] = useState(() =>
    location.pathname.startsWith('/contact/') ? location.href : '',
  );
  const link = new URL(`/contact/${trust.me}`, location.origin);
  if (name.trim()) link.searchParams.set('name', name.trim());

  const saveName = (event: FormEvent) => {
    event.preventDefault();
    localStorage.setItem(NAME_KEY, name.trim());
    void trust
      .registerAgent({ display_name: name.trim() || savedDisplayName() })
      .catch((e) => setError(errorMessage(e)));
  };
  /** Names `agent` family: a `family` trust link, then the family key is granted to them. */
  const makeFamily = async (agent: AgentKey) => {
    if (family) await family.addMember(agent);
    else await trust.createRelationship(agent, 'family', { reach: 'local' });
  };
  const addContact = async (event: FormEvent) => {
    event.preventDefault();
    setError(undefined);
    setBusy(true);
    try {
      const { parseContactLink } = await import('../trust/index.ts');
      const contact = parseContactLink(adding);
      // Family is a kind of contact: one link says both.
      if (asFamily) await makeFamily(contact.agent);
      else await trust.createRelationship(contact.agent, 'contact');
      setAdding('');
      setAsFamily(false);
      contactsChanged();
    } catch (e) {
      setError(`${errorMessage(e)}`);
    } finally {
      setBusy(false);
    }
  };
  const makeContactFamily = async (agent: AgentKey) => {
    setError(undefined);
    setBusy(true);
    try {
      await makeFamily(agent);
      contactsChanged();
    } catch (e) {
      setError(errorMessage(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="trust__body">
      <p
        className="small"
        data-testid="trust-status"
        data-status={state.status}
        data-doorway={state.doorway}
      >
        {STATUS_LABELS[state.status]}
        {queued > 0 &&
          ` ${queued} ${queued === 1 ? 'change is' : 'changes are'} waiting to be sent.`}
      </p>
      <form className="trust__name" onSubmit={saveName}>
        <label htmlFor={nameId}>Your name</label>
        <input id={nameId} value={name} onChange={(e) => setName(e.currentTarget.value)} />
        <button type="submit">Save</button>
      </form>
      <p className="muted small">Give your contact link to people you know, so they can add you.</p>
      <div className="share">
        <input
          readOnly
          value={link.toString()}
          aria-label="Your contact link"
          data-testid="contact-link"
        />
        <CopyButton text={link.toString()} label="Copy your contact link" />
      </div>
      <h3
        className="small"
        data-testid="contacts-heading"
        data-status={contactsLoaded ? 'loaded' : 'loading'}
      >
        Contacts
      </h3>
      {contacts.length === 0 ? (
        <p className="muted small">No contacts yet: add someone from their contact link.</p>
      ) : (
        <ul className="trust__contacts">
          {contacts.map((c) => (
            <li
              key={c.agent}
              data-testid="contact"
              data-agent={c.agent}
              data-family={String(c.family)}
            >
              {c.name}{' '}
              <span className="muted small">
                (
                {c.types.length > 0
                  ? c.types.join(', ')
                  : `added you as ${c.theirTypes.join(', ')}`}
                )
              </span>
              {!c.family && (
                <>
                  {' '}
                  <button
                    type="button"
                    className="trust__make-family"
                    data-testid="make-family"
                    disabled={busy}
                    title="They will receive what you store for your family, sealed with your family key"
                    onClick={() => void makeContactFamily(c.agent)}
                  >
                    Make family
                  </button>
                </>
              )}
            </li>
          ))}
        </ul>
      )}
      <form className="trust__add" onSubmit={(e) => void addContact(e)}>
        <label htmlFor={addId}>Add a contact (their link or agent key)</label>
        <input
          id={addId}
          data-testid="add-contact-input"
          value={adding}
          onChange={(e) => setAdding(e.currentTarget.value)}
        />
        <button type="submit" data-testid="add-contact-button" disabled={!adding.trim() || busy}>
          Add
        </button>
        <label className="trust__family-check" htmlFor={familyId}>
          <input
            id={familyId}
            type="checkbox"
            data-testid="add-contact-family"
            checked={asFamily}
            onChange={(e) => setAsFamily(e.currentTarget.checked)}
          />
          Family: they receive what I store for my family
        </label>
      </form>
      <FamilyCluster
        snapshot={familySnapshot}
        reachable={state.status === 'connected'}
        nameOf={(agent) =>
          contacts.find((c) => c.agent === agent)?.name ?? `${agent.slice(0, 12)}…`
        }
      />
      {(error ?? contactsError) && (
        <p className="error small" role="alert">
          {error ?? contactsError}
        </p>
      )}
      <details className="disclosure">
        <summary>Technical details</summary>
        <p className="small">
          Agent key{' '}
          <code data-testid="my-agent-key" title={trust.me}>{`${trust.me.slice(0, 16)}…`}</code>
        </p>
        <p className="small">
          Trust layer reached through {state.doorway ?? 'the doorway'}: {state.status}
        </p>
      </details>
    </div>
  );
}
