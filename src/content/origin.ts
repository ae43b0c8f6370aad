/**
 * Why this device stores a blob: the person added it, the person fetched it, or another peer
 * asked this device to keep a copy (the replicate protocol). The library is what is the
 * person's own; copies kept for others live apart, and may be let go of.
 *
 * Recorded on the committed manifest as `origin`, a local field like `storage_key` (never sent
 * to peers). Manifests written before it existed carry none: a copy kept for a peer cannot be
 * told from a fetch there (both are imports of a peer's manifest), so they count as the
 * person's own — hiding something the person fetched would be worse than showing a copy they
 * may remove. Shard holdings are always kept for others (nobody fetches a lone shard).
 */
import type { StoredManifest } from './manifest.ts';

export interface ItemOrigin {
  /** `added`: put here; `fetched`: imported because this device asked; `kept`: a peer asked this device to keep it. */
  how: 'added' | 'fetched' | 'kept';
  /** RFC 3339 time it came (or became the person's own). */
  at: string;
  /** `kept`: the PeerId of the peer that asked. */
  for?: string;
}

/** Whether the blob is here only because another peer asked (not the person's own). */
export function isKept(m: Pick<StoredManifest, 'origin'>): boolean {
  return m.origin?.how === 'kept';
}

/** The origin of a blob that came because a peer asked this device to keep it. */
export function keptOrigin(peer: string): ItemOrigin {
  return { how: 'kept', at: new Date().toISOString(), for: peer };
}

/** What a blob kept for others becomes once the person adds or fetches it too. */
export function ownOrigin(how: 'added' | 'fetched'): ItemOrigin {
  return { how, at: new Date().toISOString() };
}
