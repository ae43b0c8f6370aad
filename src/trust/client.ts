/**
 * The trust-layer client (README.md): a thin facade over the connection (connection.ts), the
 * outbox and its sender (outbox.ts, sender.ts) and the zome wrappers by domain
 * (content-servers.ts, people.ts, cluster-grants.ts).
 */
import { decodeHashFromBase64 } from '@holochain/client';
import type { PrivateKey } from '@libp2p/interface';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { parseContentHash, type Reach } from '../content/index.ts';
import { type AgentKey, agentKeyFromEd25519, type ClusterKeyGrant } from '../reach/index.ts';
import { MAX_ENDPOINTS, TypedEventEmitter } from '../wire/index.ts';
import { familyCluster, grantOp, myClusterKeyGrants, sendGrant } from './cluster-grants.ts';
import { TrustConnection } from './connection.ts';
import {
  type Announcer,
  announceOp,
  checkMultiaddrs,
  findHolders,
  myAnnouncements,
  peerIdOfAgent,
  readdressAnnouncements,
  sameAddresses,
  sendAnnounce,
  sendWithdraw,
} from './content-servers.ts';
import {
  addDevice,
  agentDevices,
  DeviceDirectory,
  deviceAgent,
  inForce,
  removeDevice,
} from './devices.ts';
import { TrustInputError, TrustRefusedError } from './errors.ts';
import { Outbox, type OutboxOp } from './outbox.ts';
import {
  createRelationship,
  getHuman,
  myRelationships,
  readdressProfile,
  registerOp,
  sendRegister,
} from './people.ts';
import {
  myRecoveryReleases,
  myRecoveryShares,
  type RecoverySetupInput,
  releaseRecoveryShare,
  setRecoveryGuardians,
} from './recovery.ts';
import { OutboxSender } from './sender.ts';
import type {
  AnnounceInput,
  Announcement,
  CallOptions,
  Delivery,
  DeviceCertificate,
  FindHoldersOptions,
  RegisterAgentInput,
  TrustClient,
  TrustClusterGrant,
  TrustDevice,
  TrustEventMap,
  TrustFamilyCluster,
  TrustHolder,
  TrustHuman,
  TrustRecoveryRelease,
  TrustRecoveryShare,
  TrustRelationship,
  TrustState,
} from './types.ts';

export interface HolochainTrustClientOptions {
  /** HTTP origin of the doorway, e.g. `location.origin`. */
  doorway: string;
  /** This device's Ed25519 key (`loadOrCreateDeviceKey()`): its PeerId, named in announcements. */
  deviceKey: PrivateKey;
  /**
   * The person's agent key, which signs zome calls; the device key itself unless this device
   * was paired to a person (docs/design.md §2).
   */
  agentKey?: PrivateKey;
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

/** Changes that wait for addresses when none are known yet. */
function needsAddresses(op: OutboxOp): boolean {
  if (op.kind === 'readdress') return true;
  return (op.kind === 'announce' || op.kind === 'register') && op.multiaddrs === undefined;
}

export class HolochainTrustClient extends TypedEventEmitter<TrustEventMap> implements TrustClient {
  readonly me: AgentKey;
  readonly peerId: string;
  readonly #connection: TrustConnection;
  readonly #sender: OutboxSender;
  /** A paired device: the agent's profile names the first device's PeerId, not this one's. */
  readonly #paired: boolean;
  readonly devices: DeviceDirectory;
  /** This device's key as an agent key (a device certificate names it so). */
  readonly #self: AgentKey;
  /** The agent key's PeerId (the first device's). */
  readonly #agentPeer: string;
  /** The PeerIds of the person's other devices, as `myDevices` last read them. */
  #otherDevices = new Set<string>();
  #devicesRead = false;
  #addresses: string[] = [];

