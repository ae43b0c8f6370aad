import { type FormEvent, useId, useState } from 'react';
import { errorMessage } from './format.ts';

type State =
  | { status: 'idle' }
  | { status: 'working'; progress: number }
  | { status: 'restoring' }
  | { status: 'failed'; error: string };

/**
 * "Restore from a backup": a backup file and its passphrase. The file is checked as soon as it
 * is chosen; a wrong passphrase or a damaged file is said and changes nothing. On success the
 * restore is staged and every tab of the app reloads to start as the restored person
 * (src/backup). `replaces`: this profile has an identity in use, and the form says it goes.
 */
export function RestoreBackup({ replaces }: { replaces: boolean }) {
  const [file, setFile] = useState<string>();
  const [pass, setPass] = useState('');
  const [state, setState] = useState<State>({ status: 'idle' });
  const fileId = useId();
  const passId = useId();
  const warnId = useId();

  const choose = async (chosen: File | undefined) => {
    setFile(undefined);
    setState({ status: 'idle' });
    if (!chosen) return;
    try {
      const { parseBackup, readBackupFile } = await import('../backup/index.ts');
      const text = await readBackupFile(chosen);
      parseBackup(text);
      setFile(text);
    } catch (error) {
      setState({ status: 'failed', error: errorMessage(error) });
    }
  };

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (!file) {
      setState({ status: 'failed', error: 'Choose a backup file first.' });
      return;
    }
    setState({ status: 'working', progress: 0 });
    try {
      const { announceRestore, openBackup, stageRestore } = await import('../backup/index.ts');
      const payload = await openBackup(file, pass, {
        onProgress: (progress) => setState({ status: 'working', progress }),
      });
      await stageRestore(payload);
      setState({ status: 'restoring' });
      // Every tab (this one too) reloads and applies it before reading the key.
      announceRestore();
      location.reload();
    } catch (error) {
      setState({ status: 'failed', error: errorMessage(error) });
    }
  };

  return (
    <form className="restore" onSubmit={(e) => void submit(e)} noValidate data-testid="restore">
      {replaces && (
        <p id={warnId} className="warning small" data-testid="restore-warning">
          Restoring replaces who you are in this browser with the person in the backup. If this
          browser's identity is not backed up, it is lost. Private items stored here stay here.
        </p>
      )}
      <label htmlFor={fileId}>Backup file</label>
      <input
        id={fileId}
        type="file"
        accept=".json,application/json"
        aria-describedby={replaces ? warnId : undefined}
        data-testid="restore-file"
        onChange={(e) => void choose(e.currentTarget.files?.[0])}
      />
      <label htmlFor={passId}>Its passphrase</label>
      <input
        id={passId}
        type="password"
        autoComplete="current-password"
        value={pass}
        data-testid="restore-passphrase"
        onChange={(e) => setPass(e.currentTarget.value)}
      />
      <button
        type="submit"
        disabled={state.status === 'working' || state.status === 'restoring'}
        data-testid="restore-submit"
      >
        Restore
      </button>
      {state.status === 'working' && (
        <progress max={1} value={state.progress} aria-label="Opening the backup" />
      )}
      {state.status === 'restoring' && (
        <p role="status" data-testid="restore-status">
          Restored. The app reloads as you.
        </p>
      )}
      {state.status === 'failed' && (
        <p role="alert" className="error small" data-testid="restore-error">
          {state.error}
        </p>
      )}
    </form>
  );
}
