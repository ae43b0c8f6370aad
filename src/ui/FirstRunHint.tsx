import { useId, useState } from 'react';
import type { TrustClient } from '../trust/index.ts';
import { RecoverWithContacts } from './RecoverWithContacts.tsx';
import { RestoreBackup } from './RestoreBackup.tsx';

const DISMISSED_KEY = 'elohim-first-run-dismissed';

/**
 * What this is and what to do first, for a profile with nothing in it yet. It goes by itself
 * once the library has something, or for good when dismissed.
 */
export function FirstRunHint({ empty, trust }: { empty: boolean; trust: TrustClient | undefined }) {
  const [dismissed, setDismissed] = useState(() => localStorage.getItem(DISMISSED_KEY) === '1');
  const [restoring, setRestoring] = useState(false);
  const titleId = useId();
  if (!empty || dismissed) return null;
  return (
    <section className="first-run" aria-labelledby={titleId} data-testid="first-run">
      <div>
        <h2 id={titleId}>Welcome</h2>
        <p>
          Elohim keeps your files in this browser and shares them with a link: whoever opens it gets
          the file from the browsers that hold it.
        </p>
        <p>
          To start, drop a file below or press “Choose files…”, then share it. Got a link from
          someone? Open it here to get their file.
        </p>
        <p>
          Using Elohim on another device? There, open Settings → Your devices → “Add a device”, and
          open the link it shows here: this browser becomes you too.
        </p>
        <p>
          Used Elohim before, on another browser?{' '}
          <button
            type="button"
            className="linklike"
            aria-expanded={restoring}
            data-testid="first-run-restore"
            onClick={() => setRestoring((open) => !open)}
          >
            Restore from a backup
          </button>
        </p>
        {restoring && <RestoreBackup replaces={false} />}
        <p>Lost every device and have no backup file? Your trusted contacts can bring you back:</p>
        <RecoverWithContacts trust={trust} />
      </div>
      <button
        type="button"
        onClick={() => {
          localStorage.setItem(DISMISSED_KEY, '1');
          setDismissed(true);
        }}
      >
        Got it
      </button>
    </section>
  );
}
