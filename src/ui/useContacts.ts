import { useCallback, useEffect, useState } from 'react';
import type { AgentKey } from '../reach/index.ts';
import type { TrustClient, TrustRelationship, TrustSignal, TrustState } from '../trust/index.ts';
import { listen, TypedEventEmitter } from '../wire/index.ts';
import { errorMessage } from './format.ts';

export interface Contact {
  agent: AgentKey;
  name: string;
  /** The first trust link with them (either direction). */
  link: TrustRelationship;
  /** The types of the links I made to them, e.g. `contact`, `family`. */
  types: string[];
  /** The types of the links they made to me. */
  theirTypes: string[];
  /** I named them family: they are in my family cluster. */
  family: boolean;
}

/** `change` fires when this page changes its trust links, so every contact list reloads. */
const contactsBus = new TypedEventEmitter<{ change: CustomEvent<void> }>();

export function contactsChanged(): void {
  contactsBus.safeDispatchEvent('change');
}

/** Signals that mean someone linked to this agent: a link of mine, or a family key granted to me. */
const LINK_SIGNALS = new Set(['RelationshipCommitted', 'ClusterKeyGranted']);

/**
 * The people this agent has a trust link with (the trust layer's `myRelationships`), named by
 * their registered display name. Reloaded when the trust layer connects, when this page adds a
 * contact, when a signal says someone linked to us (e.g. named us family), and on `refresh()`.
 * Needs a live connection: offline the last list stays.
 */
export function useContacts(trust: TrustClient | undefined) {
  const [contacts, setContacts] = useState<Contact[]>([]);
  const [error, setError] = useState<string>();
  /** The list has been read from the trust layer at least once. */
  const [loaded, setLoaded] = useState(false);

  const refresh = useCallback(async () => {
    if (trust?.state.status !== 'connected') return;
    try {
      const links = await trust.myRelationships();
      const byAgent = new Map<AgentKey, Contact>();
      for (const link of links) {
        const mine = link.initiator === trust.me;
        const agent = mine ? link.otherAgent : link.initiator;
        if (agent === trust.me) continue;
        let contact = byAgent.get(agent);
        if (!contact) {
          const human = await trust.getHuman(agent).catch(() => undefined);
          contact = {
            agent,
            link,
            name: human?.displayName || `${agent.slice(0, 12)}…`,
            types: [],
            theirTypes: [],
            family: false,
          };
          byAgent.set(agent, contact);
        }
        const types = mine ? contact.types : contact.theirTypes;
        if (!types.includes(link.type)) types.push(link.type);
        if (mine && link.type === 'family') contact.family = true;
      }
      setContacts([...byAgent.values()]);
      setLoaded(true);
      setError(undefined);
    } catch (e) {
      setError(errorMessage(e));
    }
  }, [trust]);

  useEffect(() => {
    if (!trust) return;
    const onChange = () => void refresh();
    const stops = [
      listen<TrustState>(trust, 'state', (s) => {
        if (s.status === 'connected') onChange();
      }),
      listen<TrustSignal>(trust, 'signal', (s) => {
        if (s.type && LINK_SIGNALS.has(s.type)) onChange();
      }),
    ];
    contactsBus.addEventListener('change', onChange);
    onChange();
    return () => {
      for (const stop of stops) stop();
      contactsBus.removeEventListener('change', onChange);
    };
  }, [trust, refresh]);

  return { contacts, loaded, error, refresh };
}
