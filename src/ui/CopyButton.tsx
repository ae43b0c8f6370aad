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
