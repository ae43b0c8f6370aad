import { useState } from 'react';
import { ShareSheet } from './ShareSheet.tsx';

interface Props {
  /** The share link. */
  link: string;
  /** What is shared, as the person knows it (the file name). */
  label: string;
  /** Who may open the link, by the item's reach. */
  reach: string;
  /**
   * A real link to the share URL (the library row), so "copy link address" and dragging it
   * work too; a plain click still opens the sheet. Otherwise a button (the details, where the
   * link already stands in its own field beside it).
   */
  asLink?: boolean;
}

/** Opens the share sheet (link, Copy, QR code) for one item, and owns whether it is open. */
export function ShareButton({ link, label, reach, asLink = false }: Props) {
  const [sharing, setSharing] = useState(false);
  return (
    <>
      {asLink ? (
        <a
          className="button"
          href={link}
          data-testid="share-link"
          aria-haspopup="dialog"
          aria-label={`Share ${label}`}
          onClick={(event) => {
            event.preventDefault();
            setSharing(true);
          }}
        >
          Share
        </a>
      ) : (
        <button
          type="button"
          aria-haspopup="dialog"
          data-testid="open-share-sheet"
          onClick={() => setSharing(true)}
        >
          Share…
        </button>
      )}
      {sharing && (
        <ShareSheet link={link} label={label} reach={reach} onClose={() => setSharing(false)} />
      )}
    </>
  );
}
