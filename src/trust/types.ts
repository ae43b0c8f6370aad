/**
 * What the page sees of the trust layer: plain data (agent keys as `uhCAk…` strings, times in
 * milliseconds) and the {@link TrustClient} interface the UI and the fetch path depend on.
 */
import type { PeerId } from '@libp2p/interface';
import type { Reach } from '../content/index.ts';
import type { AgentKey, ClusterKeyGrant } from '../reach/index.ts';
import type { EndpointWire, TypedEventTarget } from '../wire/index.ts';
import type { DeviceDirectory } from './devices.ts';

export type TrustStatus = 'connecting' | 'connected' | 'offline';

export interface TrustState {
  status: TrustStatus;
  /** Why the last attempt failed or the connection dropped, in words for people. */
  error?: string;
  /** When the next attempt starts (ms since epoch), while offline. */
  retryAt?: number;
  /** The doorway whose trust layer this is (it changes on failover). */
  doorway?: string;
}

/** What became of a change: done now, kept for when the doorway is back, or replaced by a later change. */
export type Delivery = 'sent' | 'queued' | 'superseded';

export interface RegisterAgentInput {
  display_name: string;
  /** Must be this device's own PeerId (the trust layer checks); default: it. */
  peer_id?: string;
  /** Where this device can be dialled; default: the addresses given to `setAddresses`. */
  multiaddrs?: string[];
  /** Who may read the profile. Default `commons`. */
  profile_reach?: Reach;
}

export interface AnnounceInput {
  /** libp2p addresses serving the content; default: the addresses given to `setAddresses`. */
  multiaddrs?: string[];
  /** Default `blob_serving`. */
  capability?: string;
  /** 0–255, higher is preferred by finders. Default 50. */
  priority?: number;
  region?: string;
}

export interface FindHoldersOptions {
  signal?: AbortSignal;
  /** At most this many (before this device's own entry is left out). Default 10. */
  limit?: number;
  /** Default `blob_serving`; `null`: any (whole blobs and shards, `shard_serving`). */
  capability?: string | null;
}

/** Another agent that says it holds a hash, with where to dial it. */
export interface TrustHolder {
  peerId: PeerId;
  agent: AgentKey;
  /** Its announced libp2p addresses that name its own PeerId. */
  multiaddrs: string[];
  capability: string;
  priority: number;
  region: string | null;
  /** ms since epoch. */
  updatedAt: number;
}

/** One of this agent's content-location records. */
export interface Announcement {
  hash: string;
  /** Whether this device's endpoints are among them (the person's other devices may be too). */
  thisDevice: boolean;
  capability: string;
  endpoints: EndpointWire[];
  online: boolean;
  priority: number;
  region: string | null;
  updatedAt: number;
}

export interface TrustHuman {
  agent: AgentKey;
  displayName: string;
  peerId: string;
  multiaddrs: string[];
  profileReach: Reach;
  createdAt: number;
  updatedAt: number;
}

export interface TrustRelationship {
  initiator: AgentKey;
  otherAgent: AgentKey;
  /** snake_case, e.g. `friend`, `family`, `same_person`. */
  type: string;
  reach: Reach;
  createdAt: number;
  updatedAt: number;
}

/** A family cluster key grant as the trust layer lists it (made or received by this agent). */
export interface TrustClusterGrant {
  /** The grant itself, as `grantClusterKey` (src/reach) made it; `acceptClusterKey` opens it. */
  grant: ClusterKeyGrant;
  /** ms since epoch of its last change. */
  updatedAt: number;
}

/** An agent's family cluster: whom it named family, and the cluster ids it granted keys for. */
export interface TrustFamilyCluster {
  owner: AgentKey;
  /** The agents the owner named family (`family` relationships from the owner), oldest first. */
  members: AgentKey[];
  /** Cluster ids the owner granted keys for, oldest first. */
  clusters: string[];
}

/** A share of someone's recovery secret (src/recovery), as its owner and its guardian see it. */
export interface TrustRecoveryShare {
  owner: AgentKey;
  guardian: AgentKey;
  setup: string;
  threshold: number;
  /** How many guardians the setup has. */
  total: number;
  iv: string;
  sealed: string;
  /** ms since epoch. */
  createdAt: number;
}

/** A certificate before it is published: what the agent key signed. */
export interface DeviceCertificate {
  agent: AgentKey;
  device: AgentKey;
  name: string;
  /** ms since the epoch. */
  addedAt: number;
  /** base64url Ed25519 signature by the agent key. */
  signature: string;
  /** base64url Ed25519 signature by the device key, over the same text: it agreed. */
  deviceSignature: string;
}

/** A device certificate as the trust layer keeps it (src/trust/devices.ts). */
export interface TrustDevice extends DeviceCertificate {
  /** ms since epoch; set once the agent removed the device. */
  removedAt?: number;
}

/** A guardian's share released to a requester (the owner's new browser). */
export interface TrustRecoveryRelease {
  owner: AgentKey;
  guardian: AgentKey;
  requester: AgentKey;
  setup: string;
  threshold: number;
  iv: string;
  sealed: string;
  /** ms since epoch. */
  createdAt: number;
}

/** An app signal from the trust layer (sent to this agent's own sockets, e.g. its other tabs). */
export interface TrustSignal {
  zome: string;
  /** A `TrustSignalType` (src/wire/trust.ts), e.g. `HumanCommitted`, `ClusterKeyGranted`. */
  type: string | undefined;
  payload: unknown;
}

