import { describe, expect, it } from 'vitest';
import { PROFILE_ONLY_KEYS } from '../backup/index.ts';
import type { TrustDevice } from '../trust/index.ts';
import {
  DEVICES_SEEN_KEY,
  DEVICES_SINCE_KEY,
  devicesSince,
  markDevicesSeen,
  seenDevices,
  unexpectedDevices,
} from './deviceNotice.ts';

/** A Storage in memory (what localStorage offers). */
function memoryStorage(): Storage {
  const items = new Map<string, string>();
  return {
    get length() {
      return items.size;
    },
    clear: () => items.clear(),
    getItem: (k) => items.get(k) ?? null,
    key: (i) => [...items.keys()][i] ?? null,
    removeItem: (k) => void items.delete(k),
    setItem: (k, v) => void items.set(k, v),
  };
}

const cert = (device: string, addedAt: number, removedAt?: number): TrustDevice => ({
  agent: 'uhCAkAgent',
  device,
  name: device,
  addedAt,
  signature: 's',
  deviceSignature: 'd',
  ...(removedAt === undefined ? {} : { removedAt }),
});

describe('new device notices', () => {
  it('tells of a device in force, certified after this browser looked, not known here, not itself', () => {
    const certificates = [
      cert('old', 50),
      cert('mine', 150),
      cert('known', 150),
      cert('removed', 150, 160),
      cert('forged', 150),
      cert('new', 150),
    ];
    const news = unexpectedDevices(certificates, {
      // 'forged' did not pass the peer's check of both signatures.
      inForce: new Set(['old', 'mine', 'known', 'new']),
      since: 100,
      seen: new Set(['known']),
      self: 'mine',
    });
    expect(news.map((d) => d.device)).toEqual(['new']);
  });

  it('remembers when it first looked and what it was told of, and is left out of what a profile hands on', () => {
    const storage = memoryStorage();
    const since = devicesSince(storage);
    expect(devicesSince(storage)).toBe(since);
    expect(seenDevices(storage)).toEqual(new Set());
    markDevicesSeen(['a', 'b'], storage);
    markDevicesSeen(['b', 'c'], storage);
    expect(seenDevices(storage)).toEqual(new Set(['a', 'b', 'c']));
    markDevicesSeen(
      Array.from({ length: 80 }, (_, i) => `d${i}`),
      storage,
    );
    expect(seenDevices(storage).size).toBe(64);
    expect(seenDevices(storage).has('d79')).toBe(true);
    storage.setItem(DEVICES_SEEN_KEY, 'not json');
    expect(seenDevices(storage)).toEqual(new Set());
    expect(PROFILE_ONLY_KEYS).toEqual(
      expect.arrayContaining([DEVICES_SINCE_KEY, DEVICES_SEEN_KEY]),
    );
  });
});
