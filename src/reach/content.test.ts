import 'fake-indexeddb/auto';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { afterEach, describe, expect, it } from 'vitest';
import { type ContentStore, openContentStore } from '../content/index.ts';
import { pseudoRandomBytes } from '../test-support/bytes.ts';
import { agentKeyFromEd25519 } from './agent.ts';
import {
  loadClusterKey,
  loadOrCreateOwnClusterKey,
  saveAcceptedClusterKey,
} from './cluster-keys.ts';
import {
  deliveryGate,
  deviceKeyring,
  INVITED_CONTEXT,
  invitedOf,
  openStored,
  putAtReach,
} from './content.ts';
import { NoFamilyClusterError, NoKeyError } from './errors.ts';
import {
  acceptClusterKey,
  deriveRelationshipKey,
  grantClusterKey,
  loadOrCreateSealingKey,
} from './keys.ts';
import { isSealed, openedMime, sealedMime } from './mime.ts';
import type { TrustView } from './policy.ts';

let n = 0;
const stores: ContentStore[] = [];
afterEach(() => {
  for (const s of stores.splice(0)) s.close();
});
/** `me`'s trust view: no other devices, links nor cluster unless `more` says so. */
function viewOf(me: TrustView['me'], more: Partial<TrustView> = {}): TrustView {
  return { me, myDevices: new Set(), links: new Map(), cluster: new Set(), ...more };
}

async function open() {
  const store = await openContentStore({ dbName: `reach-content-${++n}`, locks: null });
  stores.push(store);
  return store;
}
async function agent() {
  const key = await generateKeyPair('Ed25519');
  return {
    peer: peerIdFromPrivateKey(key),
    agent: agentKeyFromEd25519(key.publicKey.raw),
    secret: key.raw,
  };
}
const bytesOf = async (s: ReadableStream<Uint8Array>) =>
  new Uint8Array(await new Response(s).arrayBuffer());
const contains = (hay: Uint8Array, needle: Uint8Array) =>
  Buffer.from(hay).indexOf(Buffer.from(needle)) >= 0;

describe('sealed types', () => {
  it('keeps the plaintext type beside the sealed marker', () => {
    const m = { mime_type: sealedMime('video/webm') };
    expect(isSealed(m)).toBe(true);
    expect(openedMime(m)).toBe('video/webm');
    expect(isSealed({ mime_type: 'video/webm' })).toBe(false);
    expect(openedMime({ mime_type: 'text/plain' })).toBe('text/plain');
  });
});

