import { useEffect, useRef, useState } from 'react';
import type { ContentStore } from '../content/index.ts';
import { errorMessage } from './format.ts';

interface Props {
  store: ContentStore;
  hash: string;
  label: string;
  onRemoved: () => void;
}

/** Remove, asked twice: it deletes the only copy this browser has, and nothing can undo it. */
export function RemoveItem({ store, hash, label, onRemoved }: Props) {
  const [step, setStep] = useState<'idle' | 'confirm' | 'removing'>('idle');
  const [error, setError] = useState<string | undefined>();
  const keep = useRef<HTMLButtonElement>(null);

  // The safe choice takes focus, so Enter pressed twice does not delete by accident.
  useEffect(() => {
    if (step === 'confirm') keep.current?.focus();
  }, [step]);

  const remove = async () => {
    setStep('removing');
    setError(undefined);
    try {
      await store.remove(hash);
      onRemoved();
    } catch (e) {
      setError(`${errorMessage(e)} Nothing was removed; try again.`);
      setStep('confirm');
    }
  };

  if (step === 'idle') {
    return (
      <button type="button" className="danger" onClick={() => setStep('confirm')}>
        Remove…
      </button>
    );
  }
  return (
    <fieldset className="confirm" data-testid="confirm-remove">
      <legend className="visually-hidden">Confirm removal</legend>
      <p>
        Remove <strong>{label}</strong> from this browser? Peers that already fetched it keep their
        copies; you can fetch it back from them with its share link.
      </p>
      <div className="confirm__actions">
        <button
          type="button"
          className="danger danger--solid"
          disabled={step === 'removing'}
          onClick={() => void remove()}
        >
          {step === 'removing' ? 'Removing…' : 'Remove'}
        </button>
        <button
          ref={keep}
          type="button"
          disabled={step === 'removing'}
          onClick={() => setStep('idle')}
        >
          Keep it
        </button>
      </div>
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
    </fieldset>
  );
}
