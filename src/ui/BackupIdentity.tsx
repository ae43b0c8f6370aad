import { type FormEvent, useId, useState } from 'react';
import type { StoredManifest } from '../content/index.ts';
import type { TrustClient } from '../trust/index.ts';
import { errorMessage } from './format.ts';
import { LazyDisclosure } from './LazyDisclosure.tsx';
import { usePersonLists } from './usePersonLists.ts';

/** Shown and checked before anything is derived (src/backup's `MIN_PASSPHRASE`). */
const MIN = 10;

type State =
  | { status: 'idle' }
  | { status: 'working'; progress: number }
  | { status: 'done'; file: string }
  | { status: 'failed'; error: string };

/** The file name: `elohim-backup-<date>.json`. */
function fileName(now = new Date()): string {
  return `elohim-backup-${now.toISOString().slice(0, 10)}.json`;
}

function download(text: string, name: string): void {
  const url = URL.createObjectURL(new Blob([text], { type: 'application/json' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.click();
  // Freed once the browser has surely read it (some read the URL after this task ends).
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

/**
 * "Back up this identity": a passphrase typed twice, then a file with this identity, its
 * contacts, family key, settings and the list of its items, encrypted with the passphrase
 * (src/backup). Private items are not in it: only the person's own devices hold them.
 */
export function BackupIdentity(props: {
  trust: TrustClient | undefined;
  items: StoredManifest[] | undefined;
}) {
  // Closed, it reads nothing: the contacts are asked of the trust layer only once it is opened.
  return (
    <LazyDisclosure summary="Back up this identity" testId="backup">
      {() => <BackupForm {...props} />}
    </LazyDisclosure>
  );
}

function BackupForm({
  trust,
  items,
}: {
  trust: TrustClient | undefined;
  items: StoredManifest[] | undefined;
}) {
  const person = usePersonLists(trust, items);
  const { people, loaded } = person;
  const [pass, setPass] = useState('');
  const [again, setAgain] = useState('');
  const [state, setState] = useState<State>({ status: 'idle' });
  const passId = useId();
  const againId = useId();
  const hintId = useId();
  const errorId = useId();

  const listed = person.items.filter((item) => item.reach !== 'private');
  const privateCount = person.items.length - listed.length;

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if ([...pass].length < MIN) {
      setState({ status: 'failed', error: `The passphrase needs at least ${MIN} characters.` });
      return;
    }
    if (pass !== again) {
      setState({ status: 'failed', error: 'The two passphrases differ. Type the same one twice.' });
      return;
    }
    setState({ status: 'working', progress: 0 });
    try {
      const { collectBackup, sealBackup } = await import('../backup/index.ts');
      const payload = await collectBackup({ contacts: people, items: listed });
      const text = await sealBackup(payload, pass, {
        onProgress: (progress) => setState({ status: 'working', progress }),
      });
      const name = fileName();
      download(text, name);
      setPass('');
      setAgain('');
      setState({ status: 'done', file: name });
    } catch (error) {
      setState({ status: 'failed', error: errorMessage(error) });
    }
  };

  return (
    <>
      <p className="muted small">
        A file that brings you back on another browser or after this one is cleared: who you are,
        your contacts and family, your settings and the list of your items (the items themselves
        come back from the peers and doorways that hold them). Anyone with this file and its
        passphrase can be you. Keep both safe, and apart.
      </p>
      <p className="muted small" data-testid="backup-contents">
        It will hold {people.length} {people.length === 1 ? 'contact' : 'contacts'}
        {trust && !loaded ? ' (still reading your contacts…)' : ''}
        {!trust ? ' (contacts are read in the tab that runs the network)' : ''} and {listed.length}{' '}
        {listed.length === 1 ? 'item' : 'items'}.
        {privateCount > 0 &&
          ` ${privateCount} private ${privateCount === 1 ? 'item is' : 'items are'} not in it: only your own devices hold private items, so no backup can bring them back (add a device to keep them on two).`}
      </p>
      <form className="backup-form" onSubmit={(e) => void submit(e)} noValidate>
        <label htmlFor={passId}>Passphrase (at least {MIN} characters)</label>
        <input
          id={passId}
          type="password"
          autoComplete="new-password"
          value={pass}
          aria-describedby={state.status === 'failed' ? `${hintId} ${errorId}` : hintId}
          data-testid="backup-passphrase"
          onChange={(e) => setPass(e.currentTarget.value)}
        />
        <label htmlFor={againId}>The same passphrase again</label>
        <input
          id={againId}
          type="password"
          autoComplete="new-password"
          value={again}
          data-testid="backup-passphrase-again"
          onChange={(e) => setAgain(e.currentTarget.value)}
        />
        <p id={hintId} className="muted small">
          Nobody can recover a forgotten passphrase, not even with the file.
        </p>
        <button type="submit" disabled={state.status === 'working'} data-testid="backup-save">
          Save a backup file
        </button>
        {state.status === 'working' && (
          <progress
            max={1}
            value={state.progress}
            aria-label="Locking the backup with your passphrase"
          />
        )}
        {state.status === 'done' && (
          <p role="status" data-testid="backup-done">
            Saved as {state.file}. Keep it somewhere safe, away from this device.
          </p>
        )}
        {state.status === 'failed' && (
          <p id={errorId} role="alert" className="error small" data-testid="backup-error">
            {state.error}
          </p>
        )}
      </form>
    </>
  );
}
