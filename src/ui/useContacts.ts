import { useCallback, useEffect, useState } from 'react';
import type { AgentKey } from '../reach/index.ts';
import type { TrustClient, TrustRelationship } from '../trust/index.ts';
import { errorMessage } from './format.ts';

export interface Contact {
  agent: AgentKey;
  name: string;
  link: TrustRelationship;
}

/** Fired (on `window`) when this page changes its trust links, so every contact list reloads. */
export const CONTACTS_CHANGED = 'elohim-contacts-changed';

export function contactsChanged(): void {
  window.dispatchEvent(new Event(CONTACTS_CHANGED));
}

/**
 * The people this agent has a trust link with (the trust layer's `myRelationships`), named by
 * their registered display name. Reloaded when the trust layer connects, when this page adds a
 * contact, and on `refresh()`. Needs a live connection: offline the last list stays.
 */
export function useContacts(trust: TrustClient | undefined) {
  const [contacts, setContacts] = useState<Contact[]>([]);
  const [error, setError] = useState<string>();

  const refresh = useCallback(async () => {
    if (trust?.state.status !== 'connected') return;
    try {
      const links = await trust.myRelationships();
      const seen = new Set<AgentKey>();
      const list: Contact[] = [];
      for (const link of links) {
        const agent = link.initiator === trust.me ? link.otherAgent : link.initiator;
        if (agent === trust.me || seen.has(agent)) continue;
        seen.add(agent);
        const human = await trust.getHuman(agent).catch(() => undefined);
        list.push({ agent, link, name: human?.displayName || `${agent.slice(0, 12)}…` });
      }
      setContacts(list);
      setError(undefined);
    } catch (e) {
      setError(errorMessage(e));
    }
  }, [trust]);

  useEffect(() => {
    if (!trust) return;
    const onChange = () => void refresh();
    const stop = trust.on('state', (s) => {
      if (s.status === 'connected') onChange();
    });
    window.addEventListener(CONTACTS_CHANGED, onChange);
    onChange();
    return () => {
      stop();
      window.removeEventListener(CONTACTS_CHANGED, onChange);
    };
  }, [trust, refresh]);

  return { contacts, error, refresh };
}
