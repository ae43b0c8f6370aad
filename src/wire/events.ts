/**
 * The one event mechanism: libp2p's typed `EventTarget` (`main-event`, re-exported by
 * `@libp2p/interface`). Listeners get a `CustomEvent` whose `detail` is the payload; React
 * hooks and other components subscribe with `addEventListener` and unsubscribe with
 * `removeEventListener`.
 */
export { TypedEventEmitter, type TypedEventTarget } from '@libp2p/interface';

/** Subscribes to `type` on `target`; returns the unsubscribe (handy for React effects). */
export function listen<T>(
  target: EventTarget,
  type: string,
  listener: (detail: T) => void,
): () => void {
  const handler = (event: Event) => listener((event as CustomEvent<T>).detail);
  target.addEventListener(type, handler);
  return () => target.removeEventListener(type, handler);
}
