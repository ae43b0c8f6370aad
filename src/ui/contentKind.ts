import type { StoredManifest } from '../content/index.ts';
import { openedMime } from '../reach/index.ts';

export type ContentKind = 'image' | 'video' | 'audio' | 'text' | 'other';

/** Types whose bytes read as text although their MIME type is not `text/*`. */
const TEXT_TYPES = new Set([
  'application/json',
  'application/xml',
  'application/javascript',
  'application/x-sh',
  'application/toml',
  'application/yaml',
  'image/svg+xml',
]);

/** Files dropped without a type (the browser knows none) are guessed from their extension. */
const TEXT_EXTENSIONS =
  /\.(txt|md|markdown|csv|tsv|json|xml|ya?ml|toml|ini|log|js|ts|tsx|css|html?|rs|py|sh)$/i;

/** Which preview suits an item: decided by its recorded MIME type, then by its name. */
export function contentKind(item: Pick<StoredManifest, 'mime_type' | 'name'>): ContentKind {
  // A sealed item is shown as what it holds: the service worker opens it.
  const mime =
    openedMime({ mime_type: item.mime_type || '' })
      .split(';')[0]
      ?.trim()
      .toLowerCase() ?? '';
  // SVG is an image to people, but shown as text: an <img> of untrusted SVG is safe, yet a
  // thumbnail of markup is less useful than the markup itself in the details.
  if (mime === 'image/svg+xml') return 'text';
  if (mime.startsWith('image/')) return 'image';
  if (mime.startsWith('video/')) return 'video';
  if (mime.startsWith('audio/')) return 'audio';
  if (mime.startsWith('text/') || TEXT_TYPES.has(mime)) return 'text';
  if ((!mime || mime === 'application/octet-stream') && TEXT_EXTENSIONS.test(item.name ?? '')) {
    return 'text';
  }
  return 'other';
}

export const KIND_LABELS: Record<ContentKind, string> = {
  image: 'Image',
  video: 'Video',
  audio: 'Audio',
  text: 'Text',
  other: 'File',
};

/** Plain-language meaning of each encoding, shown as a tooltip and in the details. */
export const ENCODING_HELP: Record<StoredManifest['encoding'], string> = {
  none: 'Stored whole, in one shard',
  chunked: 'Stored in chunks, each verified on read',
  'rs-4-7': 'Erasure-coded: any 4 of its 7 shards rebuild it',
};
