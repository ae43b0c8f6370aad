import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import { utf8 } from './bytes.ts';
import { createItemKey } from './cipher.ts';
import {
  acceptedClusterKeys,
  loadClusterKey,
  loadOrCreateOwnClusterKey,
  loadOwnClusterKey,
  newClusterId,
  saveAcceptedClusterKey,
} from './cluster-keys.ts';
import { createClusterKey, unwrapWith, wrapWith } from './keys.ts';
import { testAgent } from './test-support.ts';

let db = 0;
const dbName = () => `reach-cluster-keys-${++db}-${Date.now()}`;
const AAD = utf8('test');

async function sameKek(a: CryptoKey, b: CryptoKey): Promise<boolean> {
  const wrapped = await wrapWith(a, await createItemKey(), AAD);
  return unwrapWith(b, wrapped, AAD, ['encrypt', 'decrypt'], false, 'test').then(
    () => true,
    () => false,
  );
}

async function readOnlyKey(): Promise<CryptoKey> {
  return crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, [
    'wrapKey',
    'unwrapKey',
  ]);
}

describe('cluster key storage', () => {
  it('makes this person’s cluster key once (racing tabs too), extractable so it can be granted', async () => {
    const name = dbName();
    expect(await loadOwnClusterKey({ dbName: name })).toBeUndefined();
    const [a, b] = await Promise.all([
      loadOrCreateOwnClusterKey({ dbName: name }),
      loadOrCreateOwnClusterKey({ dbName: name }),
    ]);
    expect(a.id).toBe(b.id);
    expect(a.id).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(await sameKek(a.key, b.key)).toBe(true);
    const again = await loadOwnClusterKey({ dbName: name });
    expect(again?.id).toBe(a.id);
    expect(again?.key.extractable).toBe(true);
    expect(await loadClusterKey(a.id, { dbName: name })).toBeDefined();
    expect(await loadClusterKey(newClusterId(), { dbName: name })).toBeUndefined();
  });

  it('keeps accepted keys non-extractable, the first one per id, and lists them', async () => {
    const name = dbName();
    const owner = testAgent().agent;
    const id = newClusterId();
    const first = { id, key: await readOnlyKey(), from: owner, acceptedAt: 1 };
    expect(await saveAcceptedClusterKey(first, { dbName: name })).toEqual(first);
    const second = { id, key: await readOnlyKey(), from: testAgent().agent, acceptedAt: 2 };
    const kept = await saveAcceptedClusterKey(second, { dbName: name });
    expect(kept.from).toBe(owner);
    const loaded = (await loadClusterKey(id, { dbName: name })) as CryptoKey;
    expect(loaded.extractable).toBe(false);
    expect(await sameKek(first.key, loaded)).toBe(true);
    const other = { id: newClusterId(), key: await createClusterKey(), from: owner, acceptedAt: 3 };
    await saveAcceptedClusterKey(other, { dbName: name });
    const listed = await acceptedClusterKeys({ dbName: name });
    expect(listed.map((k) => k.id).sort()).toEqual([id, other.id].sort());
    // The own key is not among the accepted ones.
    await loadOrCreateOwnClusterKey({ dbName: name });
    expect(await acceptedClusterKeys({ dbName: name })).toHaveLength(2);
  });
});
