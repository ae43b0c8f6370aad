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
      <p id={hintId}>Drop files here to store them in this browser</p>
      <button
        type="button"
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