describe('putAtReach', () => {
  it('private: stored as ciphertext, opened with the device key', async () => {
    const store = await open();
    const me = await agent();
    const device = await loadOrCreateSealingKey({ dbName: `reach-device-${++n}` });
    const plain = pseudoRandomBytes(200_000);
    const m = await putAtReach(store, new Blob([plain], { type: 'image/png' }), {
      reach: 'private',
      owner: me.agent,
      device,
      name: 'secret.png',
    });
    expect(m.reach).toBe('private');
    expect(m.author_id).toBe(me.agent);
    expect(openedMime(m)).toBe('image/png');
    const stored = await bytesOf(store.get(m.blob_hash));
    expect(contains(stored, plain.subarray(1000, 1064))).toBe(false);
    const opened = await bytesOf(openStored(m, store.get(m.blob_hash), { me: me.agent, device }));
    expect(Buffer.compare(opened, plain)).toBe(0);
  });

  it("private: the person's other devices open it with the agent secret; nobody else does", async () => {
    const store = await open();
    const [me, eve] = await Promise.all([agent(), agent()]);
    const device = await loadOrCreateSealingKey({ dbName: `reach-device-${++n}` });
    const otherDevice = await loadOrCreateSealingKey({ dbName: `reach-device-${++n}` });
    const plain = pseudoRandomBytes(90_000);
    const m = await putAtReach(store, new Blob([plain]), {
      reach: 'private',
      owner: me.agent,
      device,
      mySecret: me.secret,
    });
    // Another browser of the same person: its own sealing key, the shared agent secret.
    const paired = deviceKeyring({ me: me.agent, device: otherDevice, mySecret: me.secret });
    const opened = await bytesOf(openStored(m, store.get(m.blob_hash), paired));
    expect(Buffer.compare(opened, plain)).toBe(0);
    // Someone else, even naming the owner as "me", has no key that opens it.
    for (const keyring of [
      deviceKeyring({ me: eve.agent, device: otherDevice, mySecret: eve.secret }),
      deviceKeyring({ me: me.agent, device: otherDevice }),
    ]) {
      await expect(bytesOf(openStored(m, store.get(m.blob_hash), keyring))).rejects.toThrow();
    }
    // The person slot is not an invitation.
    expect(await invitedOf(store, m.blob_hash)).toEqual([]);
  });

  it('commons: stored as is', async () => {
    const store = await open();
    const me = await agent();
    const plain = pseudoRandomBytes(5_000);
    const m = await putAtReach(store, new Blob([plain]), { reach: 'commons', owner: me.agent });
    expect(Buffer.compare(await bytesOf(store.get(m.blob_hash)), plain)).toBe(0);
  });

  it('invited: ciphertext that the owner and each named agent open, and nobody else', async () => {
    const store = await open();
    const [me, bob, carol, eve] = await Promise.all([agent(), agent(), agent(), agent()]);
    const device = await loadOrCreateSealingKey({ dbName: `reach-device-${++n}` });
    const plain = pseudoRandomBytes(150_000);
    const m = await putAtReach(store, new Blob([plain], { type: 'text/plain' }), {
      reach: 'invited',
      owner: me.agent,
      device,
      mySecret: me.secret,
      // The owner and a repeat are dropped: the owner reads it with the device key.
      invited: [bob.agent, carol.agent, bob.agent, me.agent],
      name: 'note.txt',
    });
    expect(m.reach).toBe('invited');
    expect(m.author_id).toBe(me.agent);
    expect(openedMime(m)).toBe('text/plain');
    const stored = await bytesOf(store.get(m.blob_hash));
    for (const at of [0, 70_000, 149_000]) {
      expect(contains(stored, plain.subarray(at, at + 32))).toBe(false);
    }
    expect(await invitedOf(store, m.blob_hash)).toEqual([bob.agent, carol.agent]);

    const read = (keyring: Parameters<typeof openStored>[2]) =>
      bytesOf(openStored(m, store.get(m.blob_hash), keyring));
    expect(Buffer.compare(await read({ me: me.agent, device }), plain)).toBe(0);
    for (const friend of [bob, carol]) {
      const keyring = deviceKeyring({ me: friend.agent, mySecret: friend.secret });
      expect(Buffer.compare(await read(keyring), plain)).toBe(0);
    }
    // Someone not named, with a keyring of their own, finds no slot for them.
    await expect(read(deviceKeyring({ me: eve.agent, mySecret: eve.secret }))).rejects.toThrow(
      NoKeyError,
    );
    // A named agent's label without their secret does not open it either.
    await expect(read(deviceKeyring({ me: bob.agent, mySecret: eve.secret }))).rejects.toThrow();
  });

  it('invited needs a named agent (not only the owner) and the identity key; nothing stored', async () => {
    const store = await open();
    const me = await agent();
    const bob = await agent();
    const device = await loadOrCreateSealingKey({ dbName: `reach-device-${++n}` });
    const file = new Blob([new Uint8Array(10)]);
    const base = { reach: 'invited', owner: me.agent, device } as const;
    await expect(putAtReach(store, file, { ...base, mySecret: me.secret })).rejects.toThrow(
      /at least one person/,
    );
    await expect(
      putAtReach(store, file, { ...base, mySecret: me.secret, invited: [me.agent] }),
    ).rejects.toThrow(/at least one person/);
    await expect(putAtReach(store, file, { ...base, invited: [bob.agent] })).rejects.toThrow(
      /identity key/,
    );
    await expect(
      putAtReach(store, file, { ...base, mySecret: bob.secret, invited: [me.agent, bob.agent] }),
    ).rejects.toThrow(/does not belong/);
    expect(await store.list()).toEqual([]);
  });

  it('local: ciphertext that the owner and holders of the cluster key open, and nobody else', async () => {
    const store = await open();
    const [me, kin, eve] = await Promise.all([agent(), agent(), agent()]);
    const device = await loadOrCreateSealingKey({ dbName: `reach-device-${++n}` });
    const cluster = await loadOrCreateOwnClusterKey({ dbName: `reach-device-${n}` });
    const plain = pseudoRandomBytes(150_000);
    const m = await putAtReach(store, new Blob([plain], { type: 'text/plain' }), {
      reach: 'local',
      owner: me.agent,
      device,
      cluster,
      name: 'family.txt',
    });
    expect(m.reach).toBe('local');
    expect(m.author_id).toBe(me.agent);
    const stored = await bytesOf(store.get(m.blob_hash));
    for (const at of [0, 70_000, 149_000]) {
      expect(contains(stored, plain.subarray(at, at + 32))).toBe(false);
    }
    const read = (keyring: Parameters<typeof openStored>[2]) =>
      bytesOf(openStored(m, store.get(m.blob_hash), keyring));
    expect(Buffer.compare(await read({ me: me.agent, device }), plain)).toBe(0);

    // The member takes the key from a grant, keeps it non-extractable, and opens the item
    // with a keyring that looks cluster keys up in its own key store.
    const context = 'elohim-cluster-grant-v1';
    const grant = await grantClusterKey(
      cluster.key,
      { cluster: cluster.id, from: me.agent, to: kin.agent, context },
      await deriveRelationshipKey(me.secret, me.agent, kin.agent, context),
    );
    const kinDb = `reach-kin-${++n}`;
    await saveAcceptedClusterKey(
      {
        id: grant.cluster,
        key: await acceptClusterKey(
          grant,
          await deriveRelationshipKey(kin.secret, kin.agent, me.agent, context),
        ),
        from: me.agent,
        acceptedAt: Date.now(),
      },
      { dbName: kinDb },
    );
    const kinKeyring = deviceKeyring({
      me: kin.agent,
      mySecret: kin.secret,
      cluster: (id) => loadClusterKey(id, { dbName: kinDb }),
    });
    expect(Buffer.compare(await read(kinKeyring), plain)).toBe(0);
    // Someone with no cluster key finds no slot for them.
    const eveKeyring = deviceKeyring({
      me: eve.agent,
      mySecret: eve.secret,
      cluster: (id) => loadClusterKey(id, { dbName: `reach-eve-${++n}` }),
    });
    await expect(read(eveKeyring)).rejects.toThrow(NoKeyError);
  });

  it('local without a cluster key: NoFamilyClusterError, nothing stored', async () => {
    const store = await open();
    const me = await agent();
    const device = await loadOrCreateSealingKey({ dbName: `reach-device-${++n}` });
    const put = putAtReach(store, new Blob([new Uint8Array(10)]), {
      reach: 'local',
      owner: me.agent,
      device,
    });
    await expect(put).rejects.toBeInstanceOf(NoFamilyClusterError);
    await expect(put).rejects.toThrow(/mark at least one contact as family/);
    expect(await store.list()).toEqual([]);
  });

  it('the relationship key is the one both sides derive for INVITED_CONTEXT', () => {
    expect(INVITED_CONTEXT).toBe('elohim-invited-v1');
  });
});

