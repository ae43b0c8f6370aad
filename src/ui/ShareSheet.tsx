import { type KeyboardEvent, useId } from 'react';
import { logger } from '../wire/index.ts';
import { CopyField } from './CopyButton.tsx';
import { errorMessage } from './format.ts';
import { reachWords } from './reachWords.ts';
import { useModalDialog } from './useModalDialog.ts';
import { useQrCode } from './useQrCode.ts';

const log = logger('share');

interface Props {
  /** The share link. */
  link: string;
  /** What is shared, as the person knows it (the file name). */
  label: string;
  /** Who may open the link, by the item's reach. */
  reach: string;
  onClose: () => void;
}

const FOCUSABLE = 'button:not([disabled]), input:not([disabled]), a[href], [tabindex="0"]';

/**
 * Keeps Tab inside `dialog`: from its last control back to its first (and Shift+Tab the other
 * way). A modal dialog makes the page inert, but Tab would still leave for the browser's own
 * controls.
 */
function wrapTab(event: KeyboardEvent<HTMLDialogElement>): void {
  if (event.key !== 'Tab') return;
  const controls = [...event.currentTarget.querySelectorAll<HTMLElement>(FOCUSABLE)];
  const first = controls[0];
  const last = controls.at(-1);
  if (!first || !last) return;
  if (event.shiftKey && document.activeElement === first) {
    event.preventDefault();
    last.focus();
  } else if (!event.shiftKey && document.activeElement === last) {
    event.preventDefault();
    first.focus();
  }
}

/**
 * The share sheet: the link, Copy, a QR code to open it on a phone, and the system's share
 * menu where the browser has one (`navigator.share`). A modal `<dialog>`: the page behind is
 * inert, Tab wraps around inside, Esc becomes `cancel`; on closing, focus goes back where it
 * was.
 */
export function ShareSheet({ link, label, reach, onClose }: Props) {
  const dialog = useModalDialog(onClose, { returnFocus: true, nested: true });
  const titleId = useId();
  const qr = useQrCode(link);
  const canShare = typeof navigator.share === 'function';

  const share = () => {
    // Refused or dismissed (AbortError) is not a failure worth a message: Copy is right there.
    navigator.share({ title: label, url: link }).catch((error: unknown) => {
      if ((error as Error).name !== 'AbortError')
        log('share menu refused: %s', errorMessage(error));
    });
  };

  return (
    // The backdrop click mirrors Esc (the dialog's cancel), which keyboards already have.
    <dialog
      {...dialog}
      className="details share-sheet"
      aria-labelledby={titleId}
      data-testid="share-sheet"
      onKeyDown={wrapTab}
    >
      <div className="details__box share-sheet__box">
        <header className="details__header">
          <h2 id={titleId}>Share {label}</h2>
          <button type="button" className="details__close" onClick={onClose}>
            <span aria-hidden="true">✕</span>
            <span className="visually-hidden">Close</span>
          </button>
        </header>
        <p className="muted small" data-testid="share-reach">
          {reachWords(reach).link}
        </p>
        <CopyField
          text={link}
          fieldLabel={`Link to ${label}`}
          copyLabel={`Copy the link to ${label}`}
          testId="share-sheet-link"
        />
        <figure className="share-sheet__qr">
          {qr ? (
            <img
              src={qr}
              width={240}
              height={240}
              alt={`QR code of the link to ${label}`}
              data-testid="share-qr"
            />
          ) : (
            <span className="share-sheet__qr-wait muted small" aria-busy="true">
              Drawing the QR code…
            </span>
          )}
          <figcaption className="muted small">
            Scan it with a phone's camera to open the link.
          </figcaption>
        </figure>
        {canShare && (
          <button type="button" className="primary" data-testid="share-native" onClick={share}>
            Share…
          </button>
        )}
      </div>
    </dialog>
  );
}
