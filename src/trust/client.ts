/**
 * The trust-layer client: the real `@holochain/client` AppWebsocket to the doorway, signed by
 * this device's key, with reconnection and a persistent outbox for changes (see README.md).
 */
import {
  AppWebsocket,
  decodeHashFromBase64,
  encodeHashToBase64,
  type Signal,
  setSigningCredentials,
  WsClient,
} from '@holochain/client';
import { publicKeyFromRaw } from '@libp2p/crypto/keys';
import type { PrivateKey } from '@libp2p/interface';
import { peerIdFromPrivateKey, peerIdFromPublicKey } from '@libp2p/peer-id';
import { multiaddr } from '@multiformats/multiaddr';
import { parseContentHash } from '../content/address.ts';
import type { Reach } from '../content/manifest.ts';
import { type AgentKey, agentKeyFromEd25519, ed25519FromAgentKey } from '../reach/agent.ts';
import type { ClusterKeyGrant } from '../reach/keys.ts';
import { TypedEmitter } from './emitter.ts';
import {
  TrustAuthError,
  TrustError,
  TrustInputError,
  TrustOfflineError,
  TrustRefusedError,
} from './errors.ts';
import { Outbox, type OutboxEntry, type OutboxOp } from './outbox.ts';
import { openDoorwaySession } from './session.ts';
import type {
  AnnounceInput,
  Announcement,
  CallOptions,
  Delivery,
  FindHoldersOptions,
  RegisterAgentInput,
  TrustClient,
  TrustClusterGrant,
  TrustEvents,
  TrustFamilyCluster,
  TrustHolder,
  TrustHuman,
  TrustRelationship,
  TrustState,
} from './types.ts';

export interface HolochainTrustClientOptions {
  /** HTTP origin of the doorway, e.g. `location.origin`. */
  doorway: string;
  /** This device's Ed25519 key (`loadOrCreateDeviceKey()`): PeerId, agent key and zome-call signer. */
  deviceKey: PrivateKey;
  /** IndexedDB database for the outbox and the capability secret. Default `elohim-trust`. */
  dbName?: string;
  /** First reconnect delay; doubles up to `maxBackoffMs`. Defaults 1 s and 30 s. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** Per zome call. Default 20 s. */
  callTimeoutMs?: number;
  /** The whole connect flow (two POSTs and the websocket). Default 15 s. */
  connectTimeoutMs?: number;
}

const DEFAULT_CAPABILITY = 'blob_serving';
const MAX_ENDPOINTS = 16;
const CAPABILITY = /^[a-z0-9][a-z0-9_-]{0,63}$/;

/** Error kinds a conductor answers with (ExternalApiWireError): refusals, not connection trouble. */
const CONDUCTOR_REFUSALS = new Set([
  'internal_error',
  'deserialization',
  'dna_read_error',
  'ribosome_error',
  'activate_app',
  'zome_call_authentication_failed',
  'zome_call_unauthorized',
  'countersigning_session_error',
]);

interface ContentServerWire {
  content_hash: string;
  capability: string;
  endpoints: { url: string; protocol: string; priority: number }[];
  online: boolean;
  priority: number;
  region: string | null;
  agent: Uint8Array;
  updated_at: number;
}

interface HumanWire {
  agent: Uint8Array;
  display_name: string;
  peer_id: string;
  multiaddrs: string[];
  profile_reach: Reach;
  created_at: number;
  updated_at: number;
}

interface RelationshipWire {
  initiator: Uint8Array;
  other_agent: Uint8Array;
  relationship_type: string;
  reach: Reach;
  created_at: number;
  updated_at: number;
}

interface ClusterKeyGrantWire {
  cluster: string;
  granter: Uint8Array;
  grantee: Uint8Array;
  context: string;
  version: number;
  iv: string;
  wrapped_key: string;
  created_at: number;
  updated_at: number;
}

interface FamilyClusterWire {
  owner: Uint8Array;
  members: Uint8Array[];
  clusters: string[];
}

/** What the trust layer accepts as a cluster id (doorway/holochain/README.md). */
const CLUSTER_ID = /^[A-Za-z0-9_-]{16,64}$/;

type Role = 'infrastructure' | 'imagodei';

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

