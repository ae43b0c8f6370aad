/**
 * What a search for holders asked and heard, in the words a person reads while it runs
 * ("asked 3 peers…") and when it ends ("…nobody holds it"). Finders report each answer
 * through `FindOptions.onSearch`; a {@link SearchTally} adds them up over every round of one
 * fetch and says whether looking longer can change the answer.
 */

/** One answer a finder heard. */
export type SearchEvent =
  /** Connected peers asked `Holds`: their ids, and how many said yes. */
  | { source: 'peers'; asked: readonly string[]; found: number }
  /** The trust layer is being asked, or could not be (offline). */
  | { source: 'trust'; status: 'asking' | 'offline' }
  /** The trust layer listed `listed` holders; `reached` of them answered a dial. */
  | { source: 'trust'; status: 'answered'; listed: number; reached: number }
  /** The doorway's store (which asks its own peers and the DHT) is being asked, or answered. */
  | { source: 'doorway'; status: 'asking' | 'none' | 'unreachable' }
  /** The DHT (on a doorway's own node) named `listed` providers, `reached` of them answered. */
  | { source: 'dht'; listed: number; reached: number };

export type SearchReport = (event: SearchEvent) => void;

/** The running sum of a search, as shown while it runs. */
export interface SearchProgress {
  /** Distinct peers asked so far. */
  peersAsked: number;
  /** Distinct holders found so far (peers that said yes, listed holders reached). */
  holdersFound: number;
  /** The trust layer: not asked (yet), being asked, answered, or unreachable. */
  trust: 'unasked' | 'asking' | 'answered' | 'offline';
  /** Holders the trust layer (or the DHT) named that no dial has reached yet. */
  holdersConnecting: number;
  /** The doorway's store: not asked, being asked, it has no holder either, or it failed. */
  doorway: 'unasked' | 'asking' | 'none' | 'unreachable';
  /** Rounds finished (each asks every source once). */
  rounds: number;
}

export class SearchTally {
  readonly #asked = new Set<string>();
  #found = 0;
  #trust: SearchProgress['trust'] = 'unasked';
  #connecting = 0;
  #doorway: SearchProgress['doorway'] = 'unasked';
  #rounds = 0;

  /** Bound, so that it can be handed to finders as is. */
  readonly record: SearchReport = (event) => {
    switch (event.source) {
      case 'peers':
        for (const id of event.asked) this.#asked.add(id);
        this.#found = Math.max(this.#found, event.found);
        break;
      case 'trust':
        if (event.status === 'answered') {
          this.#trust = 'answered';
          this.#connecting = Math.max(0, event.listed - event.reached);
          this.#found = Math.max(this.#found, event.reached);
        } else if (event.status === 'asking' && this.#trust !== 'unasked') {
          // A later round: keep what the last one said until this one answers.
        } else this.#trust = event.status;
        break;
      case 'doorway':
        this.#doorway = event.status;
        break;
      case 'dht':
        this.#connecting = Math.max(this.#connecting, event.listed - event.reached);
        this.#found = Math.max(this.#found, event.reached);
        break;
    }
  };

  /** A round of asking every source ended without a holder. */
  endRound(): void {
    this.#rounds++;
  }

  snapshot(): SearchProgress {
    return {
      peersAsked: this.#asked.size,
      holdersFound: this.#found,
      trust: this.#trust,
      holdersConnecting: this.#connecting,
      doorway: this.#doorway,
      rounds: this.#rounds,
    };
  }

  /**
   * Whether looking longer may find a holder: one is known (listed by the trust layer or the
   * DHT) but no dial has reached it yet. False when every source simply said no.
   */
  reasonToWait(): boolean {
    return this.#connecting > 0;
  }
}

/** "Asked 3 peers and the trust layer": who was asked, in plain words. */
export function describeAsked(search: SearchProgress): string {
  const sources = search.peersAsked > 0 ? [plural(search.peersAsked, 'peer')] : [];
  if (search.trust === 'answered') sources.push('the trust layer');
  if (search.doorway === 'none') sources.push('the doorway');
  const alone = search.peersAsked === 0 ? ' (no other peer is online)' : '';
  if (sources.length === 0) return 'Asked nobody: no other peer is online';
  const last = sources.pop() as string;
  return `Asked ${sources.length > 0 ? `${sources.join(', ')} and ${last}` : last}${alone}`;
}

/** The end of a search that found nobody, and what the person can do about it. */
export function describeNobody(search: SearchProgress): string {
  if (search.peersAsked === 0 && search.trust !== 'answered' && search.doorway !== 'none') {
    return (
      'Nobody could be asked: this device is not connected to the network. ' +
      'Try again once it is online.'
    );
  }
  const offline =
    search.trust === 'offline' ? ' The trust layer could not be reached, so it was not asked.' : '';
  if (search.holdersConnecting > 0) {
    return (
      `${describeAsked(search)}: ${plural(search.holdersConnecting, 'peer')} ` +
      `${search.holdersConnecting === 1 ? 'has' : 'have'} it but could not be reached.${offline} ` +
      'Try again when whoever shared it has the app open.'
    );
  }
  return (
    `${describeAsked(search)}; nobody holds it.${offline} ` +
    'Try again when whoever shared it has the app open.'
  );
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}