describe('deliveryGate', () => {
  it('serves commons to anyone, private to nobody else, unknown hashes to nobody', async () => {
    const store = await open();
    const me = await agent();
    const stranger = await agent();
    const device = await loadOrCreateSealingKey({ dbName: `reach-device-${++n}` });
    const view = viewOf(me.agent);
    const refused: string[] = [];
    const allow = deliveryGate(
      store,
      () => view,
      (_p, _h, reason) => refused.push(reason),
    );
    const open1 = await putAtReach(store, new Blob([new Uint8Array(100).fill(1)]), {
      reach: 'commons',
      owner: me.agent,
    });
    const secret = await putAtReach(store, new Blob([new Uint8Array(100).fill(2)]), {
      reach: 'private',
      owner: me.agent,
      device,
    });
    const ctx = (blobHash: string) => ({ op: 'get' as const, blobHash: blobHash as never });
    expect(await allow(stranger.peer, open1.blob_hash as never, ctx(open1.blob_hash))).toBe(true);
    expect(await allow(stranger.peer, secret.blob_hash as never, ctx(secret.blob_hash))).toBe(
      false,
    );
    expect(refused).toHaveLength(1);
    const missing = `sha256-${'1'.repeat(64)}`;
    expect(await allow(stranger.peer, missing as never, ctx(missing))).toBe(false);
  });
});

