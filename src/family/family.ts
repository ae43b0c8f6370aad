/**
 * The family cluster (reach `local`) kept in step with the trust layer, in the tab that runs
 * the node. One pass ({@link Family.sync}):
 *
 * 1. reads this agent's relationships: whom I named `family` (my cluster's members) and who
 *    named me (the families I belong to);
 * 2. when I have family, makes my cluster key once (IndexedDB, extractable: it must be granted
 *    to every member, now and later) and grants it to each member the trust layer does not list
 *    a grant for yet (wrapped with the key we share, X25519 + HKDF; through the outbox);
 * 3. accepts grants addressed to me from those who named me family, keeping each key
 *    non-extractable in IndexedDB where the service worker finds it;
 * 4. asks for each of those families' members, so this device serves their items on only to
 *    them (`clusterOf`).
 *
 * A pass runs on start, whenever the trust layer connects, when a grant or relationship signal
 * arrives, every `refreshMs`, and when asked. What it learned stays in memory: after a reload
 * the gates know nobody's family until the first pass (as with trust links).
 */
import {
  type AgentKey,
  acceptClusterKey,
  acceptedClusterKeys,
  type ClusterKey,
  deriveRelationshipKey,
  grantClusterKey,
  loadOrCreateOwnClusterKey,
  loadOwnClusterKey,
  saveAcceptedClusterKey,
} from '../reach/index.ts';
import type {
  TrustClient,
  TrustClusterGrant,
  TrustRelationship,
  TrustSignal,
  TrustState,
} from '../trust/index.ts';
import { listen, TypedEventEmitter } from '../wire/index.ts';

/** The relationship type that puts the other agent into my family cluster. */
export const FAMILY = 'family';

/**
 * The `context` of the relationship key a cluster key is wrapped with: not the invited items'
 * context, so the key that wraps a cluster key never wraps an item key. Changing it makes every
 * grant unreadable: bump the version, never reuse it.
 */
export const GRANT_CONTEXT = 'elohim-cluster-grant-v1';

/**
 * Where my cluster key stands with a member: `shared` (the trust layer lists the grant),
 * `queued` (in the outbox until the doorway is back), `pending` (not granted: the last attempt
 * failed; the next pass tries again).
 */
export type GrantStatus = 'shared' | 'queued' | 'pending';

/** Whether I hold the key of a family I belong to: `waiting` until its owner grants it. */
export type KeyStatus = 'received' | 'waiting' | 'unreadable';

export interface FamilyMember {
  agent: AgentKey;
  key: GrantStatus;
}

export interface FamilyMembership {
  /** Who named me family: the family is theirs. */
  owner: AgentKey;
  key: KeyStatus;
  /** Everyone the owner named family (me among them), as the trust layer says. */
  members: AgentKey[];
  /** Why the key could not be opened (`unreadable`). */
  error?: string;
}

export interface FamilySnapshot {
  /** `starting` before the first pass, `ready` after a pass, `offline` when the last could not run. */
  status: 'starting' | 'ready' | 'offline';
  /** Why the last pass failed, in words for people. */
  error?: string;
  /** When a pass last succeeded (ms since epoch); unset while nothing is known yet. */
  syncedAt?: number;
  /** My cluster's id, once I have family. */
  cluster?: string;
  /** The people I named family, oldest first, and where my key stands with each. */
  members: FamilyMember[];
  /** The families I belong to. */
  memberOf: FamilyMembership[];
}

export interface FamilyOptions {
  trust: TrustClient;
  /** This device's Ed25519 identity secret (libp2p `privateKey.raw`): it wraps and unwraps grants. */
  mySecret: Uint8Array;
  /** The reach key database (src/reach). Default `elohim-reach`. */
  keysDb?: string;
  /** Look at the trust layer again this often, in case a signal was missed. Default 15 s; 0: never. */
  refreshMs?: number;
  /** Reports what a pass could not do (it is tried again on the next). */
  onError?: (error: unknown) => void;
}

