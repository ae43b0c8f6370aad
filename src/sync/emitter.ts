/** A minimal typed event emitter (no dependency, same in the page and in Node). */
export class TypedEmitter<Events extends Record<string, unknown>> {
  private readonly listeners = new Map<keyof Events, Set<(payload: never) => void>>();

  /** Subscribes; returns the unsubscribe function. */
  on<K extends keyof Events>(type: K, listener: (payload: Events[K]) => void): () => void {
    let set = this.listeners.get(type);
    if (!set) {
      set = new Set();
      this.listeners.set(type, set);
    }
    set.add(listener as (payload: never) => void);
    return () => this.off(type, listener);
  }

  off<K extends keyof Events>(type: K, listener: (payload: Events[K]) => void): void {
    this.listeners.get(type)?.delete(listener as (payload: never) => void);
  }

  /** Calls every listener; a throwing listener does not stop the others or the caller. */
  protected emit<K extends keyof Events>(type: K, payload: Events[K]): void {
    for (const l of [...(this.listeners.get(type) ?? [])]) {
      try {
        (l as (p: Events[K]) => void)(payload);
      } catch (e) {
        console.error(`A "${String(type)}" listener threw:`, e);
      }
    }
  }
}
