/** Social recovery through the real AppWebsocket: who holds, releases and reads which share. */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { AppSignal } from '@holochain/client';
import { describe, expect, it } from 'vitest';
import {
  MAX_GUARDIANS,
  MAX_RELEASES_PER_GUARDIAN,
  MAX_SEALED_SHARE,
  type RecoveryReleaseWire,
  type RecoveryShareWire,
} from '../../src/wire/index.ts';
import { sharedTempDir } from '../test-support.ts';
import { createRelationship } from './imagodei.ts';
import {
  getMyRecoveryReleases,
  getMyRecoveryShares,
  releaseRecoveryShare,
  setRecoveryGuardians,
} from './recovery.ts';
import { DNA_HASHES, EmulatorStore } from './store.ts';
import {
  type connectAgent,
  newKey,
  refusal,
  sharedTrustServer,
  suiteAgents,
  zomeContext,
} from './test-support.ts';

type Agent = Awaited<ReturnType<typeof connectAgent>>;

const newSetup = () => randomBytes(16).toString('base64url');
/** A share as src/recovery seals it: a 12-byte IV and the sealed bytes, base64url. */
const sealedFor = (guardian: Uint8Array) => ({
  guardian,
  iv: randomBytes(12).toString('base64url'),
  sealed: randomBytes(64).toString('base64url'),
});
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');
const typeOf = (s: AppSignal) => (s.payload as { type?: string }).type;