const ms = (micros: number) => Math.floor(micros / 1000);

/** Rejects with the signal's reason when it aborts first; a late value goes to `late`. */
function abortable<T>(
  promise: Promise<T>,
  signal: AbortSignal | undefined,
  late: (value: T) => void = () => {},
): Promise<T> {
  if (!signal) return promise;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      reject(signal.reason);
      promise.then(late, () => {});
    };
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

/**
 * What we use of the client's socket: a DOM WebSocket in the page, the `ws` package's (same
 * interface) in Node.
 */
interface SocketLike {
  readonly readyState: number;
  close(code?: number): void;
  addEventListener(type: 'close', listener: () => void): void;
  removeEventListener(type: 'close', listener: () => void): void;
}

const SOCKET_OPEN = 1;

function socketOf(ws: AppWebsocket): SocketLike | undefined {
  return ws.client instanceof WsClient ? (ws.client.socket as unknown as SocketLike) : undefined;
}

function closeSocket(ws: AppWebsocket): void {
  const socket = socketOf(ws);
  if (socket && socket.readyState <= SOCKET_OPEN) socket.close(1000);
}

function needsAddresses(op: OutboxOp): boolean {
  if (op.kind === 'readdress') return true;
  return (op.kind === 'announce' || op.kind === 'register') && op.multiaddrs === undefined;
}

function sameAddresses(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x) => b.includes(x));
}

function checkMultiaddrs(multiaddrs: readonly string[]): string[] {
  if (multiaddrs.length > MAX_ENDPOINTS) {
    throw new TrustInputError(
      `At most ${MAX_ENDPOINTS} addresses can be announced, got ${multiaddrs.length}: pass the dialable ones (WebRTC) only.`,
    );
  }
  for (const address of multiaddrs) {
    try {
      multiaddr(address);
    } catch {
      throw new TrustInputError(`"${address}" is not a multiaddr: announce libp2p addresses.`);
    }
  }
  return [...multiaddrs];
}

export class HolochainTrustClient extends TypedEmitter<TrustEvents> implements TrustClient {
  readonly me: AgentKey;
  readonly peerId: string;
  readonly doorway: string;
  readonly #agent: Uint8Array;
  readonly #stop = new AbortController();
  readonly #waiters = new Map<
    number,
    { resolve(delivery: Delivery): void; reject(error: unknown): void }
  >();
  #state: TrustState = { status: 'connecting' };
  #queued = 0;
  #ws: AppWebsocket | undefined;
  #dropConnection: ((reason: string) => void) | undefined;
  #addresses: string[] = [];
  #inflight: number | undefined;
  #draining: Promise<void> | undefined;
  #again = false;
  #wake: (() => void) | undefined;
  #running: Promise<void> = Promise.resolve();

  private constructor(
    private readonly options: HolochainTrustClientOptions,
    private readonly outbox: Outbox,
    private readonly capSecret: Uint8Array,
  ) {
    super();
    this.doorway = options.doorway;
    this.me = agentKeyFromEd25519(options.deviceKey.publicKey.raw);
    this.#agent = decodeHashFromBase64(this.me);
    this.peerId = peerIdFromPrivateKey(options.deviceKey).toString();
  }

  /** Opens the outbox and starts connecting (and reconnecting) in the background. */
  static async create(options: HolochainTrustClientOptions): Promise<HolochainTrustClient> {
    if (options.deviceKey.type !== 'Ed25519') {
      throw new TrustInputError(
        `The device key must be Ed25519 (it is the agent key), not ${options.deviceKey.type}: use loadOrCreateDeviceKey().`,
      );
    }
    const outbox = await Outbox.open(options.dbName ?? 'elohim-trust');
    const client = new HolochainTrustClient(options, outbox, await outbox.capSecret());
    client.#queued = await outbox.count();
    client.#running = client.#keepConnected();
    return client;
  }

