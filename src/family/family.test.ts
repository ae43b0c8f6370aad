/**
 * The family cluster against the doorway's conductor EMULATOR, in-process, through real trust
 * clients (fake-indexeddb for their outboxes and the reach key stores).
 */
import 'fake-indexeddb/auto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { generateKeyPair } from '@libp2p/crypto/keys';
import type { PrivateKey } from '@libp2p/interface';
import { afterEach, describe, expect, it } from 'vitest';
import { openContentStore } from '../content/index.ts';
import {
  acceptedClusterKeys,
  deviceKeyring,
  loadClusterKey,
  loadOrCreateSealingKey,
  loadOwnClusterKey,
  openStored,
  putAtReach,
} from '../reach/index.ts';
import { pseudoRandomBytes } from '../test-support/bytes.ts';
import { HolochainTrustClient } from '../trust/index.ts';
import { sharedTestDoorway } from '../trust/test-support.ts';
import { Family, type FamilySnapshot } from './family.ts';

let n = 0;
const open: { close(): unknown }[] = [];
const doorway = sharedTestDoorway('family-');
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close();
});

interface Person {
  key: PrivateKey;
  trust: HolochainTrustClient;
  family: Family;
  keysDb: string;
}

/** One browser profile: a trust client and its family service, with their own databases. */
async function person(): Promise<Person> {
  const key = await generateKeyPair('Ed25519');
  const trust = await HolochainTrustClient.create({
    doorway: doorway().url,
    deviceKey: key,
    dbName: `family-trust-${++n}`,
    minBackoffMs: 50,
    maxBackoffMs: 250,
    callTimeoutMs: 5_000,
  });
  open.push(trust);
  await expect.poll(() => trust.state.status, { timeout: 10_000 }).toBe('connected');
  const keysDb = `family-keys-${++n}`;
  const family = new Family({ trust, mySecret: key.raw, keysDb, refreshMs: 0 });
  open.push(family);
  return { key, trust, family, keysDb };
}

const snap = (p: Person): FamilySnapshot => p.family.snapshot();

