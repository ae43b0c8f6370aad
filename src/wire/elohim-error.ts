/**
 * The one base of every typed error in the app and the doorway. Each folder's `errors.ts`
 * declares its errors on it, one line where the error needs no fields:
 *
 *   export class SyncError extends ElohimError.named('SyncError') {}
 *   export class SyncProtocolError extends SyncError.named('SyncProtocolError') {}
 *
 * `cause` is Error's own (pass `{ cause }` as the second argument).
 */
export class ElohimError extends Error {
  override name = 'ElohimError';

  /**
   * This class, with `name` set to `name` on every instance. The name is spelled out rather
   * than read from the class because the production build renames classes, and callers match
   * on `name` (the service worker across postMessage, the UI, tests).
   */
  // biome-ignore lint/suspicious/noExplicitAny: TypeScript's mixin rule wants `...args: any[]`.
  static named<T extends new (...args: any[]) => Error>(this: T, name: string): T {
    // biome-ignore lint/complexity/noThisInStatic: `this` is the class `named` is called on.
    return class extends this {
      override name = name;
    };
  }
}

/** `text` cut to `max` characters (with `…`), for quoting a caller's input in a message. */
export function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

/** The message of anything thrown. */
export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
