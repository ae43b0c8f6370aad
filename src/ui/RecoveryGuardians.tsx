import { type FormEvent, useId, useState } from 'react';
import type { TrustClient } from '../trust/index.ts';
import { errorMessage } from './format.ts';
import { LazyDisclosure } from './LazyDisclosure.tsx';
import { useContacts } from './useContacts.ts';
import { useRecoveryShares } from './useRecoveryShares.ts';

type State = { status: 'idle' | 'saving' | 'saved' } | { status: 'failed'; error: string };

/**
 * "Trusted contacts for recovery": the person chooses some of their contacts and how many of
 * them must help; their identity and family key are split so that any that many can bring
 * them back on a new browser, and fewer learn nothing (src/recovery). Saving again replaces
 * the last choice: the old shares stop working.
 */
export function RecoveryGuardians({ trust }: { trust: TrustClient | undefined }) {
  return (
    <LazyDisclosure summary="Trusted contacts for recovery" testId="recovery-setup">
      {() =>
        trust ? (
          <GuardiansForm trust={trust} />
        ) : (
          <p className="muted small">Choose them in the tab that runs the network.</p>
        )
      }
    </LazyDisclosure>
  );
}

function GuardiansForm({ trust }: { trust: TrustClient }) {
  const { contacts, loaded } = useContacts(trust);
  const { mine, refresh } = useRecoveryShares(trust);
  const [chosen, setChosen] = useState<string[]>([]);
  const [threshold, setThreshold] = useState(2);
  const [state, setState] = useState<State>({ status: 'idle' });
  const thresholdId = useId();
  const name = (agent: string) =>
    contacts.find((c) => c.agent === agent)?.name ?? `${agent.slice(0, 12)}…`;
  const need = Math.min(Math.max(threshold, 2), Math.max(chosen.length, 2));

  const save = async (event: FormEvent) => {
    event.preventDefault();
    setState({ status: 'saving' });
    try {
      const [{ collectBackup }, { makeRecoverySetup, recoverySecret }, { pageIdentity }] =
        await Promise.all([
          import('../backup/index.ts'),
          import('../recovery/index.ts'),
          import('../identity/index.ts'),
        ]);
      const me = await pageIdentity();
      const secret = recoverySecret(await collectBackup({ contacts: [], items: [] }));
      await trust.setRecoveryGuardians(await makeRecoverySetup(secret, me, chosen, need));
      await refresh();
      setChosen([]);
      setState({ status: 'saved' });
    } catch (error) {
      setState({ status: 'failed', error: errorMessage(error) });
    }
  };

  const current = mine?.[0];
  return (
    <>
      <p className="muted small">
        If you lose every device, these people can bring you back: each keeps a sealed piece of your
        identity that only they can open, and any few of them together give it back on your new
        browser. Fewer than that learn nothing; that many together could act as you, so choose
        people who would not, and whom you can reach by phone or in person.
      </p>
      <p className="small" data-testid="recovery-current" data-threshold={current?.threshold ?? 0}>
        {current
          ? `Any ${current.threshold} of ${mine.map((s) => name(s.guardian)).join(', ')} can bring you back.`
          : mine
            ? 'No trusted contacts chosen yet.'
            : 'Reading…'}
      </p>
      <form className="recovery-form" onSubmit={(e) => void save(e)} noValidate>
        <fieldset>
          <legend>Choose 2 to 10 of your contacts</legend>
          {loaded && contacts.length < 2 && (
            <p className="muted small">Add at least two contacts (People) first.</p>
          )}
          {contacts.map((contact) => (
            <label key={contact.agent} className="settings__check">
              <input
                type="checkbox"
                data-testid="recovery-guardian"
                data-agent={contact.agent}
                checked={chosen.includes(contact.agent)}
                onChange={(e) => {
                  const on = e.currentTarget.checked;
                  setChosen((list) =>
                    on ? [...list, contact.agent] : list.filter((a) => a !== contact.agent),
                  );
                }}
              />
              {contact.name}
            </label>
          ))}
        </fieldset>
        <label htmlFor={thresholdId}>How many of them must help</label>
        <input
          id={thresholdId}
          type="number"
          min={2}
          max={Math.max(chosen.length, 2)}
          value={need}
          data-testid="recovery-threshold"
          onChange={(e) => setThreshold(Number(e.currentTarget.value))}
        />
        <button
          type="submit"
          disabled={state.status === 'saving' || chosen.length < 2}
          data-testid="recovery-save"
        >
          {current ? 'Replace my trusted contacts' : 'Save my trusted contacts'}
        </button>
        {state.status === 'saved' && (
          <p role="status" data-testid="recovery-saved">
            Saved. Tell them: if you ever ask, they open your recovery link and check the code you
            read them.
          </p>
        )}
        {state.status === 'failed' && (
          <p role="alert" className="error small" data-testid="recovery-error">
            {state.error}
          </p>
        )}
      </form>
    </>
  );
}