describe('social recovery', () => {
  const server = sharedTrustServer('hc-recovery-');
  const agent = suiteAgents(server);

  const link = (from: Agent, to: Uint8Array, type = 'friend') =>
    from.call('imagodei', 'create_relationship', { other_agent: to, relationship_type: type });
  const setGuardians = (owner: Agent, payload: Record<string, unknown>) =>
    owner.call<{ action_hash: Uint8Array; shares: RecoveryShareWire[] }>(
      'imagodei',
      'set_recovery_guardians',
      payload,
    );
  const release = (guardian: Agent, payload: Record<string, unknown>) =>
    guardian.call<{ action_hash: Uint8Array; release: RecoveryReleaseWire }>(
      'imagodei',
      'release_recovery_share',
      payload,
    );
  const sharesOf = (a: Agent) =>
    a.call<RecoveryShareWire[]>('imagodei', 'get_my_recovery_shares', null);
  const releasesOf = (a: Agent) =>
    a.call<RecoveryReleaseWire[]>('imagodei', 'get_my_recovery_releases', null);
  const releasePayload = (owner: Uint8Array, requester: Uint8Array) => ({
    owner,
    requester,
    iv: randomBytes(12).toString('base64url'),
    sealed: randomBytes(64).toString('base64url'),
  });

  /** An owner with a 2-of-`guardians.length` setup over guardians it linked. */
  async function setUp(owner: Agent, guardians: Agent[]) {
    for (const g of guardians) await link(owner, g.agent);
    await setGuardians(owner, {
      setup: newSetup(),
      threshold: 2,
      shares: guardians.map((g) => sealedFor(g.agent)),
    });
  }

  it('2 of 3: each guardian reads its own share, a release reaches its requester, a new setup replaces both', async () => {
    const [owner, g1, g2, g3, stranger, requester] = await Promise.all([
      agent(),
      agent(),
      agent(),
      agent(),
      agent(),
      agent(),
    ]);
    // Any relationship type makes a contact.
    await link(owner, g1.agent, 'friend');
    await link(owner, g2.agent, 'family');
    await link(owner, g3.agent, 'neighbor');
    const payload = {
      setup: newSetup(),
      threshold: 2,
      shares: [g1, g2, g3].map((g) => sealedFor(g.agent)),
    };
    const out = await setGuardians(owner, payload);
    expect(out.action_hash).toHaveLength(39);
    expect(out.shares).toHaveLength(3);
    for (const share of out.shares) {
      expect(share).toMatchObject({ setup: payload.setup, threshold: 2, total: 3 });
      expect(hex(share.owner)).toBe(hex(owner.agent));
      expect(hex(share.action_hash)).toBe(hex(out.action_hash));
    }

    expect(await sharesOf(owner)).toHaveLength(3);
    for (const [i, g] of [g1, g2, g3].entries()) {
      const held = await sharesOf(g);
      expect(held).toHaveLength(1);
      expect(hex(held[0]?.guardian as Uint8Array)).toBe(hex(g.agent));
      expect(held[0]).toMatchObject({
        iv: payload.shares[i]?.iv,
        sealed: payload.shares[i]?.sealed,
      });
    }
    expect(await sharesOf(stranger)).toEqual([]);
    // Guardians learn of their share by asking: setting one signals nobody.
    expect(g1.received.map(typeOf)).toEqual([]);

    // A guardian's say about the setup is ignored: setup and threshold are the share's.
    const sent = {
      ...releasePayload(owner.agent, requester.agent),
      setup: newSetup(),
      threshold: 9,
    };
    const released = await release(g1, sent);
    expect(released.release).toMatchObject({
      setup: payload.setup,
      threshold: 2,
      sealed: sent.sealed,
    });
    await expect.poll(() => requester.received.map(typeOf)).toContain('RecoveryShareReleased');
    const signal = requester.received.find((s) => typeOf(s) === 'RecoveryShareReleased');
    // From the requester's own cell, as its recv_remote_signal would emit it.
    expect(hex(signal?.cell_id[1] as Uint8Array)).toBe(hex(requester.agent));
    expect(signal?.payload).toMatchObject({ payload: { release: { setup: payload.setup } } });
    await expect.poll(() => g1.received.map(typeOf)).toContain('RecoveryShareReleased');

    const received = await releasesOf(requester);
    expect(received).toHaveLength(1);
    expect(received[0]).toMatchObject({ setup: payload.setup, threshold: 2, iv: sent.iv });
    expect(hex(received[0]?.guardian as Uint8Array)).toBe(hex(g1.agent));
    expect(await releasesOf(g1)).toHaveLength(1);
    // Nothing there for the owner, nor anyone else.
    expect(await releasesOf(owner)).toEqual([]);
    expect(await releasesOf(g2)).toEqual([]);
    expect(await releasesOf(stranger)).toEqual([]);
    expect(owner.received.map(typeOf)).not.toContain('RecoveryShareReleased');

    const next = {
      setup: newSetup(),
      threshold: 2,
      shares: [g1, g2].map((g) => sealedFor(g.agent)),
    };
    await setGuardians(owner, next);
    expect(await sharesOf(owner)).toHaveLength(2);
    expect((await sharesOf(g1)).map((s) => s.setup)).toEqual([next.setup]);
    expect(await sharesOf(g3)).toEqual([]);
    expect(await releasesOf(requester)).toEqual([]);
    expect(await releasesOf(g1)).toEqual([]);
  });

  it('refuses guardians who are not contacts, the caller, duplicates, and a bad count or threshold', async () => {
    const [owner, admirer] = await Promise.all([agent(), agent()]);
    const contacts = [newKey().agent, newKey().agent, newKey().agent];
    for (const c of contacts) await link(owner, c);
    // Naming the owner a friend does not make one its contact.
    await link(admirer, owner.agent);
    const good = { setup: newSetup(), threshold: 2, shares: contacts.map(sealedFor) };
    const strangers = Array.from({ length: MAX_GUARDIANS + 1 }, () => sealedFor(newKey().agent));
    const cases: [Record<string, unknown>, RegExp][] = [
      [
        { ...good, shares: [...good.shares.slice(0, 2), sealedFor(newKey().agent)] },
        /guardian uhCAk\S+ must be one of your contacts: call create_relationship first/,
      ],
      [
        { ...good, shares: [...good.shares.slice(0, 2), sealedFor(admirer.agent)] },
        /guardian uhCAk\S+ must be one of your contacts/,
      ],
      [
        { ...good, threshold: 1 },
        /threshold must be from 2 to 3 \(the number of guardians\), got 1/,
      ],
      [{ ...good, threshold: 4 }, /threshold must be from 2 to 3/],
      // Counted before any entry is read: these strangers would be refused one by one otherwise.
      [{ ...good, shares: strangers }, /shares must name 2 to 10 guardians, got 11/],
      [{ ...good, shares: good.shares.slice(0, 1) }, /shares must name 2 to 10 guardians, got 1/],
      [
        { ...good, shares: [...good.shares.slice(0, 2), sealedFor(contacts[0] as Uint8Array)] },
        /guardian uhCAk\S+ is named twice/,
      ],
      [
        { ...good, shares: [...good.shares.slice(0, 2), sealedFor(owner.agent)] },
        /guardian uhCAk\S+ is you/,
      ],
      [
        {
          ...good,
          shares: [{ ...good.shares[0], sealed: 'A'.repeat(MAX_SEALED_SHARE + 1) }, good.shares[1]],
        },
        /shares\[0\]\.sealed must be 1 to 2048 characters, got 2049/,
      ],
      [
        { ...good, shares: [good.shares[0], { ...good.shares[1], sealed: 'a+b/c=' }] },
        /shares\[1\]\.sealed must be base64url/,
      ],
      [
        {
          ...good,
          shares: [
            { ...good.shares[0], iv: randomBytes(16).toString('base64url') },
            good.shares[1],
          ],
        },
        /shares\[0\]\.iv must be 16 base64url characters/,
      ],
      [{ ...good, setup: 'short' }, /setup must be 16 to 64 base64url characters/],
    ];
    for (const [payload, message] of cases) {
      expect(await refusal(setGuardians(owner, payload)), message.source).toMatch(
        new RegExp(`Validation failed: ${message.source}`),
      );
    }
    expect(await refusal(setGuardians(owner, { ...good, shares: 'all of them' }))).toMatch(
      /Deserialize\("set_recovery_guardians input: shares must be a list/,
    );
    // Nothing refused was kept, and the good payload goes through.
    expect(await sharesOf(owner)).toEqual([]);
    expect((await setGuardians(owner, good)).shares).toHaveLength(3);
  });

  it('refuses releases by a non-guardian, to the guardian or the owner, and malformed ones', async () => {
    const [owner, g1, g2, outsider] = await Promise.all([agent(), agent(), agent(), agent()]);
    await setUp(owner, [g1, g2]);
    const requester = newKey().agent;
    const cases: [Agent, Record<string, unknown>, RegExp][] = [
      [
        outsider,
        releasePayload(owner.agent, requester),
        /you hold no recovery share of this agent/,
      ],
      // The owner holds no share of itself either.
      [owner, releasePayload(owner.agent, requester), /you hold no recovery share/],
      [g1, releasePayload(g2.agent, requester), /you hold no recovery share/],
      [g1, releasePayload(owner.agent, g1.agent), /requester must be another agent/],
      [g1, releasePayload(owner.agent, owner.agent), /requester must not be the owner's own key/],
      [
        g1,
        { ...releasePayload(owner.agent, requester), iv: 'not an iv' },
        /iv must be 16 base64url characters/,
      ],
      [
        g1,
        { ...releasePayload(owner.agent, requester), sealed: 'A'.repeat(MAX_SEALED_SHARE + 1) },
        /sealed must be 1 to 2048 characters/,
      ],
    ];
    for (const [caller, payload, message] of cases) {
      expect(await refusal(release(caller, payload)), message.source).toMatch(
        new RegExp(`Validation failed: ${message.source}`),
      );
    }
    for (const a of [owner, g1, g2, outsider]) expect(await releasesOf(a)).toEqual([]);
  });

  it(`keeps a guardian's newest ${MAX_RELEASES_PER_GUARDIAN} releases of an owner`, async () => {
    const [owner, g1, g2] = await Promise.all([agent(), agent(), agent()]);
    await setUp(owner, [g1, g2]);
    const requesters = Array.from({ length: MAX_RELEASES_PER_GUARDIAN + 2 }, () => newKey().agent);
    for (const r of requesters.slice(0, MAX_RELEASES_PER_GUARDIAN + 1)) {
      await release(g1, releasePayload(owner.agent, r));
    }
    const kept = async () => (await releasesOf(g1)).map((r) => hex(r.requester)).sort();
    // The first requester's release went.
    expect(await kept()).toEqual(requesters.slice(1, -1).map(hex).sort());

    // Releasing again to a requester replaces its release and makes it the newest.
    const [, oldestKept, nextOldest] = requesters as [Uint8Array, Uint8Array, Uint8Array];
    await release(g1, releasePayload(owner.agent, oldestKept));
    await release(g1, releasePayload(owner.agent, requesters.at(-1) as Uint8Array));
    const left = requesters.slice(1).filter((r) => r !== nextOldest);
    expect(await kept()).toEqual(left.map(hex).sort());
    // Another guardian's releases are counted on their own.
    await release(g2, releasePayload(owner.agent, oldestKept));
    expect(await releasesOf(g2)).toHaveLength(1);
    expect(await kept()).toHaveLength(MAX_RELEASES_PER_GUARDIAN);
  });
});

describe('social recovery storage', () => {
  const dir = sharedTempDir('hc-recovery-store-');

  it('brings a version 4 database up to date, keeping its data, and recovers over it', () => {
    const file = join(dir(), 'v4');
    const [owner, g1, g2, requester] = Array.from({ length: 4 }, () => newKey().agent) as [
      Uint8Array,
      Uint8Array,
      Uint8Array,
      Uint8Array,
    ];
    let store = EmulatorStore.open(file);
    store.installApp(owner);
    for (const g of [g1, g2]) {
      createRelationship(zomeContext(store, [DNA_HASHES.imagodei, owner]), {
        other_agent: g,
        relationship_type: 'friend',
      });
    }
    // What a doorway of version 4 left: no recovery (nor device) tables.
    store.db.exec('DROP TABLE recovery_shares; DROP TABLE recovery_releases; DROP TABLE devices');
    store.db.pragma('user_version = 4');
    store.close();
    store = EmulatorStore.open(file);
    try {
      expect(store.db.pragma('user_version', { simple: true })).toBe(6);
      expect(store.appOfAgent(owner)).toBeDefined();
      const indexes = ['recovery_shares', 'recovery_releases'].flatMap((table) =>
        (store.db.pragma(`index_list(${table})`) as { name: string }[]).map((i) => i.name),
      );
      expect(indexes).toEqual(
        expect.arrayContaining([
          'recovery_shares_by_guardian',
          'recovery_releases_by_requester',
          'recovery_releases_by_guardian',
        ]),
      );

      setRecoveryGuardians(zomeContext(store, [DNA_HASHES.imagodei, owner]), {
        setup: newSetup(),
        threshold: 2,
        shares: [g1, g2].map(sealedFor),
      });
      expect(getMyRecoveryShares(zomeContext(store, [DNA_HASHES.imagodei, g1]), null)).toHaveLength(
        1,
      );
      releaseRecoveryShare(zomeContext(store, [DNA_HASHES.imagodei, g1]), {
        owner,
        requester,
        iv: randomBytes(12).toString('base64url'),
        sealed: randomBytes(64).toString('base64url'),
      });
      expect(
        getMyRecoveryReleases(zomeContext(store, [DNA_HASHES.imagodei, requester]), null),
      ).toHaveLength(1);
    } finally {
      store.close();
    }
  });
});