  get state(): TrustState {
    return { ...this.#state };
  }

  get queued(): number {
    return this.#queued;
  }

  // ------------------------------------------------------------------ changes (outbox)

  async setAddresses(multiaddrs: readonly string[]): Promise<void> {
    const next = [...new Set(multiaddrs)].slice(0, MAX_ENDPOINTS);
    if (sameAddresses(next, this.#addresses)) return;
    this.#addresses = checkMultiaddrs(next);
    // Empty means "not dialable now": keep the records as they are rather than erase them.
    if (next.length > 0) await this.#change({ kind: 'readdress' });
  }

  async registerAgent(input: RegisterAgentInput, options: CallOptions = {}): Promise<Delivery> {
    const name = input.display_name.trim();
    if (name.length === 0 || name.length > 128) {
      throw new TrustInputError('A display name has 1 to 128 characters.');
    }
    if (input.peer_id !== undefined && input.peer_id !== this.peerId) {
      throw new TrustInputError(
        `peer_id must be this device's own PeerId (${this.peerId}): the trust layer binds the agent to its own key.`,
      );
    }
    return this.#change(
      {
        kind: 'register',
        display_name: name,
        ...(input.multiaddrs ? { multiaddrs: checkMultiaddrs(input.multiaddrs) } : {}),
        ...(input.profile_reach ? { profile_reach: input.profile_reach } : {}),
      },
      options.signal,
    );
  }

  async announce(
    hash: string,
    input: AnnounceInput = {},
    options: CallOptions = {},
  ): Promise<Delivery> {
    const capability = input.capability ?? DEFAULT_CAPABILITY;
    if (!CAPABILITY.test(capability)) {
      throw new TrustInputError(
        `"${capability}" is not a capability name: lowercase letters, digits, _ and -, such as blob_serving.`,
      );
    }
    if (input.multiaddrs?.length === 0) {
      throw new TrustInputError(
        'Announce at least one address, or leave multiaddrs out to use the ones given to setAddresses.',
      );
    }
    return this.#change(
      {
        kind: 'announce',
        hash: parseContentHash(hash),
        capability,
        ...(input.multiaddrs ? { multiaddrs: checkMultiaddrs(input.multiaddrs) } : {}),
        ...(input.priority !== undefined ? { priority: input.priority } : {}),
        ...(input.region !== undefined ? { region: input.region } : {}),
      },
      options.signal,
    );
  }

  async withdraw(hash: string, options: CallOptions = {}): Promise<Delivery> {
    return this.#change({ kind: 'withdraw', hash: parseContentHash(hash) }, options.signal);
  }

  async grantClusterKey(grant: ClusterKeyGrant, options: CallOptions = {}): Promise<Delivery> {
    if (grant.v !== 1) {
      throw new TrustInputError(
        `This app publishes cluster key grants of version 1, not ${String(grant.v)}: make it with grantClusterKey from src/reach.`,
      );
    }
    if (grant.from !== this.me) {
      throw new TrustInputError(
        `A grant published here must be made by this device (${this.me}), not by ${grant.from}.`,
      );
    }
    ed25519FromAgentKey(grant.to);
    if (grant.to === this.me) {
      throw new TrustInputError('A cluster key is granted to another member, not to yourself.');
    }
    if (!CLUSTER_ID.test(grant.cluster)) {
      throw new TrustInputError(
        `"${grant.cluster.slice(0, 80)}" is not a cluster id: 16 to 64 base64url characters, e.g. 16 random bytes.`,
      );
    }
    const { cluster, from, to, context, iv, key } = grant;
    return this.#change(
      { kind: 'grant', grant: { v: 1, cluster, from, to, context, iv, key } },
      options.signal,
    );
  }

  /**
   * Persists `op` (replacing the pending change for the same thing), then, if connected, waits
   * until the outbox has sent it. Aborting stops the wait only: the change stays queued.
   */
  async #change(op: OutboxOp, signal?: AbortSignal): Promise<Delivery> {
    if (this.#stop.signal.aborted) {
      throw new TrustError('This trust client is closed: create a new one.');
    }
    const { entry, replaced } = await this.outbox.put(op);
    // A replaced change that is being sent right now is still reported by its own send.
    if (replaced && replaced.seq !== this.#inflight) this.#settle(replaced.seq, 'superseded');
    await this.#countQueue();
    if (!this.#ws) return 'queued';
    const delivered = new Promise<Delivery>((resolve, reject) => {
      this.#waiters.set(entry.seq, { resolve, reject });
    });
    this.#kick();
    return abortable(delivered, signal);
  }

  #settle(seq: number, outcome: Delivery | Error): void {
    const waiter = this.#waiters.get(seq);
    if (!waiter) return;
    this.#waiters.delete(seq);
    if (outcome instanceof Error) waiter.reject(outcome);
    else waiter.resolve(outcome);
  }

