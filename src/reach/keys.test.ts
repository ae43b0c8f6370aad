import 'fake-indexeddb/auto';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { describe, expect, it } from 'vitest';
import { agentKeyFromEd25519 } from './agent.ts';
import { utf8 } from './bytes.ts';
import { createItemKey } from './cipher.ts';
import { KeyAgreementError, KeyUnwrapError, ReachError } from './errors.ts';
import {
  acceptClusterKey,
  createClusterKey,
  deriveRelationshipKey,
  grantClusterKey,
  loadOrCreateSealingKey,
  unwrapWith,
  wrapWith,
} from './keys.ts';
import { testAgent } from './test-support.ts';

const AAD = utf8('test');
const ITEM_USAGES: KeyUsage[] = ['encrypt', 'decrypt'];

/** True when a key wrapped under `a` unwraps under `b`: the two KEKs are the same key. */
async function sameKek(a: CryptoKey, b: CryptoKey): Promise<boolean> {
  const wrapped = await wrapWith(a, await createItemKey(), AAD);
  return unwrapWith(b, wrapped, AAD, ITEM_USAGES, false, 'test').then(
    () => true,
    (e) => {
      expect(e).toBeInstanceOf(KeyUnwrapError);
      return false;
    },
  );
}

let db = 0;
const dbName = () => `reach-keys-${++db}-${Date.now()}`;

describe('device key', () => {
  it('is created once, persists across reopen, and cannot be exported', async () => {
    const name = dbName();
    const first = await loadOrCreateSealingKey({ dbName: name });
    const again = await loadOrCreateSealingKey({ dbName: name });
    expect(again.id).toBe(first.id);
    expect(again.key.extractable).toBe(false);
    expect(again.key.algorithm).toMatchObject({ name: 'AES-GCM', length: 256 });
    expect(await sameKek(first.key, again.key)).toBe(true);
    await expect(crypto.subtle.exportKey('raw', again.key)).rejects.toThrow();
    await expect(crypto.subtle.exportKey('jwk', again.key)).rejects.toThrow();
  });

  it('two tabs racing get the same key', async () => {
    const name = dbName();
    const [a, b] = await Promise.all([
      loadOrCreateSealingKey({ dbName: name }),
      loadOrCreateSealingKey({ dbName: name }),
    ]);
    expect(a.id).toBe(b.id);
    expect(await sameKek(a.key, b.key)).toBe(true);
  });

  it('differs between databases (devices)', async () => {
    const a = await loadOrCreateSealingKey({ dbName: dbName() });
    const b = await loadOrCreateSealingKey({ dbName: dbName() });
    expect(a.id).not.toBe(b.id);
    expect(await sameKek(a.key, b.key)).toBe(false);
  });
});

describe('relationship keys', () => {
  const alice = testAgent();
  const bob = testAgent();
  const carol = testAgent();
  const rel = (me: typeof alice, other: typeof alice, context = 'rel-1') =>
    deriveRelationshipKey(me.secret, me.agent, other.agent, context);

  it('agree on both sides', async () => {
    const ab = await rel(alice, bob);
    const ba = await rel(bob, alice);
    expect(ab.extractable).toBe(false);
    expect(await sameKek(ab, ba)).toBe(true);
    expect(await sameKek(ba, ab)).toBe(true);
  });

  it('differ for other pairs and other contexts', async () => {
    const ab = await rel(alice, bob);
    expect(await sameKek(ab, await rel(alice, carol))).toBe(false);
    expect(await sameKek(ab, await rel(carol, bob))).toBe(false);
    expect(await sameKek(ab, await rel(bob, carol))).toBe(false);
    expect(await sameKek(ab, await rel(bob, alice, 'rel-2'))).toBe(false);
  });

  it("accept libp2p's 64-byte Ed25519 private key", async () => {
    const key = await generateKeyPair('Ed25519');
    const me = agentKeyFromEd25519(key.publicKey.raw);
    const mine = await deriveRelationshipKey(key.raw, me, bob.agent, 'x');
    const theirs = await deriveRelationshipKey(bob.secret, bob.agent, me, 'x');
    expect(await sameKek(mine, theirs)).toBe(true);
  });

  it('refuse a secret that is not mine, myself, and low-order keys', async () => {
    await expect(deriveRelationshipKey(carol.secret, alice.agent, bob.agent, 'x')).rejects.toThrow(
      /does not belong/,
    );
    await expect(
      deriveRelationshipKey(alice.secret, alice.agent, alice.agent, 'x'),
    ).rejects.toThrow(KeyAgreementError);
    await expect(
      deriveRelationshipKey(new Uint8Array(16), alice.agent, bob.agent, 'x'),
    ).rejects.toThrow(/32 bytes/);
    // The Ed25519 identity point (y = 1): its X25519 image is low order.
    const identity = new Uint8Array(32);
    identity[0] = 1;
    await expect(
      deriveRelationshipKey(alice.secret, alice.agent, agentKeyFromEd25519(identity), 'x'),
    ).rejects.toThrow(KeyAgreementError);
  });
});

