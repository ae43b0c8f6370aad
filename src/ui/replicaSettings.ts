/** Where the number of copies lives; read when this tab starts the node. */
export const COPIES_KEY = 'elohim.copies';

/** Peers asked to keep a copy of each item stored here, unless set otherwise. */
export const DEFAULT_COPIES = 2;

const MAX_COPIES = 16;

/**
 * How many peers should hold a copy of what this browser stores (0: replication off). The URL
 * (`?copies=1`) sets it and saves it for this browser, so that it survives navigating to share
 * links and reloads; without either, {@link DEFAULT_COPIES}.
 */
export function replicaCopies(search: string = location.search): number {
  const text = new URLSearchParams(search).get('copies');
  if (text !== null) {
    const value = Number(text);
    if (!Number.isSafeInteger(value) || value < 0 || value > MAX_COPIES) {
      throw new Error(
        `URL setting copies must be a whole number from 0 (replication off) to ${MAX_COPIES}, got "${text}"`,
      );
    }
    localStorage.setItem(COPIES_KEY, String(value));
    return value;
  }
  const saved = Number(localStorage.getItem(COPIES_KEY) ?? Number.NaN);
  return Number.isSafeInteger(saved) && saved >= 0 && saved <= MAX_COPIES ? saved : DEFAULT_COPIES;
}

const DIAL_LISTED_KEY = 'elohim.dialListed';

/**
 * Whether the node dials every online peer the doorway lists (`?dialListed=0` turns it off,
 * saved like `copies`): off, peers are found through the trust layer when content is needed.
 */
export function dialListedPeers(search: string = location.search): boolean {
  const text = new URLSearchParams(search).get('dialListed');
  if (text === '0' || text === '1') localStorage.setItem(DIAL_LISTED_KEY, text);
  return localStorage.getItem(DIAL_LISTED_KEY) !== '0';
}

const MAX_PEERS_KEY = 'elohim.maxPeers';
const MAX_PEERS_LIMIT = 64;

/**
 * Direct peers the node keeps besides doorways (`?maxPeers=N`, saved like `copies`); undefined:
 * the node's default (8). A bad value is dropped rather than stop the start.
 */
export function maxPeers(search: string = location.search): number | undefined {
  const text = new URLSearchParams(search).get('maxPeers');
  if (text !== null) localStorage.setItem(MAX_PEERS_KEY, text);
  const value = Number(localStorage.getItem(MAX_PEERS_KEY) ?? Number.NaN);
  return Number.isSafeInteger(value) && value >= 1 && value <= MAX_PEERS_LIMIT ? value : undefined;
}

const KEEP_ON_DOORWAY_KEY = 'elohim.keepOnDoorway';

/**
 * Whether commons items authored here are offered to the doorways to keep (default on). Read
 * before every offer, so a change in any tab applies at once; turning it off stops new offers,
 * and what a doorway keeps already stays there.
 */
export function keepOnDoorway(): boolean {
  return localStorage.getItem(KEEP_ON_DOORWAY_KEY) !== '0';
}

/** `?keepOnDoorway=0` (or `1`) in the URL saves the setting for this browser, like `copies`. */
export function keepOnDoorwayFromUrl(search: string = location.search): void {
  const text = new URLSearchParams(search).get('keepOnDoorway');
  if (text === '0' || text === '1') localStorage.setItem(KEEP_ON_DOORWAY_KEY, text);
}

export function setKeepOnDoorway(on: boolean): void {
  localStorage.setItem(KEEP_ON_DOORWAY_KEY, on ? '1' : '0');
}

const KEEP_FOR_OTHERS_KEY = 'elohim.keepForOthers';
const KEPT_CAP_KEY = 'elohim.keptCap';

/**
 * The most this browser keeps for others unless the person sets otherwise: as much as the
 * largest single item it takes (1 GiB), so no copy it accepted before is now too big, and a
 * small share of a browser's usual storage quota.
 */
export const DEFAULT_KEPT_CAP = 1024 ** 3;

/**
 * Whether this browser keeps copies other peers ask it to keep (default on: that is how
 * their files outlive their browsers). Read before every offer, so a change in any tab
 * applies at once.
 */
export function keepForOthers(): boolean {
  return localStorage.getItem(KEEP_FOR_OTHERS_KEY) !== '0';
}

export function setKeepForOthers(on: boolean): void {
  localStorage.setItem(KEEP_FOR_OTHERS_KEY, on ? '1' : '0');
}

/** The most bytes kept for others in all (read before every offer). */
export function keptCapBytes(): number {
  const saved = Number(localStorage.getItem(KEPT_CAP_KEY) ?? Number.NaN);
  return Number.isSafeInteger(saved) && saved >= 0 ? saved : DEFAULT_KEPT_CAP;
}

export function setKeptCapBytes(bytes: number): void {
  if (!Number.isSafeInteger(bytes) || bytes < 0) {
    throw new RangeError(`The limit must be a whole number of bytes, 0 or more, got ${bytes}.`);
  }
  localStorage.setItem(KEPT_CAP_KEY, String(bytes));
}
