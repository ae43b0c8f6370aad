/**
 * Reach policy (docs/design.md §7) as pure functions: which reaches are encrypted at rest, and
 * the two gates — delivery (answering a peer's request) and replication (pushing a copy to a
 * peer on our own initiative). The trust layer's knowledge comes in through {@link TrustView},
 * so the rules are testable as tables and independent of Holochain.
 */
import { REACHES, type Reach } from '../content/index.ts';
import { type AgentKey, agentKeyOfPeer, type PeerIdLike } from './agent.ts';

export type { Reach };

/** Narrowest (0) to widest: each level reaches at least as far as the one before. */
const WIDTH: Record<Reach, number> = {
  private: 0,
  invited: 1,
  local: 2,
  neighborhood: 3,
  municipal: 4,
  bioregional: 5,
  regional: 6,
  commons: 7,
};

/** The reaches from narrowest to widest. */
export const REACH_ORDER: readonly Reach[] = [...REACHES].sort((a, b) => WIDTH[a] - WIDTH[b]);

/** < 0 when `a` is narrower than `b`, 0 when equal, > 0 when wider (for sorting and "at least"). */
export function compareReach(a: Reach, b: Reach): number {
  return WIDTH[a] - WIDTH[b];
}

export function isReach(v: unknown): v is Reach {
  return typeof v === 'string' && Object.hasOwn(WIDTH, v);
}

/** The reaches whose bytes are sealed at rest (and in transit, and on every replica). */
export type SealedReach = 'private' | 'invited' | 'local';

/** private (device key), invited (relationship keys), local (cluster key); wider reaches are clear. */
export function isEncryptedAtRest(reach: Reach): reach is SealedReach {
  return reach === 'private' || reach === 'invited' || reach === 'local';
}

/** The imagodei relationship type of a trust link (e.g. `family`, `friend`, `neighbor`). */
export type RelationshipType = string;

/**
 * What the trust layer tells us, from this device's point of view: the person's agent key, and
 * their other devices by their own device keys (docs/design.md §2). Live views are fine: the
 * gates read them on every call.
 */
export interface TrustView {
  /** The agent key of the person using this device. */
  readonly me: AgentKey;
  /** The other devices of the person using this one (their device keys, as agent keys). */
  readonly myDevices: ReadonlySet<AgentKey>;
  /** Agents this person has a trust link with, and the link's relationship type. */
  readonly links: ReadonlyMap<AgentKey, RelationshipType>;
  /**
   * The members of this person's family cluster (reach `local`): the agents they named family,
   * excluding their own devices.
   */
  readonly cluster: ReadonlySet<AgentKey>;
  /**
   * Another agent's family cluster members (whom that agent named family), when the trust layer
   * has told us: a device knows it for the families its person belongs to. Needed to serve
   * someone else's `local` item on; without it such requests are refused (we cannot confirm
   * the requester is in the owner's family).
   */
  clusterOf?(owner: AgentKey): ReadonlySet<AgentKey> | undefined;
  /**
   * Another agent's trust links, when the trust layer has told us. Needed only to serve a
   * trust-scoped item we hold for someone else to a third agent; without it such requests
   * are refused (we cannot confirm the link).
   */
  linksOf?(agent: AgentKey): ReadonlyMap<AgentKey, RelationshipType> | undefined;
}

/** What the gates need to know about an item (from its manifest / catalogue entry). */
export interface ReachItem {
  readonly reach: Reach;
  /** The agent that published it (the manifest's `author_id`). */
  readonly owner: AgentKey;
  /** For `invited`: the named recipients. */
  readonly invited?: readonly AgentKey[];
}

/** A gate's answer; `reason` is for logs and the UI. */
export interface Decision {
  readonly allow: boolean;
  readonly reason: string;
}

const allow = (reason: string): Decision => ({ allow: true, reason });
const deny = (reason: string): Decision => ({ allow: false, reason });

/** Agent keys are 53 characters; a recognisable prefix is enough in a log line. */
function short(agent: AgentKey): string {
  return agent.length > 14 ? `${agent.slice(0, 12)}…` : agent;
}

function isMine(trust: TrustView, agent: AgentKey): boolean {
  return agent === trust.me || trust.myDevices.has(agent);
}

/** Whether `peer`'s own key is one of this person's other devices (`TrustView.myDevices`). */
export function isMyDevice(trust: TrustView, peer: PeerIdLike): boolean {
  const agent = agentKeyOfPeer(peer);
  return agent !== undefined && trust.myDevices.has(agent);
}

