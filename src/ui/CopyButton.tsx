import { type ReactNode, useId } from 'react';
import { useCopy } from './useCopy.ts';

interface Props {
  text: string;
  /** What is copied, for screen readers: "Copy share link for photo.png". */
  label: string;
}

/** A button that copies `text`, then says "Copied" (announced politely) or how to copy by hand. */
export function CopyButton({ text, label }: Props) {
  const { state, copy } = useCopy();
  return (
    <span className="copy">
      <button type="button" onClick={() => void copy(text)} aria-label={label}>
        {state === 'copied' ? 'Copied ✓' : 'Copy'}
      </button>
      <span
        className={`copy__status${state === 'failed' ? '' : ' copy__status--quiet'}`}
        role="status"
        data-testid="copy-status"
      >
        {state === 'copied'
          ? 'Copied'
          : state === 'failed'
            ? 'Could not copy: select the link and copy it by hand.'
            : ''}
      </span>
    </span>
  );
}

interface FieldProps {
  text: string;
  /** The field's name for screen readers: "Share link". */
  fieldLabel: string;
  /** The button's, as for {@link CopyButton}. */
  copyLabel: string;
  testId: string;
  /** More buttons beside Copy. */
  children?: ReactNode;
}

/** A read-only field showing `text` (selected whole on focus) with its Copy button. */
export function CopyField({ text, fieldLabel, copyLabel, testId, children }: FieldProps) {
  const id = useId();
  return (
    <div className="share">
      <label htmlFor={id} className="visually-hidden">
        {fieldLabel}
      </label>
      <input
        id={id}
        readOnly
        value={text}
        data-testid={testId}
        onFocus={(event) => event.currentTarget.select()}
      />
      <CopyButton text={text} label={copyLabel} />
      {children}
    </div>
  );
}
