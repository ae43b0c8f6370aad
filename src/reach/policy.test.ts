import { describe, expect, it } from 'vitest';
import { REACHES } from '../content/index.ts';
import {
  compareReach,
  isEncryptedAtRest,
  mayDeliver,
  mayReplicateTo,
  REACH_ORDER,
  type Reach,
  type ReachItem,
  type TrustView,
} from './policy.ts';
import { testAgent } from './test-support.ts';

const [me, myLaptop, invitee, cousin, neighbor, stranger, other] = Array.from(
  { length: 7 },
  () => testAgent().agent,
) as [string, string, string, string, string, string, string];

const trust: TrustView = {
  me,
  myDevices: new Set([myLaptop]),
  links: new Map([
    [neighbor, 'neighbor'],
    [other, 'friend'],
  ]),
  cluster: new Set([cousin, other]),
};

const TRUST_SCOPED: Reach[] = ['neighborhood', 'municipal', 'bioregional', 'regional'];

type Kind = 'unknown' | 'owner' | 'myDevice' | 'invitee' | 'cluster' | 'linked' | 'stranger';
const requesters: Record<Kind, string | undefined> = {
  unknown: undefined,
  owner: me,
  myDevice: myLaptop,
  invitee,
  cluster: cousin,
  linked: neighbor,
  stranger,
};

/** Who may receive an item I own, by reach (docs/design.md §7). */
const expected: Record<Reach, Kind[]> = {
  private: ['owner', 'myDevice'],
  invited: ['owner', 'myDevice', 'invitee'],
  local: ['owner', 'myDevice', 'cluster'],
  neighborhood: ['owner', 'myDevice', 'linked'],
  municipal: ['owner', 'myDevice', 'linked'],
  bioregional: ['owner', 'myDevice', 'linked'],
  regional: ['owner', 'myDevice', 'linked'],
  commons: ['unknown', 'owner', 'myDevice', 'invitee', 'cluster', 'linked', 'stranger'],
};

describe('reach levels', () => {
  it('orders every reach from narrowest to widest', () => {
    expect(REACH_ORDER).toEqual(REACHES);
    expect(compareReach('private', 'commons')).toBeLessThan(0);
    expect(compareReach('regional', 'bioregional')).toBeGreaterThan(0);
    expect(compareReach('local', 'local')).toBe(0);
  });

  it('encrypts exactly private, invited and local at rest', () => {
    expect(REACHES.filter(isEncryptedAtRest)).toEqual(['private', 'invited', 'local']);
  });
});

describe('mayDeliver, items I own', () => {
  for (const reach of REACHES) {
    for (const [kind, requester] of Object.entries(requesters) as [Kind, string | undefined][]) {
      const want = expected[reach].includes(kind);
      it(`${reach} → ${kind}: ${want ? 'allow' : 'deny'}`, () => {
        const item: ReachItem = { reach, owner: me, invited: [invitee] };
        const d = mayDeliver(item, requester, trust);
        expect(d.allow).toBe(want);
        expect(d.reason).toMatch(new RegExp(`^${reach}: `));
      });
    }
  }

  it('refuses an unknown reach', () => {
    const d = mayDeliver({ reach: 'galactic' as Reach, owner: me }, me, trust);
    expect(d).toEqual({ allow: false, reason: 'unknown reach "galactic": refused' });
  });

  it('says why in the reason', () => {
    expect(mayDeliver({ reach: 'neighborhood', owner: me }, neighbor, trust).reason).toContain(
      'trust link (neighbor)',
    );
    expect(mayDeliver({ reach: 'local', owner: me }, undefined, trust).reason).toContain(
      'not a known agent',
    );
  });
});