/** The trust link between an item's owner and another agent, as far as this device knows. */
function linkBetween(
  trust: TrustView,
  owner: AgentKey,
  other: AgentKey,
): RelationshipType | undefined {
  if (isMine(trust, owner)) return trust.links.get(other);
  // My devices share my links: I hold the owner's item because I am linked to the owner.
  if (isMine(trust, other)) return trust.links.get(owner);
  return trust.linksOf?.(owner)?.get(other);
}

/**
 * May `requester` receive `item` from this device (a `Get`, a piece request, or even a `Have`
 * answer)? `requester` is `undefined` when the peer maps to no agent: such peers get commons
 * only. Refused requests must get `NotFound` and zero bytes (docs/design.md §7).
 *
 * | reach                                   | who receives it                                              |
 * |-----------------------------------------|--------------------------------------------------------------|
 * | commons                                 | anyone, known or not                                         |
 * | every other                             | the owner; the owner's devices when the owner is this person |
 * | private                                 | only those                                                   |
 * | invited                                 | + the named recipients                                       |
 * | local                                   | + the owner's family cluster (its members, their devices)    |
 * | neighborhood…regional                   | + agents with a trust link to the owner                      |
 */
export function mayDeliver(
  item: ReachItem,
  requester: AgentKey | undefined,
  trust: TrustView,
): Decision {
  const { reach, owner } = item;
  if (!isReach(reach)) return deny(`unknown reach "${String(reach)}": refused`);
  if (reach === 'commons') return allow('commons: anyone may receive it');
  if (requester === undefined) {
    return deny(`${reach}: the peer is not a known agent, and unknown peers get commons only`);
  }
  if (requester === owner) return allow(`${reach}: the requester is the owner`);
  if (isMine(trust, owner) && isMine(trust, requester)) {
    return allow(`${reach}: ${short(requester)} is one of the owner's own devices`);
  }
  switch (reach) {
    case 'private':
      return deny(`private: ${short(requester)} is not one of the owner's own devices`);
    case 'invited':
      return item.invited?.includes(requester)
        ? allow(`invited: ${short(requester)} is a named recipient`)
        : deny(`invited: ${short(requester)} is not among the named recipients`);
    case 'local': {
      // The audience is always the OWNER's family: mine for my items; for an item held for
      // someone else, theirs as the trust layer told us — never this device's own family, which
      // may hold people the owner never chose.
      const members = isMine(trust, owner) ? trust.cluster : trust.clusterOf?.(owner);
      if (!members) {
        return deny(
          `local: this device does not know the family cluster of the owner ${short(owner)}`,
        );
      }
      if (members.has(requester)) {
        return allow(`local: ${short(requester)} is in the owner's family cluster`);
      }
      // A person's devices share their membership.
      if (isMine(trust, requester) && [trust.me, ...trust.myDevices].some((d) => members.has(d))) {
        return allow(`local: ${short(requester)} is a device of a family cluster member`);
      }
      return deny(`local: ${short(requester)} is not in the owner's family cluster`);
    }
    default: {
      const link = linkBetween(trust, owner, requester);
      return link !== undefined
        ? allow(`${reach}: ${short(requester)} has a trust link (${link}) with the owner`)
        : deny(`${reach}: no known trust link between ${short(requester)} and the owner`);
    }
  }
}

/**
 * May this device push a copy of `item` to `target`? The target must be someone who may
 * receive it ({@link mayDeliver}) — a replica holder serves it on, so it must be in the
 * audience. And beyond commons, spreading is the owner's decision: a device holding someone
 * else's item serves it on request but pushes it only back to the owner or to its own
 * person's devices.
 */
export function mayReplicateTo(
  item: ReachItem,
  target: AgentKey | undefined,
  trust: TrustView,
): Decision {
  const audience = mayDeliver(item, target, trust);
  if (!audience.allow || item.reach === 'commons' || isMine(trust, item.owner)) return audience;
  // target is defined here: mayDeliver refuses unknown peers for every reach but commons.
  const to = target as AgentKey;
  if (to === item.owner) return allow(`${item.reach}: a copy back to its owner`);
  if (isMine(trust, to)) return allow(`${item.reach}: a copy to one of this person's devices`);
  return deny(
    `${item.reach}: only the owner spreads it; this device serves it on request but does not push it to ${short(to)}`,
  );
}