const SIGNALS = new Set(['ClusterKeyGranted', 'RelationshipCommitted']);

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function others(
  relationships: TrustRelationship[],
  pick: (r: TrustRelationship) => AgentKey | undefined,
): AgentKey[] {
  return [...new Set(relationships.flatMap((r) => (r.type === FAMILY ? (pick(r) ?? []) : [])))];
}

/** `change`: the snapshot (and the gates' view) moved; `detail` is the new snapshot. */
export interface FamilyEvents {
  change: CustomEvent<FamilySnapshot>;
}

export class Family extends TypedEventEmitter<FamilyEvents> {
  /** My family cluster's members: the `TrustView.cluster` of this device (kept up to date). */
  readonly members = new Set<AgentKey>();
  readonly #clusters = new Map<AgentKey, ReadonlySet<AgentKey>>();
  readonly #stop = new AbortController();
  readonly #stops: (() => void)[] = [];
  readonly #db: { dbName?: string };
  #snapshot: FamilySnapshot = { status: 'starting', members: [], memberOf: [] };
  #running: Promise<void> | undefined;
  #again = false;

  constructor(private readonly options: FamilyOptions) {
    super();
    this.#db = options.keysDb ? { dbName: options.keysDb } : {};
    const { trust } = options;
    this.#stops.push(
      // Offline too: the pass then says the family is not up to date (and why), rather than
      // leaving 'starting' on screen for as long as the trust layer is away.
      listen<TrustState>(trust, 'state', (s) => {
        if (s.status !== 'connecting') void this.sync();
      }),
      listen<TrustSignal>(trust, 'signal', (s) => {
        if (s.zome === 'imagodei' && s.type && SIGNALS.has(s.type)) void this.sync();
      }),
    );
    const every = options.refreshMs ?? 15_000;
    if (every > 0) {
      const timer = setInterval(() => {
        if (trust.state.status === 'connected') void this.sync();
      }, every);
      this.#stops.push(() => clearInterval(timer));
    }
    if (trust.state.status !== 'connecting') void this.sync();
  }

  snapshot(): FamilySnapshot {
    return this.#snapshot;
  }

  /** The family cluster of `owner` (whom they named family), if I belong to it: `TrustView.clusterOf`. */
  clusterOf(owner: AgentKey): ReadonlySet<AgentKey> | undefined {
    return this.#clusters.get(owner);
  }

  /** Runs a pass now; one already running runs once more, and this resolves after that one. */
  sync(): Promise<void> {
    if (this.#stop.signal.aborted) return Promise.resolve();
    if (this.#running) {
      this.#again = true;
      return this.#running;
    }
    this.#running = (async () => {
      do {
        this.#again = false;
        await this.#pass();
      } while (this.#again && !this.#stop.signal.aborted);
    })().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  /** Names `agent` family (a `family` relationship in the trust layer), then grants them the key. */
  async addMember(agent: AgentKey, options: { signal?: AbortSignal } = {}): Promise<void> {
    await this.options.trust.createRelationship(agent, FAMILY, {
      reach: 'local',
      ...(options.signal ? { signal: options.signal } : {}),
    });
    await this.sync();
  }

  close(): void {
    this.#stop.abort();
    for (const stop of this.#stops.splice(0)) stop();
  }

  #set(next: FamilySnapshot): void {
    this.#snapshot = next;
    this.safeDispatchEvent<FamilySnapshot>('change', { detail: next });
  }

  async #pass(): Promise<void> {
    const { trust, onError = () => {} } = this.options;
    const signal = this.#stop.signal;
    if (trust.state.status !== 'connected') {
      this.#set({
        ...this.#snapshot,
        status: 'offline',
        error: trust.state.error ?? 'The trust layer is not connected.',
      });
      return;
    }
    try {
      const relationships = await trust.myRelationships({ signal });
      const named = others(relationships, (r) =>
        r.initiator === trust.me ? r.otherAgent : undefined,
      );
      const namedMe = others(relationships, (r) =>
        r.otherAgent === trust.me ? r.initiator : undefined,
      );
      this.members.clear();
      for (const agent of named) this.members.add(agent);

      const own =
        named.length > 0
          ? await loadOrCreateOwnClusterKey(this.#db)
          : await loadOwnClusterKey(this.#db);
      const grants = await trust.myClusterKeyGrants({ signal });
      const members = own ? await this.#grant(own, named, grants) : [];
      const memberOf = await this.#accept(namedMe, grants);
      if (signal.aborted) return;
      this.#set({
        status: 'ready',
        syncedAt: Date.now(),
        ...(own ? { cluster: own.id } : {}),
        members,
        memberOf,
      });
    } catch (error) {
      if (signal.aborted) return;
      onError(error);
      this.#set({ ...this.#snapshot, status: 'offline', error: messageOf(error) });
    }
  }

  /** Grants my cluster key to every member the trust layer lists no grant for. */
  async #grant(
    own: ClusterKey,
    named: AgentKey[],
    grants: TrustClusterGrant[],
  ): Promise<FamilyMember[]> {
    const { trust, mySecret, onError = () => {} } = this.options;
    const me = trust.me;
    const shared = new Set(
      grants.flatMap(({ grant: g }) => (g.from === me && g.cluster === own.id ? [g.to] : [])),
    );
    const members: FamilyMember[] = [];
    for (const agent of named) {
      if (shared.has(agent)) {
        members.push({ agent, key: 'shared' });
        continue;
      }
      try {
        const wrapping = await deriveRelationshipKey(mySecret, me, agent, GRANT_CONTEXT);
        const grant = await grantClusterKey(
          own.key,
          { cluster: own.id, from: me, to: agent, context: GRANT_CONTEXT },
          wrapping,
        );
        const delivery = await trust.grantClusterKey(grant, { signal: this.#stop.signal });
        members.push({ agent, key: delivery === 'sent' ? 'shared' : 'queued' });
      } catch (error) {
        if (this.#stop.signal.aborted) throw error;
        onError(error);
        members.push({ agent, key: 'pending' });
      }
    }
    return members;
  }

  /**
   * Takes the keys of the families I belong to from their grants (only from those who named me
   * family), and learns who else is in each.
   */
  async #accept(namedMe: AgentKey[], grants: TrustClusterGrant[]): Promise<FamilyMembership[]> {
    const { trust, mySecret } = this.options;
    const me = trust.me;
    const kept = new Map((await acceptedClusterKeys(this.#db)).map((k) => [k.id, k.from]));
    const status = new Map<AgentKey, { key: KeyStatus; error?: string }>();
    for (const owner of kept.values()) status.set(owner, { key: 'received' });
    for (const { grant } of grants) {
      if (grant.to !== me || !namedMe.includes(grant.from) || kept.has(grant.cluster)) continue;
      try {
        const wrapping = await deriveRelationshipKey(mySecret, me, grant.from, grant.context);
        const key = await acceptClusterKey(grant, wrapping);
        const saved = await saveAcceptedClusterKey(
          { id: grant.cluster, key, from: grant.from, acceptedAt: Date.now() },
          this.#db,
        );
        kept.set(saved.id, saved.from);
        status.set(saved.from, { key: 'received' });
      } catch (error) {
        if (status.get(grant.from)?.key !== 'received') {
          status.set(grant.from, { key: 'unreadable', error: messageOf(error) });
        }
      }
    }
    const memberOf: FamilyMembership[] = [];
    for (const owner of namedMe) {
      const family = await trust.familyCluster(owner, { signal: this.#stop.signal });
      if (family) this.#clusters.set(owner, new Set(family.members));
      else this.#clusters.delete(owner);
      memberOf.push({
        owner,
        members: family?.members ?? [],
        ...(status.get(owner) ?? { key: 'waiting' }),
      });
    }
    for (const owner of [...this.#clusters.keys()]) {
      if (!namedMe.includes(owner)) this.#clusters.delete(owner);
    }
    return memberOf;
  }
}
