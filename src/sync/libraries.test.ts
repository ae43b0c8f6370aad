import { type DocHandle, Repo } from '@automerge/automerge-repo';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { describe, expect, it } from 'vitest';
import type { Reach } from '../content/index.ts';
import {
  addItemToLibrary,
  CHECKED_LIBRARY_KEY,
  createLibrary,
  docAudience,
  type LibraryDoc,
  type LibraryIds,
  OWN_LIBRARY_KEY,
  openLibraries,
  removeItemFromLibrary,
  SHARED_LIBRARY_KEY,
  seedItem,
} from './index.ts';

function memoryIds(): LibraryIds & { map: Map<string, string> } {
  const map = new Map<string, string>();
  return { map, getItem: (k) => map.get(k) ?? null, setItem: (k, v) => void map.set(k, v) };
}

const input = (n: number, reach: Reach) => ({
  blob_hash: `sha256-${n.toString(16).padStart(64, '0')}`,
  blob_cid: `bafkrei${n}`,
  total_size: n,
  mime_type: 'text/plain',
  reach,
  name: `file-${n}.txt`,
});

/** A library as versions before the split kept it: every item in one document. */
function legacyLibrary(repo: Repo, ids: LibraryIds, reaches: Reach[]): DocHandle<LibraryDoc> {
  const library = createLibrary(repo, 'agent-1');
  for (const [i, reach] of reaches.entries()) seedItem(repo, library, input(i + 1, reach));
  ids.setItem(SHARED_LIBRARY_KEY, library.documentId);
  return library;
}

const hashes = (h: DocHandle<LibraryDoc>) => Object.keys(h.doc().items).sort();

describe('the shared and the own library', () => {
  it('lists commons items in the shared library, every other reach in the own one; reopens both', async () => {
    const repo = new Repo();
    const ids = memoryIds();
    const libraries = await openLibraries(repo, 'agent-1', ids);
    expect(libraries.shared.documentId).not.toBe(libraries.own.documentId);
    const open = seedItem(repo, libraries.for('commons'), input(1, 'commons'));
    const invited = seedItem(repo, libraries.for('invited'), input(2, 'invited'));
    const local = seedItem(repo, libraries.for('local'), input(3, 'local'));
    expect(hashes(libraries.shared)).toEqual([open.item.hash]);
    expect(hashes(libraries.own)).toEqual([invited.item.hash, local.item.hash].sort());
    expect(Object.keys(libraries.entries()).sort()).toEqual(
      [open.item.hash, invited.item.hash, local.item.hash].sort(),
    );
    expect(libraries.describedBy(invited.meta.documentId)?.hash).toBe(invited.item.hash);
    expect(libraries.entry(open.item.hash)?.meta_doc).toBe(open.meta.documentId);

    const again = await openLibraries(repo, 'agent-1', ids);
    expect(again.shared.documentId).toBe(libraries.shared.documentId);
    expect(again.own.documentId).toBe(libraries.own.documentId);
  });

  it('migrates a library listing restricted items: they move to the own library, a fresh shared library lists the rest', async () => {
    const repo = new Repo();
    const ids = memoryIds();
    const legacy = legacyLibrary(repo, ids, ['commons', 'invited', 'local', 'commons']);
    const before = structuredClone(legacy.doc());
    const libraries = await openLibraries(repo, 'agent-1', ids);
    expect(libraries.shared.documentId).not.toBe(legacy.documentId);
    expect(Object.values(libraries.shared.doc().items).map((i) => i.reach)).toEqual([
      'commons',
      'commons',
    ]);
    expect(
      Object.values(libraries.own.doc().items)
        .map((i) => i.reach)
        .sort(),
    ).toEqual(['invited', 'local']);
    // Entries keep their descriptions; the old document is left as it was, never reused.
    expect(libraries.entries()).toEqual(before.items);
    expect(legacy.doc()).toEqual(before);
    expect(ids.map.get(SHARED_LIBRARY_KEY)).toBe(libraries.shared.documentId);
    expect(ids.map.get(OWN_LIBRARY_KEY)).toBe(libraries.own.documentId);
    expect(ids.map.get(CHECKED_LIBRARY_KEY)).toBe(libraries.shared.documentId);
  });

  it('starts a fresh shared library when one listed a restricted item in its history only', async () => {
    const repo = new Repo();
    const ids = memoryIds();
    const legacy = legacyLibrary(repo, ids, ['commons', 'invited']);
    const invited = input(2, 'invited').blob_hash;
    const { meta_doc } = legacy.doc().items[invited] as { meta_doc: string };
    removeItemFromLibrary(legacy, invited);
    const libraries = await openLibraries(repo, 'agent-1', ids);
    expect(libraries.shared.documentId).not.toBe(legacy.documentId);
    expect(hashes(libraries.shared)).toEqual(hashes(legacy));
    expect(JSON.stringify(libraries.shared.doc())).not.toContain(meta_doc);
  });

  it('keeps, in place, a library that only ever listed commons items', async () => {
    const repo = new Repo();
    const ids = memoryIds();
    const legacy = legacyLibrary(repo, ids, ['commons', 'commons']);
    const libraries = await openLibraries(repo, 'agent-1', ids);
    expect(libraries.shared.documentId).toBe(legacy.documentId);
    expect(hashes(libraries.shared)).toHaveLength(2);
    expect(hashes(libraries.own)).toEqual([]);
    expect(ids.map.get(CHECKED_LIBRARY_KEY)).toBe(legacy.documentId);
  });

  it('trusts no check: a shared library listing a restricted item again is read by nobody, and migrated on the next open', async () => {
    const repo = new Repo();
    const ids = memoryIds();
    const libraries = await openLibraries(repo, 'agent-1', ids);
    const audience = docAudience({ repo, libraries, mayReceiveItem: () => true });
    const peer = peerIdFromPrivateKey(await generateKeyPair('Ed25519'));
    expect(await audience(peer, libraries.shared.documentId)).toBe(true);
    expect(await audience(peer, libraries.own.documentId)).toBe(false);
    // As a tab of an older version would add it.
    const { item } = seedItem(repo, createLibrary(repo, 'agent-1'), input(7, 'local'));
    addItemToLibrary(libraries.shared, item);
    expect(await audience(peer, libraries.shared.documentId)).toBe(false);

    const again = await openLibraries(repo, 'agent-1', ids);
    expect(again.shared.documentId).not.toBe(libraries.shared.documentId);
    expect(hashes(again.own)).toEqual([item.hash]);
    expect(hashes(again.shared)).toEqual([]);
  });
});
