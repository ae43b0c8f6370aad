import type { LockManagerLike } from '../content/index.ts';

/**
 * A Web Locks stand-in for Node tests: grants free locks, answers `ifAvailable` requests for
 * held ones with `null`, and exposes the held names. It does not queue.
 */
export function fakeLockManager(): { locks: LockManagerLike; held: Set<string> } {
  const held = new Set<string>();
  const locks = {
    async request(name: string, a: unknown, b?: unknown) {
      const cb = (typeof a === 'function' ? a : b) as (l: unknown) => unknown;
      const ifAvailable = typeof a === 'object' && (a as { ifAvailable?: boolean }).ifAvailable;
      if (held.has(name)) {
        if (ifAvailable) return cb(null);
        throw new Error('test lock manager does not queue');
      }
      held.add(name);
      try {
        return await cb({ name });
      } finally {
        held.delete(name);
      }
    },
  } as LockManagerLike;
  return { locks, held };
}
