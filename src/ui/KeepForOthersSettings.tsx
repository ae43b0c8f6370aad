import { useId, useState } from 'react';
import { formatBytes } from './format.ts';
import { DEFAULT_KEPT_CAP } from './replicaSettings.ts';
import { useKeepingSettings } from './useKeeping.ts';

const UNITS = { MiB: 1024 ** 2, GiB: 1024 ** 3 } as const;
type Unit = keyof typeof UNITS;
/** The largest limit the field takes: far above any browser's quota, far below 2^53. */
const MAX_CAP = 1024 ** 5;

/** The limit in the unit it reads best in: whole GiB as GiB, anything else as MiB. */
function split(bytes: number): { amount: string; unit: Unit } {
  return bytes > 0 && bytes % UNITS.GiB === 0
    ? { amount: String(bytes / UNITS.GiB), unit: 'GiB' }
    : { amount: String(Math.round((bytes / UNITS.MiB) * 10) / 10), unit: 'MiB' };
}

/**
 * The settings part of "Kept for others": whether this browser keeps the copies other
 * people's devices ask for, and the most it keeps for them. Saved and applied at once (the
 * node reads both before every offer).
 */
export function KeepForOthersSettings() {
  const settings = useKeepingSettings();
  const [draft, setDraft] = useState(() => split(settings.capBytes));
  const [error, setError] = useState<string>();
  const checkId = useId();
  const capId = useId();
  const unitId = useId();
  const hintId = useId();
  const errorId = useId();

  const save = (next: { amount: string; unit: Unit }) => {
    setDraft(next);
    const amount = Number(next.amount);
    const bytes = Math.round(amount * UNITS[next.unit]);
    if (next.amount.trim() === '' || !Number.isFinite(amount) || amount < 0 || bytes > MAX_CAP) {
      setError(`Give the limit as a number of ${next.unit}, 0 or more.`);
      return;
    }
    setError(undefined);
    settings.setCapBytes(bytes);
  };

  return (
    <>
      <h3>Copies for others</h3>
      <label className="settings__check" htmlFor={checkId}>
        <input
          id={checkId}
          type="checkbox"
          checked={settings.keep}
          aria-describedby={hintId}
          data-testid="keep-for-others"
          onChange={(event) => settings.setKeep(event.currentTarget.checked)}
        />
        Keep copies other people ask for
      </label>
      <div className="settings__cap">
        <label htmlFor={capId}>Limit for what is kept for others</label>
        <div className="settings__cap-row">
          <input
            id={capId}
            type="number"
            min={0}
            step="any"
            inputMode="decimal"
            value={draft.amount}
            disabled={!settings.keep}
            aria-invalid={error ? true : undefined}
            aria-describedby={error ? `${errorId} ${hintId}` : hintId}
            data-testid="kept-cap"
            onChange={(event) => save({ ...draft, amount: event.currentTarget.value })}
          />
          <select
            id={unitId}
            aria-label="Unit of the limit"
            value={draft.unit}
            disabled={!settings.keep}
            data-testid="kept-cap-unit"
            onChange={(event) => save({ ...draft, unit: event.currentTarget.value as Unit })}
          >
            <option value="MiB">MiB</option>
            <option value="GiB">GiB</option>
          </select>
        </div>
      </div>
      {error && (
        <p id={errorId} role="alert" className="error small">
          {error}
        </p>
      )}
      <p id={hintId} className="muted small">
        Their devices ask yours to keep copies of public files, so those stay reachable while they
        are away. Kept apart from your library, under “Kept for others”, within this limit (default{' '}
        {formatBytes(DEFAULT_KEPT_CAP)}). Turned off, no new copies are taken. Applies at once.
      </p>
    </>
  );
}