describe('mayDeliver, items I hold for someone else', () => {
  it('private: only back to its owner', () => {
    const item: ReachItem = { reach: 'private', owner: other };
    expect(mayDeliver(item, other, trust).allow).toBe(true);
    for (const r of [me, myLaptop, cousin, neighbor])
      expect(mayDeliver(item, r, trust).allow).toBe(false);
  });

  it('invited: the owner and the named recipients, not my other devices', () => {
    const item: ReachItem = { reach: 'invited', owner: other, invited: [me, invitee] };
    expect(mayDeliver(item, invitee, trust).allow).toBe(true);
    expect(mayDeliver(item, other, trust).allow).toBe(true);
    expect(mayDeliver(item, myLaptop, trust).allow).toBe(false);
    expect(mayDeliver(item, neighbor, trust).allow).toBe(false);
  });

  it("local: the owner's family cluster as the trust layer told us, not mine", () => {
    // `other` named me and `invitee` family; my own family (`cousin`, `other`) does not count.
    const families: TrustView = {
      ...trust,
      clusterOf: (owner) => (owner === other ? new Set([me, invitee]) : undefined),
    };
    const item: ReachItem = { reach: 'local', owner: other };
    expect(mayDeliver(item, invitee, families)).toMatchObject({ allow: true });
    expect(mayDeliver(item, other, families).allow).toBe(true);
    expect(mayDeliver(item, myLaptop, families).reason).toContain('a device of a family');
    expect(mayDeliver(item, cousin, families).reason).toContain("not in the owner's family");
    expect(mayDeliver(item, neighbor, families).allow).toBe(false);
    // Without the owner's family, only the owner itself gets it back.
    expect(mayDeliver(item, cousin, trust).reason).toContain('does not know the family cluster');
    const outsider: ReachItem = { reach: 'local', owner: stranger };
    expect(mayDeliver(outsider, cousin, families).allow).toBe(false);
    expect(mayDeliver(outsider, stranger, families).allow).toBe(true);
    // An owner's family that does not hold me: my devices do not ride along.
    const notMine: TrustView = { ...trust, clusterOf: () => new Set([invitee]) };
    expect(mayDeliver(item, myLaptop, notMine).allow).toBe(false);
  });

  for (const reach of TRUST_SCOPED) {
    it(`${reach}: my devices; third agents only with a known link to the owner`, () => {
      const item: ReachItem = { reach, owner: other };
      expect(mayDeliver(item, myLaptop, trust).allow).toBe(true);
      expect(mayDeliver(item, neighbor, trust).allow).toBe(false);
      const withLinks: TrustView = {
        ...trust,
        linksOf: (a) => (a === other ? new Map([[neighbor, 'colleague']]) : undefined),
      };
      expect(mayDeliver(item, neighbor, withLinks)).toMatchObject({ allow: true });
      expect(mayDeliver(item, stranger, withLinks).allow).toBe(false);
    });
  }
});

describe('mayReplicateTo', () => {
  it('for my own items, pushes to exactly the delivery audience', () => {
    for (const reach of REACHES) {
      for (const requester of Object.values(requesters)) {
        const item: ReachItem = { reach, owner: me, invited: [invitee] };
        expect(mayReplicateTo(item, requester, trust)).toEqual(mayDeliver(item, requester, trust));
      }
    }
  });

  it("does not spread someone else's non-commons item beyond its owner and my devices", () => {
    const withLinks: TrustView = { ...trust, linksOf: () => new Map([[neighbor, 'neighbor']]) };
    const item: ReachItem = { reach: 'neighborhood', owner: other };
    expect(mayDeliver(item, neighbor, withLinks).allow).toBe(true);
    const d = mayReplicateTo(item, neighbor, withLinks);
    expect(d.allow).toBe(false);
    expect(d.reason).toContain('only the owner spreads it');
    expect(mayReplicateTo(item, other, withLinks).allow).toBe(true);
    expect(mayReplicateTo(item, myLaptop, withLinks).allow).toBe(true);
    const local: ReachItem = { reach: 'local', owner: other };
    const families: TrustView = { ...trust, clusterOf: () => new Set([me, cousin]) };
    expect(mayDeliver(local, cousin, families).allow).toBe(true);
    expect(mayReplicateTo(local, cousin, families).allow).toBe(false);
    expect(mayReplicateTo(local, other, families).allow).toBe(true);
  });

  it('pushes commons to anyone, known or not', () => {
    const item: ReachItem = { reach: 'commons', owner: other };
    expect(mayReplicateTo(item, undefined, trust).allow).toBe(true);
    expect(mayReplicateTo(item, stranger, trust).allow).toBe(true);
  });

  it('never pushes beyond commons to an unknown peer', () => {
    for (const reach of REACHES.filter((r) => r !== 'commons')) {
      expect(mayReplicateTo({ reach, owner: me }, undefined, trust).allow).toBe(false);
    }
  });
});
