/**
 * Which doorway a browser uses, and which it falls back to (README, "Failover"). The list is
 * the configured doorways (the serving origin unless the person chose others), then those the
 * doorways told us of (`/api/v1/federation/doorways`), bounded. The node stays connected to
 * every configured doorway; a learned one is dialled only while no doorway answers. The doorway
 * in use hosts the trust layer, the relay reservation others signal through and the HTTP
 * fallback: the first in list order that answers; once one stopped answering, the next that
 * answers, and it stays in use while it answers (no switching back and forth).
 */

/** Learned doorways kept at most: a federation may list many; a few spares are enough. */
export const MAX_LEARNED_DOORWAYS = 16;

export interface DoorwaySwitch {
  from: string;
  to: string;
  /** In words for people: "… stopped answering". */
  reason: string;
  /** ms since epoch */
  at: number;
}

/** A doorway's HTTP origin, or undefined when `text` is not an http(s) origin. */
export function doorwayOrigin(text: string): string | undefined {
  try {
    const url = new URL(text);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
    if (url.username || url.password) return undefined;
    return url.origin;
  } catch {
    return undefined;
  }
}

export class DoorwayList {
  readonly #configured: string[];
  readonly #learned: string[] = [];
  readonly #maxLearned: number;
  #inUse: string | undefined;
  #lastSwitch: DoorwaySwitch | undefined;

  constructor(configured: readonly string[], options: { maxLearned?: number } = {}) {
    this.#configured = [...new Set(configured)];
    this.#maxLearned = options.maxLearned ?? MAX_LEARNED_DOORWAYS;
  }

  /** Configured first, then learned, in the order they came. */
  get origins(): string[] {
    return [...this.#configured, ...this.#learned];
  }

  isConfigured(origin: string): boolean {
    return this.#configured.includes(origin);
  }

  get inUse(): string | undefined {
    return this.#inUse;
  }

  get lastSwitch(): DoorwaySwitch | undefined {
    return this.#lastSwitch;
  }

  /**
   * Adds the doorways another doorway told us of (anything that is not an http(s) origin is
   * dropped), up to the bound; returns the ones new to the list.
   */
  learn(urls: readonly string[]): string[] {
    const added: string[] = [];
    for (const url of urls) {
      if (this.#learned.length >= this.#maxLearned) break;
      const origin = doorwayOrigin(url);
      if (!origin || this.#configured.includes(origin) || this.#learned.includes(origin)) continue;
      this.#learned.push(origin);
      added.push(origin);
    }
    return added;
  }

  /**
   * Decides the doorway in use from which are connected now: the first connected in list order
   * until one stopped answering; from then on the current one while it is connected (no
   * switching back and forth), else the first connected in list order (the switch is
   * recorded), else the current one still (nothing to switch to yet). Returns the switch when
   * the doorway in use changed because it stopped answering.
   */
  update(connected: (origin: string) => boolean): DoorwaySwitch | undefined {
    const current = this.#inUse;
    const first = this.origins.find(connected);
    if (current !== undefined && connected(current)) {
      // Before any failover a doorway earlier in the list (the serving origin) that answers
      // later than another is still preferred.
      if (this.#lastSwitch === undefined && first !== undefined) this.#inUse = first;
      return undefined;
    }
    if (first === undefined) return undefined;
    this.#inUse = first;
    if (current === undefined) return undefined;
    this.#lastSwitch = {
      from: current,
      to: first,
      reason: `${current} stopped answering`,
      at: Date.now(),
    };
    return this.#lastSwitch;
  }

  /**
   * The learned doorway to dial next while none answers: the first not dialled yet
   * (`started`); undefined when every one is being tried already, or one is connected.
   */
  nextStandby(started: ReadonlySet<string>, anyConnected: boolean): string | undefined {
    if (anyConnected) return undefined;
    return this.#learned.find((origin) => !started.has(origin));
  }
}
