/**
 * Contact links: how one person hands their agent key to another (a QR code, a chat message).
 * `<origin>/contact/<agent key>?name=<display name>` opens the app at the sharer's doorway;
 * the name is only a hint for the UI — the key is what a relationship is made with.
 */
import { type AgentKey, ed25519FromAgentKey } from '../reach/index.ts';
import { InvalidContactLinkError } from './errors.ts';

export interface ContactLink {
  /** The doorway origin the link was made on; absent when a bare agent key was given. */
  origin?: string;
  agent: AgentKey;
  displayName?: string;
}

const MAX_NAME = 128;

export function contactLink(origin: string, agent: AgentKey, displayName: string): string {
  ed25519FromAgentKey(agent);
  const url = new URL(`/contact/${agent}`, origin);
  const name = displayName.trim().slice(0, MAX_NAME);
  if (name) url.searchParams.set('name', name);
  return url.toString();
}

/** Reads a contact link; a bare agent key (`uhCAk…`) is taken too, without origin or name. */
export function parseContactLink(input: string): ContactLink {
  const text = input.trim();
  if (text.startsWith('u') && !text.includes('/')) return { agent: checkedAgent(input, text) };
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new InvalidContactLinkError(input, 'it is neither a URL nor an agent key');
  }
  const match = /^\/contact\/([^/]+)\/?$/.exec(url.pathname);
  if (!match?.[1]) throw new InvalidContactLinkError(input, 'its path is not /contact/<agent key>');
  const agent = checkedAgent(input, decodeURIComponent(match[1]));
  const name = url.searchParams.get('name')?.trim().slice(0, MAX_NAME);
  return { origin: url.origin, agent, ...(name ? { displayName: name } : {}) };
}

function checkedAgent(input: string, agent: string): AgentKey {
  try {
    ed25519FromAgentKey(agent);
    return agent;
  } catch {
    throw new InvalidContactLinkError(input, 'its agent key is damaged: mistyped or cut short?');
  }
}