  private constructor(
    options: HolochainTrustClientOptions,
    private readonly outbox: Outbox,
    capSecret: Uint8Array,
  ) {
    super();
    const agentKey = options.agentKey ?? options.deviceKey;
    this.me = agentKeyFromEd25519(agentKey.publicKey.raw);
    this.peerId = peerIdFromPrivateKey(options.deviceKey).toString();
    this.#paired = !agentKey.equals(options.deviceKey);
    this.#self = agentKeyFromEd25519(options.deviceKey.publicKey.raw);
    this.#agentPeer = peerIdFromPrivateKey(agentKey).toString();
    // A gate waits for this lookup: a doorway that does not answer must not hold it up long.
    this.devices = new DeviceDirectory((device) =>
      this.deviceAgent(device, { signal: AbortSignal.timeout(5_000) }),
    );
    this.#connection = new TrustConnection(
      {
        doorway: options.doorway,
        deviceKey: agentKey,
        me: this.me,
        agent: decodeHashFromBase64(this.me),
        capSecret,
        minBackoffMs: options.minBackoffMs ?? 1_000,
        maxBackoffMs: options.maxBackoffMs ?? 30_000,
        callTimeoutMs: options.callTimeoutMs ?? 20_000,
        connectTimeoutMs: options.connectTimeoutMs ?? 15_000,
      },
      this,
      () => this.#sender.kick(),
    );
    this.#sender = new OutboxSender({
      outbox,
      events: this,
      link: this.#connection,
      ready: (op) => !needsAddresses(op) || this.#addresses.length > 0,
      send: (op) => this.#send(op),
    });
  }

  /** Opens the outbox and starts connecting (and reconnecting) in the background. */
  static async create(options: HolochainTrustClientOptions): Promise<HolochainTrustClient> {
    for (const key of [options.deviceKey, options.agentKey]) {
      if (key !== undefined && key.type !== 'Ed25519') {
        throw new TrustInputError(
          `The device and agent keys must be Ed25519 (they are agent keys), not ${key.type}: use loadOrCreateDeviceKey().`,
        );
      }
    }
    const outbox = await Outbox.open(options.dbName ?? 'elohim-trust');
    const client = new HolochainTrustClient(options, outbox, await outbox.capSecret());
    await client.#sender.init();
    client.#connection.start();
    return client;
  }

  get state(): TrustState {
    return this.#connection.state;
  }

  /** The doorway whose trust layer this client uses now. */
  get doorway(): string {
    return this.#connection.doorway;
  }

  /** Logs in through another doorway (failover; see `TrustConnection.moveTo`). */
  moveTo(doorway: string): void {
    this.#connection.moveTo(doorway);
  }

  get queued(): number {
    return this.#sender.queued;
  }

  // ------------------------------------------------------------------ changes (outbox)

  async setAddresses(multiaddrs: readonly string[]): Promise<void> {
    const next = [...new Set(multiaddrs)].slice(0, MAX_ENDPOINTS);
    if (sameAddresses(next, this.#addresses)) return;
    this.#addresses = checkMultiaddrs(next);
    // Empty means "not dialable now": keep the records as they are rather than erase them.
    if (next.length > 0) await this.#sender.change({ kind: 'readdress' });
  }

  async registerAgent(input: RegisterAgentInput, options: CallOptions = {}): Promise<Delivery> {
    return this.#sender.change(registerOp(input, this.peerId), options.signal);
  }

  async announce(
    hash: string,
    input: AnnounceInput = {},
    options: CallOptions = {},
  ): Promise<Delivery> {
    return this.#sender.change(announceOp(hash, input), options.signal);
  }

  async withdraw(hash: string, options: CallOptions = {}): Promise<Delivery> {
    return this.#sender.change({ kind: 'withdraw', hash: parseContentHash(hash) }, options.signal);
  }

  async grantClusterKey(grant: ClusterKeyGrant, options: CallOptions = {}): Promise<Delivery> {
    return this.#sender.change(grantOp(grant, this.me), options.signal);
  }

  /** Sends one outbox change over the live connection. */
  async #send(op: OutboxOp): Promise<void> {
    const zome = this.#connection;
    // A record shared with the person's other devices must not be written before they are known.
    if (!this.#devicesRead && op.kind !== 'grant' && op.kind !== 'register') {
      await this.myDevices().catch((error) => {
        // A trust layer without devices (an older zome) refuses the read: nobody else's to keep.
        if (!(error instanceof TrustRefusedError)) throw error;
        this.#devicesRead = true;
      });
    }
    switch (op.kind) {
      case 'announce':
        return sendAnnounce(zome, op, this.#addresses, this.#announcer());
      case 'withdraw':
        return sendWithdraw(zome, op, this.#announcer());
      case 'register':
        // The profile (PeerId and addresses) is the first device's; a paired one keeps out.
        if (this.#paired) return;
        return sendRegister(zome, op, this.peerId, this.#addresses);
      case 'readdress': {
        // Read once: every record of this pass names the same addresses.
        const addresses = this.#addresses;
        await readdressAnnouncements(zome, addresses, this.#announcer());
        if (this.#paired) return;
        return readdressProfile(zome, this.me, this.peerId, addresses);
      }
      case 'grant':
        return sendGrant(zome, op);
    }
  }

  // ------------------------------------------------------------------ lookups

  #announcer(): Announcer {
    return {
      me: this.me,
      agentPeer: this.#agentPeer,
      peerId: this.peerId,
      otherDevices: this.#otherDevices,
    };
  }

  findHolders(hash: string, options: FindHoldersOptions = {}): Promise<TrustHolder[]> {
    return findHolders(
      this.#connection,
      this.peerId,
      (device) => this.devices.agentOfDevice(device),
      hash,
      options,
    );
  }

  myAnnouncements(options: CallOptions = {}): Promise<Announcement[]> {
    return myAnnouncements(this.#connection, options, this.#announcer());
  }

  getHuman(agent: AgentKey, options: CallOptions = {}): Promise<TrustHuman | undefined> {
    return getHuman(this.#connection, agent, options);
  }

  createRelationship(
    otherAgent: AgentKey,
    type: string,
    options: CallOptions & { reach?: Reach } = {},
  ): Promise<TrustRelationship> {
    return createRelationship(this.#connection, this.me, otherAgent, type, options);
  }

  myRelationships(options: CallOptions = {}): Promise<TrustRelationship[]> {
    return myRelationships(this.#connection, options);
  }

  myClusterKeyGrants(options: CallOptions = {}): Promise<TrustClusterGrant[]> {
    return myClusterKeyGrants(this.#connection, options);
  }

  familyCluster(
    owner: AgentKey,
    options: CallOptions = {},
  ): Promise<TrustFamilyCluster | undefined> {
    return familyCluster(this.#connection, owner, options);
  }

  // ------------------------------------------------------------------ social recovery

  setRecoveryGuardians(
    setup: RecoverySetupInput,
    options: CallOptions = {},
  ): Promise<TrustRecoveryShare[]> {
    return setRecoveryGuardians(this.#connection, setup, options);
  }

  myRecoveryShares(options: CallOptions = {}): Promise<TrustRecoveryShare[]> {
    return myRecoveryShares(this.#connection, options);
  }

  releaseRecoveryShare(
    owner: AgentKey,
    requester: AgentKey,
    sealed: { iv: string; sealed: string },
    options: CallOptions = {},
  ): Promise<TrustRecoveryRelease> {
    return releaseRecoveryShare(this.#connection, owner, requester, sealed, options);
  }

  myRecoveryReleases(options: CallOptions = {}): Promise<TrustRecoveryRelease[]> {
    return myRecoveryReleases(this.#connection, options);
  }

  // ------------------------------------------------------------------ devices

  addDevice(cert: DeviceCertificate, options: CallOptions = {}): Promise<TrustDevice> {
    return addDevice(this.#connection, cert, options);
  }

  removeDevice(device: AgentKey, options: CallOptions = {}): Promise<TrustDevice> {
    return removeDevice(this.#connection, device, options);
  }

  agentDevices(agent: AgentKey, options: CallOptions = {}): Promise<TrustDevice[]> {
    return agentDevices(this.#connection, agent, options);
  }

  deviceAgent(device: AgentKey, options: CallOptions = {}): Promise<TrustDevice | undefined> {
    return deviceAgent(this.#connection, device, options);
  }

  async myDevices(options: CallOptions = {}): Promise<Set<AgentKey>> {
    const certified = await agentDevices(this.#connection, this.me, options);
    const valid = await Promise.all(
      certified.map(async (d) => ((await inForce(d)) ? d.device : [])),
    );
    const devices = new Set<AgentKey>([this.me, ...valid.flat()]);
    devices.delete(this.#self);
    this.#otherDevices = new Set([...devices].map(peerIdOfAgent));
    this.#devicesRead = true;
    return devices;
  }

  // ------------------------------------------------------------------ connection

  reconnect(): void {
    this.#connection.reconnect();
  }

  async close(): Promise<void> {
    if (this.#connection.closed) return;
    await this.#connection.close();
    await this.#sender.idle();
    this.outbox.close();
  }
}