describe('deliveryGate for shards kept for the network', () => {
  it('gates a holding by the reach of its blob', async () => {
    const small = { thresholds: { chunkedAbove: 1024, rsAbove: 4096 }, pieceSize: 1024 };
    const src = await openContentStore({ dbName: `reach-content-${++n}`, locks: null, ...small });
    const dst = await openContentStore({ dbName: `reach-content-${++n}`, locks: null, ...small });
    stores.push(src, dst);
    const [me, stranger, friend] = await Promise.all([agent(), agent(), agent()]);
    const view = viewOf(me.agent, { links: new Map([[friend.agent, 'friend']]) });
    const allow = deliveryGate(dst, () => view);
    const keep = async (reach: 'commons' | 'neighborhood', seed: number) => {
      const m = await src.put(pseudoRandomBytes(10_000, seed), { reach, authorId: me.agent });
      const { storage_key: _k, ...manifest } = m;
      const session = await dst.beginShardImport(manifest, [5]);
      for (const { piece } of session.needed) {
        await session.writePiece(5, piece, await src.readPiece(m.blob_hash, 5, piece));
      }
      await session.commit();
      return m.blob_hash as never;
    };
    const commons = await keep('commons', 1);
    const near = await keep('neighborhood', 2);
    const ctx = (blobHash: never) => ({ op: 'pieces' as const, blobHash });
    expect(await allow(stranger.peer, commons, ctx(commons))).toBe(true);
    expect(await allow(stranger.peer, near, ctx(near))).toBe(false);
    expect(await allow(friend.peer, near, ctx(near))).toBe(true);
  });
});

