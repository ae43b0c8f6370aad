import type { BackupContact, BackupItem } from '../backup/index.ts';
import { isKept, type StoredManifest } from '../content/index.ts';
import type { TrustClient } from '../trust/index.ts';
import { useContacts } from './useContacts.ts';
import { useLibraryEntries } from './useSync.ts';

/**
 * What a backup or a paired device carries of this person, as the page lists it: their
 * contacts (from the trust layer) and their own items (not those kept for others), each with
 * its description document. Private items are in `items`; a backup leaves them out.
 */
export function usePersonLists(
  trust: TrustClient | undefined,
  items: StoredManifest[] | undefined,
): { people: BackupContact[]; items: BackupItem[]; loaded: boolean } {
  const { contacts, loaded } = useContacts(trust);
  const entries = useLibraryEntries();
  const listed = (items ?? [])
    .filter((item) => !isKept(item))
    .map((item): BackupItem => {
      const meta = entries[item.blob_hash]?.meta_doc;
      return {
        hash: item.blob_hash,
        name: item.name ?? item.blob_hash,
        mime: item.mime_type,
        size: item.total_size,
        reach: item.reach,
        ...(meta ? { meta } : {}),
      };
    });
  const people = contacts.map((c) => ({ agent: c.agent, name: c.name, types: c.types }));
  return { people, items: listed, loaded };
}
