/**
 * Telling the person when a device they did not add here becomes one of theirs (docs/design.md
 * §2): whoever holds the identity key can certify a device, a removed device included, so each
 * device says so when one appears, as sign-in notices do. What this browser added itself, and
 * what was there before it joined, is not news.
 */
import type { TrustDevice } from '../trust/index.ts';

/** When this browser first looked at the person's devices (ms): older certificates are not news. */
export const DEVICES_SINCE_KEY = 'elohim-devices-since';
/** Device keys this browser added or the person acknowledged here (JSON array). */
export const DEVICES_SEEN_KEY = 'elohim-devices-seen';
/** A person has at most 16 devices; removed ones may linger in the list a while. */
const MAX_SEEN = 64;

export function devicesSince(storage: Storage = localStorage): number {
  const saved = Number(storage.getItem(DEVICES_SINCE_KEY));
  if (Number.isFinite(saved) && saved > 0) return saved;
  const now = Date.now();
  storage.setItem(DEVICES_SINCE_KEY, String(now));
  return now;
}

export function seenDevices(storage: Storage = localStorage): Set<string> {
  try {
    const saved: unknown = JSON.parse(storage.getItem(DEVICES_SEEN_KEY) ?? '[]');
    return new Set(Array.isArray(saved) ? saved.filter((d) => typeof d === 'string') : []);
  } catch {
    return new Set();
  }
}

/** Remembers `devices` as known here (the newest kept when the list is full). */
export function markDevicesSeen(devices: readonly string[], storage: Storage = localStorage): void {
  const seen = [...seenDevices(storage), ...devices];
  storage.setItem(DEVICES_SEEN_KEY, JSON.stringify([...new Set(seen)].slice(-MAX_SEEN)));
}

/**
 * The person's devices to tell them about: in force (`inForce`, checked by the peer), certified
 * after `since`, not known here, not this browser.
 */
export function unexpectedDevices(
  certificates: readonly TrustDevice[],
  known: { inForce: ReadonlySet<string>; since: number; seen: ReadonlySet<string>; self?: string },
): TrustDevice[] {
  return certificates.filter(
    (d) =>
      d.removedAt === undefined &&
      known.inForce.has(d.device) &&
      d.addedAt > known.since &&
      !known.seen.has(d.device) &&
      d.device !== known.self,
  );
}
