import { type FormEvent, useId, useRef, useState } from 'react';
import type { StoredManifest } from '../content/index.ts';
import type { TrustClient } from '../trust/index.ts';
import { BackupIdentity } from './BackupIdentity.tsx';
import { parseDoorway, saveDoorways, savedDoorways } from './doorwaySettings.ts';
import { KeepForOthersSettings } from './KeepForOthersSettings.tsx';
import { RecoverWithContacts } from './RecoverWithContacts.tsx';
import { RecoveryGuardians } from './RecoveryGuardians.tsx';
import { RestoreBackup } from './RestoreBackup.tsx';
import { keepOnDoorway, setKeepOnDoorway } from './replicaSettings.ts';
import { configuredDoorways } from './usePeerNode.ts';
import { YourDevices } from './YourDevices.tsx';

/**
 * Settings that change how this browser joins the network (saved at once, applied on reload),
 * and backing up or restoring who you are.
 */
export function SettingsPanel({
  trust,
  items,
}: {
  trust: TrustClient | undefined;
  items: StoredManifest[] | undefined;
}) {
  // What the running node was started with: compared against the saved list to tell whether
  // a reload is needed for a change to take effect.
  const [running] = useState(configuredDoorways);
  const [saved, setSaved] = useState<string[]>(() => savedDoorways() ?? []);
  const [draft, setDraft] = useState('');
  const [error, setError] = useState<string | undefined>();
  const input = useRef<HTMLInputElement>(null);
  const inputId = useId();
  const errorId = useId();
  const hintId = useId();
  const keepId = useId();
  const keepHintId = useId();
  const [keep, setKeep] = useState(keepOnDoorway);

  const effective = saved.length > 0 ? saved : [location.origin];
  const changed = effective.join('\n') !== running.join('\n');

  const update = (next: string[]) => {
    saveDoorways(next);
    setSaved(next);
  };

  const add = (event: FormEvent) => {
    event.preventDefault();
    const parsed = parseDoorway(draft);
    if ('error' in parsed) {
      setError(parsed.error);
      input.current?.focus();
      return;
    }
    if (effective.includes(parsed.origin)) {
      setError(`${parsed.origin} is already in the list.`);
      input.current?.focus();
      return;
    }
    // The first addition keeps the default (this site): adding a second doorway should not
    // silently drop the one in use. It can be removed afterwards.
    update([...effective, parsed.origin]);
    setDraft('');
    setError(undefined);
  };

  return (
    <section className="panel settings" aria-labelledby="settings-heading" data-testid="settings">
      <h2 id="settings-heading">Settings</h2>
      {/* Rarely changed: closed, with the count in its summary (open while a change waits for
          a reload, so "Reload now" is in sight). */}
      <details className="disclosure" data-testid="doorway-settings" open={changed || undefined}>
        <summary>
          Doorways{' '}
          <span className="muted small">
            {effective.length === 1 ? 'this site' : `${effective.length} doorways`}
          </span>
        </summary>
        <p className="muted small">
          Doorways introduce this browser to other peers and help set up direct connections. Files
          go peer to peer; a doorway keeps only the public items it is given (below).
        </p>
        <ul className="doorway-list" aria-label="Doorways">
          {effective.map((origin) => (
            <li key={origin} data-testid="doorway-setting">
              <code>{origin}</code>
              {saved.length === 0 ? (
                <span className="muted small"> (this site, used by default)</span>
              ) : (
                <button
                  type="button"
                  className="linklike"
                  aria-label={`Remove doorway ${origin}`}
                  onClick={() => update(saved.filter((d) => d !== origin))}
                >
                  Remove
                </button>
              )}
            </li>
          ))}
        </ul>
        <form className="doorway-form" onSubmit={add} noValidate>
          <label htmlFor={inputId}>Add a doorway</label>
          <div className="doorway-form__row">
            <input
              ref={input}
              id={inputId}
              type="text"
              inputMode="url"
              autoComplete="url"
              spellCheck={false}
              placeholder="https://doorway.example"
              value={draft}
              aria-invalid={error ? true : undefined}
              aria-describedby={error ? `${errorId} ${hintId}` : hintId}
              data-testid="doorway-input"
              onChange={(event) => {
                setDraft(event.currentTarget.value);
                if (error) setError(undefined);
              }}
            />
            <button type="submit">Add</button>
          </div>
          {error && (
            <p id={errorId} role="alert" className="error small" data-testid="doorway-error">
              {error}
            </p>
          )}
        </form>
        <p id={hintId} className="muted small" data-testid="doorway-apply">
          {changed
            ? 'Saved. The network uses the new list after a reload.'
            : 'Changes are saved at once and apply when the page reloads.'}
        </p>
        {changed && (
          <button type="button" className="primary" onClick={() => location.reload()}>
            Reload now
          </button>
        )}
      </details>
      <h3>Public items</h3>
      <label className="settings__check" htmlFor={keepId}>
        <input
          id={keepId}
          type="checkbox"
          checked={keep}
          aria-describedby={keepHintId}
          data-testid="keep-on-doorway"
          onChange={(event) => {
            const on = event.currentTarget.checked;
            setKeepOnDoorway(on);
            setKeep(on);
          }}
        />
        Keep public items on the doorway
      </label>
      <p id={keepHintId} className="muted small">
        The public (commons) items you store are also given to the doorway, which keeps a copy and
        serves it to anyone with the link while this browser is away. Turned off, nothing new is
        given to it; what the doorway keeps already stays there. Applies at once.
      </p>
      <KeepForOthersSettings />
      <h3>Your identity</h3>
      <YourDevices trust={trust} items={items} />
      <BackupIdentity trust={trust} items={items} />
      <RecoveryGuardians trust={trust} />
      <details className="disclosure" data-testid="restore-settings">
        <summary>Restore from a backup</summary>
        <RestoreBackup replaces />
      </details>
      <RecoverWithContacts trust={trust} />
    </section>
  );
}