describe('Family', () => {
  it("A names B family: A's key is made once and granted to B, who keeps it unexportable; a contact gets nothing", async () => {
    const [a, b, c] = await Promise.all([person(), person(), person()]);
    await a.trust.createRelationship(c.trust.me, 'contact');
    await a.family.sync();
    // No family yet: no key made, nobody in the cluster.
    expect(snap(a)).toMatchObject({ status: 'ready', members: [], memberOf: [] });
    expect(snap(a).cluster).toBeUndefined();
    expect(await loadOwnClusterKey({ dbName: a.keysDb })).toBeUndefined();

    await a.family.addMember(b.trust.me);
    const cluster = (await loadOwnClusterKey({ dbName: a.keysDb }))?.id;
    expect(cluster).toBeDefined();
    expect(snap(a)).toMatchObject({
      cluster,
      members: [{ agent: b.trust.me, key: 'shared' }],
    });
    expect([...a.family.members]).toEqual([b.trust.me]);

    // The grantee is signalled and accepts without waiting for a refresh.
    await expect.poll(() => snap(b).memberOf[0]?.key, { timeout: 10_000 }).toBe('received');
    expect(snap(b).memberOf).toEqual([
      { owner: a.trust.me, key: 'received', members: [b.trust.me] },
    ]);
    expect([...(b.family.clusterOf(a.trust.me) ?? [])]).toEqual([b.trust.me]);
    // Being named family puts me in A's cluster, not A in mine.
    expect(b.family.members.size).toBe(0);
    const kept = (await loadClusterKey(cluster as string, { dbName: b.keysDb })) as CryptoKey;
    expect(kept.extractable).toBe(false);

    await c.family.sync();
    expect(snap(c)).toMatchObject({ members: [], memberOf: [] });
    expect(c.family.clusterOf(a.trust.me)).toBeUndefined();
    expect(await acceptedClusterKeys({ dbName: c.keysDb })).toEqual([]);

    // Another pass grants nothing twice.
    const before = (await a.trust.myClusterKeyGrants()).length;
    await a.family.sync();
    expect((await a.trust.myClusterKeyGrants()).length).toBe(before);
  });

  it('a family item sealed by A opens with the key B accepted, and not with a contact’s keys', async () => {
    const [a, b, c] = await Promise.all([person(), person(), person()]);
    await a.family.addMember(b.trust.me);
    await expect.poll(() => snap(b).memberOf[0]?.key, { timeout: 10_000 }).toBe('received');

    const store = await openContentStore({ dbName: `family-content-${++n}`, locks: null });
    open.push(store);
    const plain = pseudoRandomBytes(100_000);
    const manifest = await putAtReach(store, new Blob([plain]), {
      reach: 'local',
      owner: a.trust.me,
      device: await loadOrCreateSealingKey({ dbName: a.keysDb }),
      cluster: await loadOwnClusterKey({ dbName: a.keysDb }),
    });
    const read = async (p: Person) =>
      new Uint8Array(
        await new Response(
          openStored(
            manifest,
            store.get(manifest.blob_hash),
            deviceKeyring({
              me: p.trust.me,
              mySecret: p.key.raw,
              cluster: (id) => loadClusterKey(id, { dbName: p.keysDb }),
            }),
          ),
        ).arrayBuffer(),
      );
    expect(Buffer.compare(await read(b), plain)).toBe(0);
    await expect(read(c)).rejects.toThrow(/not sealed for this device/);
  });

  it('a member added later gets the same key; members see each other; a restart re-grants nothing', async () => {
    const [a, b, d] = await Promise.all([person(), person(), person()]);
    await a.family.addMember(b.trust.me);
    const first = snap(a).cluster;
    await a.family.addMember(d.trust.me);
    expect(snap(a).cluster).toBe(first);
    expect(snap(a).members.map((m) => m.key)).toEqual(['shared', 'shared']);
    await b.family.sync();
    await d.family.sync();
    for (const p of [b, d]) {
      expect(snap(p).memberOf).toEqual([
        { owner: a.trust.me, key: 'received', members: [b.trust.me, d.trust.me] },
      ]);
    }

    // The same browser profile, reloaded: same key, nothing granted again.
    const grants = await a.trust.myClusterKeyGrants();
    a.family.close();
    const again = new Family({
      trust: a.trust,
      mySecret: a.key.raw,
      keysDb: a.keysDb,
      refreshMs: 0,
    });
    open.push(again);
    await again.sync();
    expect(again.snapshot().cluster).toBe(first);
    expect(await a.trust.myClusterKeyGrants()).toEqual(grants);
  });

  it('says offline, and keeps what it knew, while the trust layer is away', async () => {
    const [a, b] = await Promise.all([person(), person()]);
    await a.family.addMember(b.trust.me);
    await a.trust.close();
    await a.family.sync();
    expect(snap(a).status).toBe('offline');
    expect(snap(a).error).toBeTruthy();
    expect([...a.family.members]).toEqual([b.trust.me]);
  });

  it('says it cannot know yet, without waiting for a call, when the trust layer is out of reach from the start', async () => {
    // A doorway that answers every request 503: the trust client goes offline and stays there.
    const down = createServer((_req, res) => res.writeHead(503).end());
    await new Promise<void>((resolve) => down.listen(0, '127.0.0.1', resolve));
    open.push({ close: () => new Promise((resolve) => down.close(resolve)) });
    const key = await generateKeyPair('Ed25519');
    const trust = await HolochainTrustClient.create({
      doorway: `http://127.0.0.1:${(down.address() as AddressInfo).port}`,
      deviceKey: key,
      dbName: `family-trust-${++n}`,
      minBackoffMs: 60_000,
      maxBackoffMs: 60_000,
    });
    open.push(trust);
    const family = new Family({ trust, mySecret: key.raw, keysDb: `family-keys-${++n}` });
    open.push(family);
    await expect.poll(() => family.snapshot().status, { timeout: 10_000 }).toBe('offline');
    expect(family.snapshot().syncedAt).toBeUndefined();
    expect(family.snapshot().error).toBeTruthy();
  });
});
