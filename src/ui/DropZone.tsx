import { type DragEvent, useId, useRef, useState } from 'react';

interface Props {
  disabled: boolean;
  onFiles: (files: File[]) => void;
}

/** Takes files by drag-and-drop anywhere on the zone, or through the system file picker. */
export function DropZone({ disabled, onFiles }: Props) {
  const [over, setOver] = useState(false);
  const input = useRef<HTMLInputElement>(null);
  const hintId = useId();

  const onDrop = (event: DragEvent) => {
    event.preventDefault();
    setOver(false);
    if (!disabled && event.dataTransfer.files.length > 0) onFiles([...event.dataTransfer.files]);
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
          if (files && files.length > 0) onFiles([...files]);
          event.currentTarget.value = '';
        }}
      />
    </section>
  );
}
