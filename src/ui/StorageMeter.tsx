import { useId } from 'react';
import { formatBytes } from './format.ts';
import type { StorageEstimate } from './useStorageEstimate.ts';

interface Props {
  estimate: StorageEstimate;
  onPersist: () => void;
}

/** Share of the quota above which the meter warns (the browser starts refusing writes at 100%). */
const HIGH = 0.8;

/**
 * How much of the browser's allowance this site uses, and whether the browser may clear it
 * under pressure. Browsers evict "best effort" storage first, so the persist request matters
 * for people who keep their only copy here.
 */
export function StorageMeter({ estimate, onPersist }: Props) {
  const meterId = useId();
  const { usage, quota, persisted, persistAnswer, unsupported } = estimate;
  if (unsupported) {
    return (
      <p className="storage muted" data-testid="storage">
        This browser does not report its storage use.
      </p>
    );
  }
  const known = usage !== undefined && quota !== undefined && quota > 0;
  return (
    <div className="storage" data-testid="storage">
      <div className="storage__usage">
        <label htmlFor={meterId} className="storage__label">
          Storage
        </label>
        <meter
          id={meterId}
          min={0}
          max={known ? quota : 1}
          value={known ? usage : 0}
          high={known ? quota * HIGH : undefined}
          optimum={0}
          data-testid="storage-meter"
        />
        <span className="storage__text" data-testid="storage-text">
          {known
            ? `${formatBytes(usage)} of ${formatBytes(quota)} used`
            : 'Checking space available…'}
        </span>
      </div>
      <div className="storage__persist" aria-live="polite" data-testid="persist">
        {persisted ? (
          <span className="ok" data-testid="persist-status" data-persisted="true">
            ✓ {persistAnswer === 'granted' ? 'Granted. ' : ''}Files kept: the browser won’t clear
            them to free space.
          </span>
        ) : (
          <>
            <button type="button" onClick={onPersist} data-testid="persist-button">
              Keep my files (persistent storage)
            </button>
            {persistAnswer === 'denied' && (
              <span className="muted small" data-testid="persist-status" data-persisted="false">
                Not granted: the browser may clear these files when the disk runs low. Browsers
                grant this to sites you use often or install; install the app, then try again.
              </span>
            )}
          </>
        )}
      </div>
    </div>
  );
}
