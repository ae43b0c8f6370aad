/**
 * The replicate server's policy for a person's device: copies for others only while the person
 * wants to keep them, within the cap they set on what is kept for others.
 */
import { type ContentStore, keptForOthers } from '../../content/index.ts';
import type { HoldGate, ReplicaPolicy, SpaceBudget } from '../replicate/index.ts';

export interface KeepingOptions {
  /** Whether this device takes copies for others now (the person's setting, read per offer). */
  willing: () => boolean;
  /** The most bytes kept for others (read per offer): offers that would go over are declined. */
  capBytes: () => number;
  /** The largest item and the space the device has left. */
  budget: SpaceBudget;
  mayHold: HoldGate;
}

/**
 * The replicate server's policy for a person's device: nothing while they do not want to keep
 * copies for others, and no more than their cap in all (what is kept counts, not what the
 * person added or fetched), within the space the device has left.
 */
export function keepingPolicy(store: ContentStore, options: KeepingOptions): ReplicaPolicy {
  return {
    willing: options.willing,
    maxBytes: options.budget.maxBytes,
    mayHold: options.mayHold,
    spaceLeft: async () => {
      const [left, kept] = await Promise.all([
        options.budget.spaceLeft().catch(() => undefined),
        keptForOthers(store),
      ]);
      const underCap = Math.max(0, options.capBytes() - kept.bytes);
      return left === undefined ? underCap : Math.min(left, underCap);
    },
  };
}