describe('deliveryGate for invited items', () => {
  it('serves the named agents and the owner, refuses everyone else, reading the header once', async () => {
    const store = await open();
    const [me, bob, carol] = await Promise.all([agent(), agent(), agent()]);
    const myOtherDevice = await agent();
    const device = await loadOrCreateSealingKey({ dbName: `reach-device-${++n}` });
    const view: TrustView = {
      me: me.agent,
      myDevices: new Set([myOtherDevice.agent]),
      // A trust link is not an invitation: carol is linked but not named.
      links: new Map([[carol.agent, 'friend']]),
      cluster: new Set(),
    };
    const refused: string[] = [];
    let reads = 0;
    const counting = new Proxy(store, {
      get(target, prop, receiver) {
        if (prop === 'get') {
          return (...args: Parameters<ContentStore['get']>) => {
            reads++;
            return target.get(...args);
          };
        }
        const value = Reflect.get(target, prop, receiver);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const allow = deliveryGate(
      counting,
      () => view,
      (_p, _h, reason) => refused.push(reason),
    );
    const m = await putAtReach(store, new Blob([pseudoRandomBytes(300_000)]), {
      reach: 'invited',
      owner: me.agent,
      device,
      mySecret: me.secret,
      invited: [bob.agent],
    });
    const ask = (who: { peer: Parameters<typeof allow>[0] }) =>
      allow(who.peer, m.blob_hash as never, { op: 'get' as const, blobHash: m.blob_hash as never });
    expect(await ask(bob)).toBe(true);
    expect(await ask(myOtherDevice)).toBe(true);
    expect(await ask(carol)).toBe(false);
    expect(await ask(bob)).toBe(true);
    expect(refused).toEqual([expect.stringMatching(/not among the named recipients/)]);
    expect(reads).toBe(1);
  });

  it("a holder of someone else's invited item serves the named agents only", async () => {
    const owner = await agent();
    const holder = await agent();
    const stranger = await agent();
    const ownerStore = await open();
    const device = await loadOrCreateSealingKey({ dbName: `reach-device-${++n}` });
    const m = await putAtReach(ownerStore, new Blob([pseudoRandomBytes(1_000)]), {
      reach: 'invited',
      owner: owner.agent,
      device,
      mySecret: owner.secret,
      invited: [holder.agent],
    });
    // The holder stores the same sealed bytes (as a fetch would), with the owner as author.
    const holderStore = await open();
    const copy = await holderStore.put(ownerStore.get(m.blob_hash), {
      reach: 'invited',
      authorId: owner.agent,
      mime: m.mime_type,
    });
    expect(copy.blob_hash).toBe(m.blob_hash);
    const view = viewOf(holder.agent, { links: new Map([[owner.agent, 'contact']]) });
    const allow = deliveryGate(holderStore, () => view);
    const ctx = { op: 'get' as const, blobHash: m.blob_hash as never };
    expect(await allow(owner.peer, m.blob_hash as never, ctx)).toBe(true);
    expect(await allow(stranger.peer, m.blob_hash as never, ctx)).toBe(false);
  });

  it('an item labelled invited but not sealed names nobody: refused', async () => {
    const store = await open();
    const me = await agent();
    const bob = await agent();
    const m = await store.put(new Blob([new Uint8Array(100).fill(7)]), {
      reach: 'invited',
      authorId: me.agent,
    });
    expect(await invitedOf(store, m.blob_hash)).toEqual([]);
    const view = viewOf(me.agent);
    const allow = deliveryGate(store, () => view);
    const ctx = { op: 'get' as const, blobHash: m.blob_hash as never };
    expect(await allow(bob.peer, m.blob_hash as never, ctx)).toBe(false);
  });
});

describe('deliveryGate for local items', () => {
  it("serves the owner's family cluster and nobody else, on the owner's device and on a member's", async () => {
    const [owner, kin, kin2, contact] = await Promise.all([agent(), agent(), agent(), agent()]);
    const ownerStore = await open();
    const device = await loadOrCreateSealingKey({ dbName: `reach-device-${++n}` });
    const cluster = await loadOrCreateOwnClusterKey({ dbName: `reach-device-${n}` });
    const m = await putAtReach(ownerStore, new Blob([pseudoRandomBytes(1_000)]), {
      reach: 'local',
      owner: owner.agent,
      device,
      cluster,
    });
    const ctx = { op: 'get' as const, blobHash: m.blob_hash as never };
    const ownerView: TrustView = {
      me: owner.agent,
      myDevices: new Set(),
      links: new Map([
        [kin.agent, 'family'],
        [contact.agent, 'contact'],
      ]),
      cluster: new Set([kin.agent, kin2.agent]),
    };
    const atOwner = deliveryGate(ownerStore, () => ownerView);
    expect(await atOwner(kin.peer, m.blob_hash as never, ctx)).toBe(true);
    expect(await atOwner(kin2.peer, m.blob_hash as never, ctx)).toBe(true);
    expect(await atOwner(contact.peer, m.blob_hash as never, ctx)).toBe(false);

    // kin holds a copy (as a fetch stores it). Its own family (contact) does not count: it
    // serves the owner's family as the trust layer told it, and nothing before it knows that.
    const kinStore = await open();
    await kinStore.put(ownerStore.get(m.blob_hash), {
      reach: 'local',
      authorId: owner.agent,
      mime: m.mime_type,
    });
    const families = new Map<string, Set<string>>();
    const kinView: TrustView = {
      me: kin.agent,
      myDevices: new Set(),
      links: new Map([[owner.agent, 'family']]),
      cluster: new Set([contact.agent]),
      clusterOf: (who) => families.get(who),
    };
    const refused: string[] = [];
    const atKin = deliveryGate(
      kinStore,
      () => kinView,
      (_p, _h, reason) => refused.push(reason),
    );
    expect(await atKin(kin2.peer, m.blob_hash as never, ctx)).toBe(false);
    expect(refused.at(-1)).toMatch(/does not know the family cluster/);
    expect(await atKin(owner.peer, m.blob_hash as never, ctx)).toBe(true);
    families.set(owner.agent, new Set([kin.agent, kin2.agent]));
    expect(await atKin(kin2.peer, m.blob_hash as never, ctx)).toBe(true);
    expect(await atKin(contact.peer, m.blob_hash as never, ctx)).toBe(false);
    expect(refused.at(-1)).toMatch(/not in the owner's family cluster/);
  });
});
