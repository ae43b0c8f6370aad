import { type DragEvent, useId, useRef, useState } from 'react';
import type { Reach } from '../content/index.ts';

interface Props {
  disabled: boolean;
  onFiles: (files: File[], reach: Reach) => void;
}

/** The reaches this version can store (the others need keys agreed through the trust layer). */
const CHOICES: { reach: Reach; label: string }[] = [
  { reach: 'commons', label: 'Anyone (commons)' },
  { reach: 'private', label: 'Only my devices (private, encrypted)' },
];
const REACH_KEY = 'elohim-ingest-reach';

function savedReach(): Reach {
  const saved = localStorage.getItem(REACH_KEY);
  return CHOICES.find((c) => c.reach === saved)?.reach ?? 'commons';
}

/** Takes files by drag-and-drop anywhere on the zone, or through the system file picker. */
export function DropZone({ disabled, onFiles }: Props) {
  const [over, setOver] = useState(false);
  const [reach, setReach] = useState<Reach>(savedReach);
  const input = useRef<HTMLInputElement>(null);
  const hintId = useId();
  const reachId = useId();

  const onDrop = (event: DragEvent) => {
    event.preventDefault();
    setOver(false);
    if (!disabled && event.dataTransfer.files.length > 0) {
      onFiles([...event.dataTransfer.files], reach);
    }
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
          Any type, any size: each is checked against its hash on every read.
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
          if (files && files.length > 0) onFiles([...files], reach);
          event.currentTarget.value = '';
        }}
      />
    </section>
  );
}
