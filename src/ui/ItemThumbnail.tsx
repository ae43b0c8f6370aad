import { useState } from 'react';
import type { StoredManifest } from '../content/index.ts';
import { type ContentKind, contentKind, KIND_LABELS } from './contentKind.ts';
import { contentUrl, contentUrlsAvailable } from './serviceWorker.ts';

/**
 * Images above this size get an icon, not a thumbnail: the list would otherwise read and
 * decode every large photo in full just to draw 48 pixels.
 */
const THUMBNAIL_MAX_BYTES = 16 * 1024 * 1024;

const GLYPHS: Record<ContentKind, string> = {
  image: '▧',
  video: '▶',
  audio: '♪',
  text: '≡',
  other: '◆',
};

/** A small picture of an item: the image itself when it can be streamed, else its kind. */
export function ItemThumbnail({ item }: { item: StoredManifest }) {
  const kind = contentKind(item);
  const [broken, setBroken] = useState(false);
  const showImage =
    kind === 'image' && !broken && item.total_size <= THUMBNAIL_MAX_BYTES && contentUrlsAvailable();
  return (
    <span className={`thumb thumb--${kind}`} data-testid="item-thumb" data-kind={kind}>
      {showImage ? (
        // Decorative: the row's name says what it is.
        <img
          src={contentUrl(item.blob_hash)}
          alt=""
          loading="lazy"
          decoding="async"
          onError={() => setBroken(true)}
        />
      ) : (
        <>
          <span className="thumb__glyph" aria-hidden="true">
            {GLYPHS[kind]}
          </span>
          <span className="thumb__label">{KIND_LABELS[kind]}</span>
        </>
      )}
    </span>
  );
}
