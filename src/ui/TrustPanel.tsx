import { type FormEvent, useEffect, useId, useState } from 'react';
import type { TrustClient, TrustState } from '../trust/index.ts';
import { CopyButton } from './CopyButton.tsx';
import { NAME_KEY, savedDisplayName } from './displayName.ts';
import { errorMessage } from './format.ts';
import { contactsChanged, useContacts } from './useContacts.ts';

const STATUS_LABELS: Record<TrustState['status'], string> = {
  connecting: 'connecting…',
  connected: 'connected',
  offline: 'offline — changes wait and are sent when it is back',
};

/**
 * Who I am in the trust layer (the doorway's Holochain conductor EMULATOR): my name, my agent
 * key and a contact link to share; the people I have a trust link with, and adding one from
 * their contact link.
 */
export function TrustPanel({ trust }: { trust: TrustClient | undefined }) {
  return (
    <section className="panel trust" aria-labelledby="trust-heading" data-testid="trust-panel">
      <h2 id="trust-heading">People</h2>
      {trust ? (
        <TrustDetails trust={trust} />
      ) : (
        <p className="muted small">
          The tab that runs the network also holds your trust-layer connection: open People there.
        </p>
      )}
    </section>
  );
}

function useTrustState(trust: TrustClient) {
  const [state, setState] = useState(trust.state);
  const [queued, setQueued] = useState(trust.queued);
  useEffect(() => {
    const stops = [trust.on('state', setState), trust.on('queue', (q) => setQueued(q.queued))];
    setState(trust.state);
    setQueued(trust.queued);
    return () => {
      for (const stop of stops) stop();
    };
  }, [trust]);
  return { state, queued };
}

function TrustDetails({ trust }: { trust: TrustClient }) {
  const { state, queued } = useTrustState(trust);
  const [name, setName] = useState(savedDisplayName);
  const { contacts, error: contactsError } = useContacts(trust);
  const [error, setError] = useState<string>();
  const nameId = useId();
  const addId = useId();
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
  const addContact = async (event: FormEvent) => {
    event.preventDefault();
    setError(undefined);
    try {
      const { parseContactLink } = await import('../trust/index.ts');
      const contact = parseContactLink(adding);
      await trust.createRelationship(contact.agent, 'contact');
      setAdding('');
      contactsChanged();
    } catch (e) {
      setError(`${errorMessage(e)}`);
    }
  };

  return (
    <div className="trust__body">
      <p className="small" data-testid="trust-status" data-status={state.status}>
        Trust layer (Holochain conductor emulator at the doorway): {STATUS_LABELS[state.status]}
        {queued > 0 && ` · ${queued} change(s) waiting`}
      </p>
      <form className="trust__name" onSubmit={saveName}>
        <label htmlFor={nameId}>Your name</label>
        <input id={nameId} value={name} onChange={(e) => setName(e.currentTarget.value)} />
        <button type="submit">Save</button>
      </form>
      <p className="small">
        Agent key{' '}
        <code data-testid="my-agent-key" title={trust.me}>{`${trust.me.slice(0, 16)}…`}</code>
      </p>
      <div className="share">
        <input
          readOnly
          value={link.toString()}
          aria-label="Your contact link"
          data-testid="contact-link"
        />
        <CopyButton text={link.toString()} label="Copy your contact link" />
      </div>
      <h3 className="small">Contacts</h3>
      {contacts.length === 0 ? (
        <p className="muted small">No contacts yet: add someone from their contact link.</p>
      ) : (
        <ul className="trust__contacts">
          {contacts.map(({ agent, link: l, name: who }) => (
            <li key={agent} data-testid="contact">
              {who} <span className="muted small">({l.type})</span>
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
        <button type="submit" data-testid="add-contact-button" disabled={!adding.trim()}>
          Add
        </button>
      </form>
      {(error ?? contactsError) && (
        <p className="error small" role="alert">
          {error ?? contactsError}
        </p>
      )}
    </div>
  );
}
