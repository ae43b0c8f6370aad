import type { BackupContact } from './payload.ts';

/** A trust link as the trust layer lists it (the fields compared). */
export interface LinkLike {
  initiator: string;
  otherAgent: string;
  type: string;
}

/**
 * The links of a restored backup's contacts that `me` does not have in `links` (the trust
 * layer's list): each to be made again. Links others made to me are not mine to remake.
 */
export function missingLinks(
  contacts: BackupContact[],
  links: LinkLike[],
  me: string,
): { agent: string; type: string }[] {
  const have = new Set(
    links.filter((l) => l.initiator === me).map((l) => `${l.otherAgent} ${l.type}`),
  );
  return contacts.flatMap((c) =>
    c.types
      .filter((type) => c.agent !== me && !have.has(`${c.agent} ${type}`))
      .map((type) => ({ agent: c.agent, type })),
  );
}