  async #countQueue(): Promise<void> {
    const queued = await this.outbox.count();
    if (queued === this.#queued) return;
    this.#queued = queued;
    this.emit('queue', { queued });
  }

  /** Starts sending the outbox, or asks the running pass to look again when it ends. */
  #kick(): void {
    if (!this.#ws) return;
    if (this.#draining) {
      this.#again = true;
      return;
    }
    this.#draining = this.#drain()
      .catch((error: unknown) => {
        // The outbox itself failed (IndexedDB): waiting callers learn why; entries stay.
        for (const seq of [...this.#waiters.keys()]) this.#settle(seq, error as Error);
      })
      .finally(() => {
        this.#draining = undefined;
        if (this.#again) this.#kick();
      });
  }

  async #drain(): Promise<void> {
    do {
      this.#again = false;
      for (const entry of await this.outbox.all()) {
        if (!this.#ws) break;
        if (needsAddresses(entry.op) && this.#addresses.length === 0) continue;
        if (!(await this.outbox.isCurrent(entry))) continue;
        const outcome = await this.#sendEntry(entry);
        if (outcome === 'offline') break;
      }
    } while (this.#again && this.#ws);
    // No await from here on: whatever is still waiting stays queued for the next connection
    // (or for addresses), and a change arriving now sets #again for a new pass.
    for (const seq of [...this.#waiters.keys()]) this.#settle(seq, 'queued');
  }

  async #sendEntry(entry: OutboxEntry): Promise<'sent' | 'refused' | 'offline'> {
    this.#inflight = entry.seq;
    try {
      await this.#send(entry.op);
    } catch (error) {
      if (!(error instanceof TrustRefusedError)) return 'offline';
      // Retrying would be refused again: drop it and say so.
      await this.outbox.remove(entry);
      await this.#countQueue();
      this.#settle(entry.seq, error);
      this.emit('refused', { key: entry.key, error });
      return 'refused';
    } finally {
      this.#inflight = undefined;
    }
    await this.outbox.remove(entry);
    await this.#countQueue();
    this.#settle(entry.seq, 'sent');
    return 'sent';
  }

  async #send(op: OutboxOp): Promise<void> {
    switch (op.kind) {
      case 'announce':
        await this.#call('infrastructure', 'register_content_server', {
          content_hash: op.hash,
          capability: op.capability,
          endpoints: (op.multiaddrs ?? this.#addresses).map((url) => ({
            url,
            protocol: 'libp2p',
          })),
          ...(op.priority !== undefined ? { priority: op.priority } : {}),
          ...(op.region !== undefined ? { region: op.region } : {}),
        });
        return;
      case 'withdraw':
        try {
          await this.#call('infrastructure', 'mark_content_server_offline', {
            content_hash: op.hash,
          });
        } catch (error) {
          // Withdrawing what was never announced (its announce was replaced while queued)
          // leaves nothing to do; any other refusal stands.
          if (!(error instanceof TrustRefusedError)) throw error;
          if ((await this.myAnnouncements()).some((a) => a.hash === op.hash)) throw error;
        }
        return;
      case 'register':
        await this.#call('imagodei', 'create_human', {
          display_name: op.display_name,
          peer_id: this.peerId,
          multiaddrs: op.multiaddrs ?? this.#addresses,
          ...(op.profile_reach ? { profile_reach: op.profile_reach } : {}),
        });
        return;
      case 'readdress':
        await this.#readdress();
        return;
      case 'grant':
        await this.#call('imagodei', 'grant_cluster_key', {
          cluster: op.grant.cluster,
          grantee: decodeHashFromBase64(op.grant.to),
          context: op.grant.context,
          version: op.grant.v,
          iv: op.grant.iv,
          wrapped_key: op.grant.key,
        });
        return;
    }
  }

  /** Points every online announcement, and the profile, at the current addresses. */
  async #readdress(): Promise<void> {
    const addresses = this.#addresses;
    for (const a of await this.myAnnouncements()) {
      const libp2p = a.endpoints.filter((e) => e.protocol === 'libp2p').map((e) => e.url);
      if (!a.online || sameAddresses(libp2p, addresses)) continue;
      await this.#call('infrastructure', 'register_content_server', {
        content_hash: a.hash,
        capability: a.capability,
        endpoints: [
          ...a.endpoints.filter((e) => e.protocol !== 'libp2p'),
          ...addresses.map((url) => ({ url, protocol: 'libp2p' })),
        ].slice(0, MAX_ENDPOINTS),
        priority: a.priority,
        ...(a.region !== null ? { region: a.region } : {}),
      });
    }
    const human = await this.getHuman(this.me);
    if (human && !sameAddresses(human.multiaddrs, addresses)) {
      await this.#call('imagodei', 'create_human', {
        display_name: human.displayName,
        peer_id: this.peerId,
        multiaddrs: addresses,
        profile_reach: human.profileReach,
      });
    }
  }

  // ------------------------------------------------------------------ lookups

  async findHolders(hash: string, options: FindHoldersOptions = {}): Promise<TrustHolder[]> {
    const limit = options.limit ?? 10;
    const servers = await this.#call<ContentServerWire[]>(
      'infrastructure',
      'find_publishers',
      {
        content_hash: parseContentHash(hash),
        capability: options.capability === undefined ? DEFAULT_CAPABILITY : options.capability,
        // One more: this device's own record may be among them.
        limit: limit + 1,
        online_only: true,
      },
      options.signal,
    );
    const holders: TrustHolder[] = [];
    for (const server of servers) {
      const holder = this.#holder(server);
      if (holder && holder.agent !== this.me) holders.push(holder);
    }
    return holders.slice(0, limit);
  }

  /** A record as a dialable holder; undefined when its agent key is not a valid Ed25519 agent. */
  #holder(server: ContentServerWire): TrustHolder | undefined {
    const agent = encodeHashToBase64(server.agent);
    let peerId: TrustHolder['peerId'];
    try {
      peerId = peerIdFromPublicKey(publicKeyFromRaw(ed25519FromAgentKey(agent)));
    } catch {
      return undefined;
    }
    const id = peerId.toString();
    const multiaddrs: string[] = [];
    for (const endpoint of [...server.endpoints].sort((a, b) => b.priority - a.priority)) {
      if (endpoint.protocol !== 'libp2p') continue;
      try {
        const address = multiaddr(endpoint.url);
        const named = address.getComponents().findLast((c) => c.name === 'p2p')?.value;
        // An address naming another peer would make us dial someone else: skip it.
        if (named === undefined) multiaddrs.push(address.encapsulate(`/p2p/${id}`).toString());
        else if (named === id) multiaddrs.push(address.toString());
      } catch {
        // Not a multiaddr: nothing we can dial.
      }
    }
    return {
      peerId,
      agent,
      multiaddrs,
      capability: server.capability,
      priority: server.priority,
      region: server.region,
      updatedAt: ms(server.updated_at),
    };
  }

  async myAnnouncements(options: CallOptions = {}): Promise<Announcement[]> {
    const servers = await this.#call<ContentServerWire[]>(
      'infrastructure',
      'get_my_content_servers',
      null,
      options.signal,
    );
    return servers.map((s) => ({
      hash: s.content_hash,
      capability: s.capability,
      endpoints: s.endpoints,
      online: s.online,
      priority: s.priority,
      region: s.region,
      updatedAt: ms(s.updated_at),
    }));
  }

  async getHuman(agent: AgentKey, options: CallOptions = {}): Promise<TrustHuman | undefined> {
    ed25519FromAgentKey(agent);
    const human = await this.#call<HumanWire | null>(
      'imagodei',
      'get_human',
      decodeHashFromBase64(agent),
      options.signal,
    );
    return human
      ? {
          agent: encodeHashToBase64(human.agent),
          displayName: human.display_name,
          peerId: human.peer_id,
          multiaddrs: human.multiaddrs,
          profileReach: human.profile_reach,
          createdAt: ms(human.created_at),
          updatedAt: ms(human.updated_at),
        }
      : undefined;
  }

  async createRelationship(
    otherAgent: AgentKey,
    type: string,
    options: CallOptions & { reach?: Reach } = {},
  ): Promise<TrustRelationship> {
    ed25519FromAgentKey(otherAgent);
    if (otherAgent === this.me) {
      throw new TrustInputError('A relationship needs another agent: this is your own key.');
    }
    const out = await this.#call<{ relationship: RelationshipWire }>(
      'imagodei',
      'create_relationship',
      {
        other_agent: decodeHashFromBase64(otherAgent),
        relationship_type: type,
        ...(options.reach ? { reach: options.reach } : {}),
      },
      options.signal,
    );
    return toRelationship(out.relationship);
  }

  async myRelationships(options: CallOptions = {}): Promise<TrustRelationship[]> {
    const out = await this.#call<RelationshipWire[]>(
      'imagodei',
      'get_my_relationships',
      null,
      options.signal,
    );
    return out.map(toRelationship);
  }

  async myClusterKeyGrants(options: CallOptions = {}): Promise<TrustClusterGrant[]> {
    const out = await this.#call<ClusterKeyGrantWire[]>(
      'imagodei',
      'get_my_cluster_key_grants',
      null,
      options.signal,
    );
    return out.flatMap((g) =>
      g.version === 1
        ? [
            {
              grant: {
                v: 1 as const,
                cluster: g.cluster,
                from: encodeHashToBase64(g.granter),
                to: encodeHashToBase64(g.grantee),
                context: g.context,
                iv: g.iv,
                key: g.wrapped_key,
              },
              updatedAt: ms(g.updated_at),
            },
          ]
        : [],
    );
  }

  async familyCluster(
    owner: AgentKey,
    options: CallOptions = {},
  ): Promise<TrustFamilyCluster | undefined> {
    ed25519FromAgentKey(owner);
    const out = await this.#call<FamilyClusterWire | null>(
      'imagodei',
      'get_family_cluster',
      decodeHashFromBase64(owner),
      options.signal,
    );
    return out
      ? {
          owner: encodeHashToBase64(out.owner),
          members: out.members.map((m) => encodeHashToBase64(m)),
          clusters: out.clusters,
        }
      : undefined;
  }

  async #call<T>(role: Role, fn: string, payload: unknown, signal?: AbortSignal): Promise<T> {
    const ws = this.#ws;
    if (!ws) throw new TrustOfflineError(this.doorway, this.#state.error);
    try {
      return await abortable(
        ws.callZome<T>(
          { role_name: role, zome_name: role, fn_name: fn, payload },
          this.options.callTimeoutMs ?? 20_000,
        ),
        signal,
      );
    } catch (error) {
      if (signal?.aborted) throw error;
      if (error instanceof Error && CONDUCTOR_REFUSALS.has(error.name)) {
        throw new TrustRefusedError(fn, error.name, error.message);
      }
      // Closed mid-call or timed out: this socket is done for; reconnect from scratch (the
      // client's own transparent reconnect would reuse tokens that may have expired).
      if (this.#ws === ws) this.#dropConnection?.(`${fn} failed: ${messageOf(error)}`);
      throw new TrustOfflineError(this.doorway, messageOf(error));
    }
  }

  // ------------------------------------------------------------------ connection

  reconnect(): void {
    this.#wake?.();
  }

  async close(): Promise<void> {
    if (this.#stop.signal.aborted) return;
    this.#stop.abort();
    this.#wake?.();
    this.#dropConnection?.('closed');
    await this.#running;
    await this.#draining;
    this.outbox.close();
  }

  #setState(state: TrustState): void {
    this.#state = state;
    this.emit('state', { ...state });
  }

  /** Connects, serves until the connection drops, waits, again: until closed. */
  async #keepConnected(): Promise<void> {
    const stop = this.#stop.signal;
    const min = this.options.minBackoffMs ?? 1_000;
    let backoff = min;
    while (!stop.aborted) {
      this.#setState({ status: 'connecting' });
      let reason: string;
      try {
        const ws = await this.#open(stop);
        backoff = min;
        reason = await this.#serve(ws);
      } catch (error) {
        reason = messageOf(error);
      }
      if (stop.aborted) return;
      this.#setState({ status: 'offline', error: reason, retryAt: Date.now() + backoff });
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, backoff);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#wake = undefined;
      backoff = Math.min(backoff * 2, this.options.maxBackoffMs ?? 30_000);
    }
  }

  /** The connect flow from scratch: fresh tokens each time, since old ones may have expired. */
  async #open(stop: AbortSignal): Promise<AppWebsocket> {
    const signal = AbortSignal.any([
      stop,
      AbortSignal.timeout(this.options.connectTimeoutMs ?? 15_000),
    ]);
    const session = await openDoorwaySession(
      this.doorway,
      this.options.deviceKey,
      this.#agent,
      this.me,
      this.capSecret,
      signal,
    );
    // wsClientOptions stays unset: in a browser the WebSocket constructor takes no options.
    const ws = await abortable(
      AppWebsocket.connect({
        url: session.appUrl,
        token: [...session.appToken],
        defaultTimeout: this.options.callTimeoutMs ?? 20_000,
      }),
      signal,
      closeSocket,
    ).catch((error: unknown) => {
      if (error instanceof Error && error.name === 'InvalidTokenError') {
        throw new TrustAuthError('app-interface', undefined, error.message);
      }
      throw error;
    });
    try {
      const info = await abortable(ws.appInfo(), signal);
      if (encodeHashToBase64(info.agent_pub_key) !== this.me) {
        throw new TrustAuthError(
          'app-interface',
          undefined,
          `its app belongs to ${encodeHashToBase64(info.agent_pub_key)}, not to this device (${this.me})`,
        );
      }
      const { deviceKey } = this.options;
      for (const role of Object.keys(info.cell_info)) {
        setSigningCredentials(ws.getCellIdFromRoleName(role, info), {
          capSecret: this.capSecret,
          keyPair: {
            keyType: 'ed25519',
            publicKey: deviceKey.publicKey.raw,
            privateKey: deviceKey.raw,
          },
          signingKey: this.#agent,
        });
      }
      return ws;
    } catch (error) {
      closeSocket(ws);
      throw error;
    }
  }

  /** Makes `ws` the live connection; resolves with the reason once it is gone. */
  #serve(ws: AppWebsocket): Promise<string> {
    const socket = socketOf(ws);
    if (!socket) return Promise.resolve('The app interface is not a websocket.');
    return new Promise<string>((resolve) => {
      const unsubscribe = ws.on('signal', (signal) => this.#onSignal(signal));
      const onClose = () => drop('The doorway closed the trust-layer connection.');
      const drop = (reason: string) => {
        if (this.#dropConnection !== drop) return;
        this.#dropConnection = undefined;
        this.#ws = undefined;
        unsubscribe();
        socket.removeEventListener('close', onClose);
        closeSocket(ws);
        resolve(reason);
      };
      this.#dropConnection = drop;
      socket.addEventListener('close', onClose);
      if (socket.readyState !== SOCKET_OPEN || this.#stop.signal.aborted) {
        drop('The doorway closed the trust-layer connection.');
        return;
      }
      this.#ws = ws;
      this.#setState({ status: 'connected' });
      this.#kick();
    });
  }

  #onSignal(signal: Signal): void {
    if (signal.type !== 'app') return;
    const { zome_name, payload } = signal.value;
    const tagged =
      typeof payload === 'object' && payload !== null && 'type' in payload
        ? (payload as { type: unknown; payload?: unknown })
        : undefined;
    this.emit('signal', {
      zome: zome_name,
      type: typeof tagged?.type === 'string' ? tagged.type : undefined,
      payload: tagged && 'payload' in tagged ? tagged.payload : payload,
    });
  }
}

function toRelationship(r: RelationshipWire): TrustRelationship {
  return {
    initiator: encodeHashToBase64(r.initiator),
    otherAgent: encodeHashToBase64(r.other_agent),
    type: r.relationship_type,
    reach: r.reach,
    createdAt: ms(r.created_at),
    updatedAt: ms(r.updated_at),
  };
}
