/**
 * The replicate server's policy for a person's device: copies for others only while the person
 * wants to keep them, within the cap they set on what is kept for others.
 */
import { type ContentStore, keptBytes, keptForOthers } from '../../content/index.ts';
import {
  type HoldGate,
  overBudget,
  type ReplicaOffer,
  type ReplicaPolicy,
  type SpaceBudget,
} from '../replicate/index.ts';

/**
 * The most one author's items may take of what a device keeps for others: a quarter of it,
 * and never less than this. Without it one author (or one offering peer: offers come from the
 * author's devices, and repairs of its shards) could fill every byte others may keep here.
 */
const MIN_AUTHOR_SHARE = 256 * 1024 * 1024;
const AUTHOR_SHARE = 1 / 4;

export interface KeepingOptions {
  /** Whether this device takes copies for others now (the person's setting, read per offer). */
  willing: () => boolean;
  /** The most bytes kept for others (read per offer): offers that would go over are declined. */
  capBytes: () => number;
  /** The largest item and the space the device has left. */
  budget: SpaceBudget;
  mayHold: HoldGate;
  /** A copy of the person's own item from their own device (see `ReplicaPolicy.ownCopy`). */
  ownCopy?: ReplicaPolicy['ownCopy'];
  /** The least one author's share may be, in bytes. Default {@link MIN_AUTHOR_SHARE}. */
  minAuthorShare?: number;
}

/**
 * The replicate server's policy for a person's device: nothing while they do not want to keep
 * copies for others, and no more than their cap in all (what is kept counts, not what the
 * person added or fetched), within the space the device has left; of that, one author's items
 * take at most a quarter (never less than {@link MIN_AUTHOR_SHARE}).
 */
export function keepingPolicy(store: ContentStore, options: KeepingOptions): ReplicaPolicy {
  return {
    willing: options.willing,
    maxBytes: options.budget.maxBytes,
    mayHold: options.mayHold,
    ...(options.ownCopy ? { ownCopy: options.ownCopy } : {}),
    // One read of the space left and of what is kept, for both the cap and the author's share.
    overBudget: async (offer: ReplicaOffer, bytes: number) => {
      const [left, kept] = await Promise.all([
        options.budget.spaceLeft().catch(() => undefined),
        keptForOthers(store),
      ]);
      const cap = options.capBytes();
      const underCap = Math.max(0, cap - kept.bytes);
      const tooMuch = await overBudget(bytes, {
        maxBytes: options.budget.maxBytes,
        spaceLeft: async () => (left === undefined ? underCap : Math.min(left, underCap)),
      });
      if (tooMuch !== undefined) return tooMuch;
      // What may be kept for others in all: the cap, or what is kept plus the space left.
      const total = Math.min(cap, kept.bytes + (left ?? Number.POSITIVE_INFINITY));
      if (!Number.isFinite(total)) return undefined;
      const share = Math.max(options.minAuthorShare ?? MIN_AUTHOR_SHARE, total * AUTHOR_SHARE);
      const author = offer.owner ?? null;
      let theirs = 0;
      for (const item of [...kept.copies, ...kept.shards]) {
        const m = 'manifest' in item ? item.manifest : item;
        if ((m.author_id ?? null) === author) theirs += keptBytes(item);
      }
      if (theirs + bytes <= share) return undefined;
      return `share: ${theirs} bytes of ${author ?? 'items without an author'} are kept here already; one author may have at most ${Math.floor(share)} of the ${Math.floor(total)} kept for others`;
    },
  };
}