describe('cluster key', () => {
  const founder = testAgent();
  const member = testAgent();
  const member2 = testAgent();
  const outsider = testAgent();
  const rel = (me: typeof founder, other: typeof founder) =>
    deriveRelationshipKey(me.secret, me.agent, other.agent, 'family');

  async function grantTo(to: typeof founder, clusterKey: CryptoKey) {
    return grantClusterKey(
      clusterKey,
      { cluster: 'c1', from: founder.agent, to: to.agent, context: 'family' },
      await rel(founder, to),
    );
  }

  it('is unwrapped by the members it was granted to, to the same key', async () => {
    const clusterKey = await createClusterKey();
    const grant = await grantTo(member, clusterKey);
    // What the trust layer carries: plain JSON.
    const carried = JSON.parse(JSON.stringify(grant));
    expect(carried).toMatchObject({ v: 1, cluster: 'c1', from: founder.agent, to: member.agent });
    const accepted = await acceptClusterKey(carried, await rel(member, founder));
    expect(accepted.extractable).toBe(false);
    expect(await sameKek(clusterKey, accepted)).toBe(true);
    const grant2 = await grantTo(member2, clusterKey);
    const accepted2 = await acceptClusterKey(grant2, await rel(member2, founder));
    expect(await sameKek(accepted, accepted2)).toBe(true);
  });

  it('does not open for anyone else, nor when the grant is edited', async () => {
    const clusterKey = await createClusterKey();
    const grant = await grantTo(member, clusterKey);
    await expect(acceptClusterKey(grant, await rel(outsider, founder))).rejects.toThrow(
      KeyUnwrapError,
    );
    await expect(acceptClusterKey(grant, await rel(member2, founder))).rejects.toThrow(
      KeyUnwrapError,
    );
    const relabelled = { ...grant, to: member2.agent };
    await expect(acceptClusterKey(relabelled, await rel(member2, founder))).rejects.toThrow(
      /not wrapped for this key/,
    );
    await expect(
      acceptClusterKey({ ...grant, cluster: 'c2' }, await rel(member, founder)),
    ).rejects.toThrow(KeyUnwrapError);
    await expect(
      acceptClusterKey({ ...grant, key: grant.key.slice(0, -2) }, await rel(member, founder)),
    ).rejects.toThrow(KeyUnwrapError);
  });

  it('can be re-granted only by members who took it extractable', async () => {
    const grant = await grantTo(member, await createClusterKey());
    const readOnly = await acceptClusterKey(grant, await rel(member, founder));
    const grantArgs = { cluster: 'c1', from: member.agent, to: member2.agent, context: 'family' };
    await expect(grantClusterKey(readOnly, grantArgs, await rel(member, member2))).rejects.toThrow(
      ReachError,
    );
    const granter = await acceptClusterKey(grant, await rel(member, founder), {
      extractable: true,
    });
    const onward = await grantClusterKey(granter, grantArgs, await rel(member, member2));
    const got = await acceptClusterKey(onward, await rel(member2, member));
    expect(await sameKek(got, readOnly)).toBe(true);
  });
});