/** A queued change the trust layer refused when it was replayed: it is dropped. */
export interface RefusedChange {
  key: string;
  error: Error;
}

/** Each event's `detail`. */
export interface TrustEvents {
  state: TrustState;
  /** How many changes wait for the doorway (persisted across reloads). */
  queue: { queued: number };
  signal: TrustSignal;
  refused: RefusedChange;
}

/** The client's events: listen with `listen(client, 'state', fn)` (src/wire) or addEventListener. */
export type TrustEventMap = { [K in keyof TrustEvents]: CustomEvent<TrustEvents[K]> };

export interface CallOptions {
  signal?: AbortSignal;
}

/**
 * The trust layer as the page uses it. Changes (register, announce, withdraw, addresses,
 * cluster key grants) are
 * written to a persistent outbox first and sent in order, so they survive the doorway being
 * away and the page reloading; lookups need a live connection.
 */
export interface TrustClient extends TypedEventTarget<TrustEventMap> {
  /** The person's agent key: this device's own key, unless it was paired to a person. */
  readonly me: AgentKey;
  /** This device's PeerId: its endpoints in the agent's announcements name it. */
  readonly peerId: string;
  readonly state: TrustState;
  /** Changes waiting in the outbox. */
  readonly queued: number;

  /** The addresses this device is dialable at now; re-announces everything when they change. */
  setAddresses(multiaddrs: readonly string[]): Promise<void>;
  registerAgent(input: RegisterAgentInput, options?: CallOptions): Promise<Delivery>;
  announce(hash: string, input?: AnnounceInput, options?: CallOptions): Promise<Delivery>;
  withdraw(hash: string, options?: CallOptions): Promise<Delivery>;

  findHolders(hash: string, options?: FindHoldersOptions): Promise<TrustHolder[]>;
  myAnnouncements(options?: CallOptions): Promise<Announcement[]>;
  getHuman(agent: AgentKey, options?: CallOptions): Promise<TrustHuman | undefined>;
  createRelationship(
    otherAgent: AgentKey,
    type: string,
    options?: CallOptions & { reach?: Reach },
  ): Promise<TrustRelationship>;
  myRelationships(options?: CallOptions): Promise<TrustRelationship[]>;

  /**
   * Publishes a family cluster key grant made by this device (`grant.from` is this agent) for
   * one member it named family. Through the outbox: one entry per (cluster, member), the latest
   * grant wins. The trust layer refuses grants to anyone who is not in this agent's family.
   */
  grantClusterKey(grant: ClusterKeyGrant, options?: CallOptions): Promise<Delivery>;
  /** The grants this agent made and received (grants in a format this app cannot read are left out). */
  myClusterKeyGrants(options?: CallOptions): Promise<TrustClusterGrant[]>;
  /** `owner`'s family cluster, if this agent is the owner or one of its members (else undefined). */
  familyCluster(owner: AgentKey, options?: CallOptions): Promise<TrustFamilyCluster | undefined>;

  /**
   * Social recovery (src/recovery makes and opens the sealed shares). Publishes this agent's
   * setup, replacing the last one; every guardian must be someone this agent linked to.
   */
  setRecoveryGuardians(
    setup: {
      setup: string;
      threshold: number;
      shares: { guardian: AgentKey; iv: string; sealed: string }[];
    },
    options?: CallOptions,
  ): Promise<TrustRecoveryShare[]>;
  /** Shares this agent made (as owner) or holds (as guardian). */
  myRecoveryShares(options?: CallOptions): Promise<TrustRecoveryShare[]>;
  /** Releases the share this agent holds of `owner`'s secret to `requester`, sealed for it. */
  releaseRecoveryShare(
    owner: AgentKey,
    requester: AgentKey,
    sealed: { iv: string; sealed: string },
    options?: CallOptions,
  ): Promise<TrustRecoveryRelease>;
  /** Releases this agent made (as guardian) or was sent (as requester). */
  myRecoveryReleases(options?: CallOptions): Promise<TrustRecoveryRelease[]>;

  /** Publishes a certificate this agent signed for one of its devices (src/trust/devices.ts). */
  addDevice(cert: DeviceCertificate, options?: CallOptions): Promise<TrustDevice>;
  /** Removes one of this agent's devices: the gates stop serving it, it is never added again. */
  removeDevice(device: AgentKey, options?: CallOptions): Promise<TrustDevice>;
  /** Every certificate `agent` made, removed ones included. */
  agentDevices(agent: AgentKey, options?: CallOptions): Promise<TrustDevice[]>;
  /** The certificate naming `device`, if any (check it with verifyDeviceCertificate). */
  deviceAgent(device: AgentKey, options?: CallOptions): Promise<TrustDevice | undefined>;
  /** Which agent a peer speaks for, from checked device certificates (gates, holder lists). */
  readonly devices: DeviceDirectory;
  /**
   * Reads this person's other devices again (device keys as agent keys, in force, checked
   * here): the agent's own key among them unless it is this device's. This agent's holder
   * records keep their endpoints when this device writes one.
   */
  myDevices(options?: CallOptions): Promise<Set<AgentKey>>;

  /** Tries to connect now instead of waiting for the backoff (e.g. on the browser's `online`). */
  reconnect(): void;
  close(): Promise<void>;
}
