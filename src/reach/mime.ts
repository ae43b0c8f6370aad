/**
 * How a sealed item's manifest says what it is. Kept apart from the crypto so the UI can tell
 * sealed items and their real type without loading it.
 */
import type { StoredManifest } from '../content/index.ts';

/** Type of every sealed blob (reach private, invited, local): a header, then AES-GCM segments. */
export const SEALED_MIME = 'application/vnd.elohim.sealed';

/** `application/vnd.elohim.sealed; type="video/webm"`: sealed, and what it holds once opened. */
export function sealedMime(original: string): string {
  return `${SEALED_MIME}; type=${JSON.stringify(original)}`;
}

export function isSealed(manifest: Pick<StoredManifest, 'mime_type'>): boolean {
  return manifest.mime_type === SEALED_MIME || manifest.mime_type.startsWith(`${SEALED_MIME};`);
}

/** The type of the plaintext of a sealed item (octet-stream when unknown). */
export function openedMime(manifest: Pick<StoredManifest, 'mime_type'>): string {
  if (!isSealed(manifest)) return manifest.mime_type;
  const match = /;\s*type=("(?:[^"\\]|\\.)*")/.exec(manifest.mime_type);
  try {
    return match?.[1] ? (JSON.parse(match[1]) as string) : 'application/octet-stream';
  } catch {
    return 'application/octet-stream';
  }
}
