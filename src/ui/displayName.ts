export const NAME_KEY = 'elohim-display-name';

/** The name other people see for this browser's agent (kept per browser profile). */
export function savedDisplayName(): string {
  return localStorage.getItem(NAME_KEY) || 'Someone on Elohim';
}
