import { useEffect, useState } from 'react';
import type { RecoveryProgress } from '../recovery/index.ts';
import type { TrustClient, TrustSignal } from '../trust/index.ts';
import { listen } from '../wire/index.ts';
import { CopyButton } from './CopyButton.tsx';
import { errorMessage } from './format.ts';
import { recoveryLink } from './HelpRecover.tsx';
import { LazyDisclosure } from './LazyDisclosure.tsx';

/** How often the releases are read again while the form is open (a signal also says so). */
const POLL_MS = 3_000;

type State =
  | { status: 'waiting'; progress: RecoveryProgress[] }
  | { status: 'restoring' }
  | { status: 'failed'; error: string };

/**
 * "Recover with trusted contacts", on a new browser: a link and a code for the person to send
 * and read to the contacts they chose; as each releases their share it is counted, and once
 * enough have, the identity is put back together and restored like a backup (src/recovery,
 * src/backup): every tab reloads as the person.
 */
export function RecoverWithContacts({ trust }: { trust: TrustClient | undefined }) {
  return (
    <LazyDisclosure summary="Recover with trusted contacts" testId="social-recover">
      {() =>
        trust ? (
          <Waiting trust={trust} />
        ) : (
          <p className="muted small">Open this in the tab that runs the network.</p>
        )
      }
    </LazyDisclosure>
  );
}

function Waiting({ trust }: { trust: TrustClient }) {
  const [code, setCode] = useState<string>();
  const [state, setState] = useState<State>({ status: 'waiting', progress: [] });
  const link = recoveryLink(trust.me);

  useEffect(() => {
    const abort = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    let busy = false;
    const check = async () => {
      if (busy || abort.signal.aborted || trust.state.status !== 'connected') return;
      busy = true;
      try {
        const [recovery, identity, backup] = await Promise.all([
          import('../recovery/index.ts'),
          import('../identity/index.ts'),
          import('../backup/index.ts'),
        ]);
        const me = await identity.pageIdentity();
        const releases = await trust.myRecoveryReleases({ signal: abort.signal });
        const progress = await recovery.recoverFrom(releases, me);
        if (abort.signal.aborted) return;
        const done = progress.find((p) => p.payload);
        if (done?.payload) {
          await backup.stageRestore(done.payload);
          setState({ status: 'restoring' });
          backup.announceRestore();
          location.reload();
          return;
        }
        setState({ status: 'waiting', progress });
      } catch (error) {
        if (!abort.signal.aborted) setState({ status: 'failed', error: errorMessage(error) });
      } finally {
        busy = false;
      }
    };
    const loop = () => {
      void check().finally(() => {
        if (!abort.signal.aborted) timer = setTimeout(loop, POLL_MS);
      });
    };
    void import('../recovery/index.ts').then(async (r) => setCode(await r.requestCode(trust.me)));
    loop();
    const stop = listen<TrustSignal>(trust, 'signal', (s) => {
      if (s.type === 'RecoveryShareReleased') void check();
    });
    return () => {
      abort.abort();
      clearTimeout(timer);
      stop();
    };
  }, [trust]);

  return (
    <div className="recover" data-testid="recover-waiting">
      <p className="warning small">
        Recovering replaces who you are in this browser with the person your contacts help bring
        back. Use a new browser, or one whose identity you no longer need.
      </p>
      <ol className="small">
        <li>
          Send this link to the trusted contacts you chose:{' '}
          <code data-testid="recover-link">{link}</code>{' '}
          <CopyButton text={link} label="Copy your recovery link" />
        </li>
        <li>
          Call each of them (or meet them) and read them this code:{' '}
          <strong data-testid="recover-code">{code ?? '…'}</strong>
        </li>
        <li>Keep this page open. When enough of them have helped, you are back.</li>
      </ol>
      {state.status === 'waiting' &&
        (state.progress.length === 0 ? (
          <p role="status" className="muted small" data-testid="recover-progress" data-have={0}>
            No trusted contact has helped yet.
          </p>
        ) : (
          state.progress.map((p) => (
            <div key={`${p.owner}/${p.setup}`}>
              <p role="status" data-testid="recover-progress" data-have={p.have} data-need={p.need}>
                {p.have} of the {p.need} trusted contacts needed have helped.
                {p.have >= p.need && ' Their pieces do not fit together yet: waiting for one more.'}
              </p>
              {p.refused.map((r) => (
                <p key={r.guardian} className="error small" data-testid="recover-refused">
                  {r.reason}
                </p>
              ))}
            </div>
          ))
        ))}
      {state.status === 'restoring' && (
        <p role="status" data-testid="recover-status">
          You are back. The app reloads as you.
        </p>
      )}
      {state.status === 'failed' && (
        <p role="alert" className="error small" data-testid="recover-error">
          {state.error}
        </p>
      )}
    </div>
  );
}
