/**
 * Who may receive a document over libp2p — its content, the events naming it, even whether we
 * have it. A description (item metadata) document goes exactly where its item may go: the
 * decision is the content delivery gate's for the item's blob (`deliveryGate` in src/reach),
 * passed in as {@link ItemAudience}; this module only finds which item a document describes.
 *
 *  - this agent's shared library: anyone (it lists commons items only, `libraries.ts`; should
 *    a restricted entry get in — a tab of an older version — nobody until it is migrated);
 *  - a description named by an entry of this agent's libraries: whoever may receive that item;
 *  - another description held here: whoever may receive the item it says it describes
 *    (`hash`); the gate refuses items this device does not hold, so nobody relays a
 *    description of an item it could not serve;
 *  - any other library (this agent's own one, a shared library it replaced, another agent's):
 *    only the agent it names (an agent syncing its own library with us); never anyone else;
 *  - anything else (not loaded, unknown shape): nobody.
 * The tabs of this browser are not libp2p peers: they get everything (see `share.ts`).
 */
import type { Repo } from '@automerge/automerge-repo/slim';
import type { PeerId } from '@libp2p/interface';
import { type ContentHash, isContentHash } from '../content/index.ts';
import { agentKeyOfPeer } from '../reach/index.ts';
import type { ItemMeta, LibraryDoc } from './documents.ts';
import { type Libraries, listsRestricted } from './libraries.ts';

/** May this libp2p peer receive the document `docId` (and learn that we have it)? */
export type DocAudience = (peer: PeerId, docId: string) => boolean | Promise<boolean>;

/**
 * Should this peer keep the document `docId` as `doc` (what it would be with the changes a
 * peer sent)? Asked before changes pulled from a peer are applied.
 */
export type DocKeeping = (docId: string, doc: unknown) => boolean | Promise<boolean>;

/** May this libp2p peer receive the item `hash`? (The content delivery gate.) */
export type ItemAudience = (peer: PeerId, hash: ContentHash) => boolean | Promise<boolean>;

/** Whether a document (as a Repo handle holds it) is an agent's library. */
export function isLibrary(doc: unknown): doc is LibraryDoc {
  const d = doc as Partial<LibraryDoc> | undefined;
  return typeof d?.agent === 'string' && typeof d.items === 'object' && d.items !== null;
}

/** Whether a document is an item's description (title, description, tags). */
export function isItemMeta(doc: unknown): doc is ItemMeta {
  return typeof (doc as Partial<ItemMeta> | undefined)?.hash === 'string';
}

export function docAudience(options: {
  repo: Repo;
  libraries: Libraries;
  mayReceiveItem: ItemAudience;
}): DocAudience {
  const { repo, libraries } = options;
  // A hash that is not one (an edited document) names no item: nobody.
  const mayReceiveItem = (peer: PeerId, hash: string) =>
    isContentHash(hash) && options.mayReceiveItem(peer, hash);
  return async (peer, docId) => {
    if (docId === libraries.shared.documentId) return !listsRestricted(libraries.shared);
    const entry = libraries.describedBy(docId);
    if (entry) return mayReceiveItem(peer, entry.hash);
    const handle = repo.handles[docId as keyof typeof repo.handles];
    const doc: unknown = handle?.isReady() ? handle.doc() : undefined;
    if (isLibrary(doc)) return doc.agent === agentKeyOfPeer(peer);
    if (isItemMeta(doc)) return mayReceiveItem(peer, doc.hash);
    return false;
  };
}

/**
 * What a peer that is no one's device (a doorway) keeps of what others send: descriptions of
 * items anyone may receive, i.e. commons items it holds itself (`isCommonsHeld`). Libraries
 * (always some agent's) and descriptions of other items are not kept, so never served.
 */
export function keepCommonsDescriptions(
  isCommonsHeld: (hash: ContentHash) => boolean | Promise<boolean>,
): DocKeeping {
  return (_docId, doc) => isItemMeta(doc) && isContentHash(doc.hash) && isCommonsHeld(doc.hash);
}
