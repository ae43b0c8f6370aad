import { type DragEvent, useId, useRef, useState } from 'react';
import type { Reach } from '../content/index.ts';
import type { FamilySnapshot } from '../family/index.ts';
import type { AgentKey } from '../reach/index.ts';
import type { TrustClient } from '../trust/index.ts';
import { useContacts } from './useContacts.ts';

interface Props {
  disabled: boolean;
  /** `invited`: the agents named (at least one). */
  onFiles: (files: File[], reach: Reach, invited?: AgentKey[]) => void;
  /** The trust layer, for the contacts an invited item can name (undefined in follower tabs). */
  trust?: TrustClient | undefined;
  /** The family cluster a `local` item is sealed for (undefined in follower tabs). */
  family?: FamilySnapshot | undefined;
}

/**
 * The reaches this version can store, widest first (the trust-scoped ones between local and
 * commons need trust links the app does not make yet).
 */
const CHOICES: { reach: Reach; label: string }[] = [
  { reach: 'commons', label: 'Anyone (commons)' },
  { reach: 'local', label: 'Only my family (local, encrypted)' },
  { reach: 'invited', label: 'Only people I name (invited, encrypted)' },
  { reach: 'private', label: 'Only my devices (private, encrypted)' },
];
const REACH_KEY = 'elohim-ingest-reach';

function savedReach(): Reach {
  const saved = localStorage.getItem(REACH_KEY);
  return CHOICES.find((c) => c.reach === saved)?.reach ?? 'commons';
}

/** Takes files by drag-and-drop anywhere on the zone, or through the system file picker. */
export function DropZone({ disabled, onFiles, trust, family }: Props) {
  const [over, setOver] = useState(false);
  const [reach, setReach] = useState<Reach>(savedReach);
  const [invited, setInvited] = useState<ReadonlySet<AgentKey>>(new Set());
  const [error, setError] = useState<string>();
  const input = useRef<HTMLInputElement>(null);
  const hintId = useId();
  const reachId = useId();
  const { contacts } = useContacts(trust);

  const nameOf = (agent: AgentKey) =>
    contacts.find((c) => c.agent === agent)?.name ?? `${agent.slice(0, 12)}…`;

  /** Hands the files on, unless the reach still lacks something (then says what). */
  const take = (files: File[]) => {
    if (reach === 'local') {
      // Sealed for the family cluster key, which exists once there is a family member.
      if (!family?.cluster || family.members.length === 0) {
        setError(
          !trust
            ? 'Your family is known in the tab that runs the network: store family items there.'
            : 'An item for your family needs at least one family member, and you have none yet: under People, tick "Family" when you add a contact, or press "Make family" beside one.',
        );
        return;
      }
      setError(undefined);
      onFiles(files, reach);
      return;
    }
    if (reach !== 'invited') {
      setError(undefined);
      onFiles(files, reach);
      return;
    }
    // Only contacts still listed count (one removed since it was ticked is not named).
    const named = contacts.filter((c) => invited.has(c.agent)).map((c) => c.agent);
    if (named.length === 0) {
      setError(
        contacts.length === 0
          ? 'An invited item needs at least one person, and you have no contacts yet: add one under People from their contact link.'
          : 'Choose at least one person to invite.',
      );
      return;
    }
    setError(undefined);
    onFiles(files, reach, named);
  };

  const onDrop = (event: DragEvent) => {
    event.preventDefault();
    setOver(false);
    if (!disabled && event.dataTransfer.files.length > 0) take([...event.dataTransfer.files]);
  };

  return (
    <section
      className={`dropzone${over ? ' dropzone--over' : ''}`}
      data-testid="dropzone"
      aria-label="Add files"
      onDragOver={(event) => {
        event.preventDefault();
        setOver(true);
      }}
      onDragLeave={() => setOver(false)}
      onDrop={onDrop}
    >
      <h2 className="visually-hidden">Add files</h2>
      <span className="dropzone__icon" aria-hidden="true">
        ⇪
      </span>
      <p id={hintId} className="dropzone__hint">
        Drop files here to store them in this browser
        <span className="muted small dropzone__sub">
          Any type, any size: every read is checked, so what you get back is exactly what you
          stored.
        </span>
      </p>
      <label className="dropzone__reach" htmlFor={reachId}>
        Who may receive them
        <select
          id={reachId}
          data-testid="ingest-reach"
          value={reach}
          onChange={(event) => {
            const next = event.currentTarget.value as Reach;
            setReach(next);
            setError(undefined);
            localStorage.setItem(REACH_KEY, next);
          }}
        >
          {CHOICES.map((c) => (
            <option key={c.reach} value={c.reach}>
              {c.label}
            </option>
          ))}
        </select>
      </label>
      {reach === 'local' && (
        <p className="muted small dropzone__family" data-testid="family-audience">
          {!trust
            ? 'Your family is known in the tab that runs the network: store family items there.'
            : family && family.members.length > 0
              ? `Sealed for your family: ${family.members.map((m) => nameOf(m.agent)).join(', ')}.`
              : 'No family yet: mark a contact as family under People.'}
        </p>
      )}
      {reach === 'invited' && (
        <fieldset className="dropzone__invite" data-testid="invite-picker">
          <legend>People who may receive them</legend>
          {!trust ? (
            <p className="muted small">
              Your contacts are in the tab that runs the network: store invited items there.
            </p>
          ) : contacts.length === 0 ? (
            <p className="muted small">No contacts yet: add someone under People.</p>
          ) : (
            contacts.map((c) => (
              <label key={c.agent} className="dropzone__invitee" title={c.agent}>
                <input
                  type="checkbox"
                  data-testid="invite-contact"
                  value={c.agent}
                  checked={invited.has(c.agent)}
                  onChange={(event) => {
                    const on = event.currentTarget.checked;
                    setInvited((was) => {
                      const next = new Set(was);
                      if (on) next.add(c.agent);
                      else next.delete(c.agent);
                      return next;
                    });
                    setError(undefined);
                  }}
                />
                {c.name}
              </label>
            ))
          )}
        </fieldset>
      )}
      {error && (
        <p className="error small" role="alert" data-testid="ingest-error">
          {error}
        </p>
      )}
      <button
        type="button"
        className="primary"
        disabled={disabled}
        aria-describedby={hintId}
        onClick={() => input.current?.click()}
      >
        Choose files…
      </button>
      <input
        ref={input}
        type="file"
        multiple
        hidden
        data-testid="file-input"
        onChange={(event) => {
          const files = event.currentTarget.files;
          if (files && files.length > 0) take([...files]);
          event.currentTarget.value = '';
        }}
      />
    </section>
  );
}
