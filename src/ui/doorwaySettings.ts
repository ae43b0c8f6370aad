/** Where the doorway list lives; read at node start by `configuredDoorways()`. */
export const DOORWAYS_KEY = 'elohim.doorways';

/** The saved list, or `undefined` when none is saved (the app's own origin is used). */
export function savedDoorways(): string[] | undefined {
  try {
    const saved = JSON.parse(localStorage.getItem(DOORWAYS_KEY) ?? 'null');
    if (Array.isArray(saved) && saved.every((d) => typeof d === 'string') && saved.length > 0) {
      return saved;
    }
  } catch {
    // A hand-edited or corrupt value: treat as unset rather than break the start.
  }
  return undefined;
}

/** Saves the list; an empty list clears the setting, so the app's origin is used again. */
export function saveDoorways(doorways: string[]): void {
  if (doorways.length === 0) localStorage.removeItem(DOORWAYS_KEY);
  else localStorage.setItem(DOORWAYS_KEY, JSON.stringify(doorways));
}

/**
 * A doorway is an origin (`https://doorway.example` or `http://localhost:8080`): the client
 * derives `/signal/…` and the libp2p address from it, so a path would be silently dropped.
 * Returns the normalized origin, or an error that says how to fix the input.
 */
export function parseDoorway(input: string): { origin: string } | { error: string } {
  const text = input.trim();
  if (!text) return { error: 'Enter a doorway address, like https://doorway.example.' };
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return {
      error: `“${text}” is not a web address. Include the scheme, like https://doorway.example.`,
    };
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    return { error: `A doorway address starts with https:// (or http://), not ${url.protocol}//.` };
  }
  if (url.username || url.password) {
    return { error: 'Leave out the user name and password: doorways take none.' };
  }
  if ((url.pathname !== '/' && url.pathname !== '') || url.search || url.hash) {
    return {
      error: `Use just the origin, ${url.origin}, without a path, query or #fragment.`,
    };
  }
  return { origin: url.origin };
}
