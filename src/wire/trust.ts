/**
 * The trust layer's wire: the zome functions of the Elohim hApp's `infrastructure` and
 * `imagodei` roles as they go over the app websocket — payloads, results, entries, signals and
 * the rules both sides check. The page's client (src/trust) sends them; the doorway's conductor
 * emulator (doorway/holochain) answers them. Written once here so the two cannot drift.
 *
 * Shapes follow the Rust DNA: snake_case fields, `Option` as nil (`null`), agent keys and
 * action hashes as 39-byte HoloHashes (`Uint8Array`; MessagePack bin), timestamps in
 * microseconds since the Unix epoch unless a field says otherwise.
 */

/** A 39-byte HoloHash of an agent (`84 20 24` + Ed25519 key + 4 location bytes). */
export type AgentPubKey = Uint8Array;
/** A 39-byte HoloHash of an action. */
export type ActionHash = Uint8Array;
export type EntryHash = Uint8Array;

/** Who may receive or read something (docs/design.md §7). `regional` is the Rust SDK's name. */
export const REACHES = [
  'private',
  'invited',
  'local',
  'neighborhood',
  'municipal',
  'bioregional',
  'regional',
  'commons',
] as const;
export type Reach = (typeof REACHES)[number];

// ---------------------------------------------------------------- rules both sides check

/** At most this many endpoints per content server record. */
export const MAX_ENDPOINTS = 16;
/** At most this many addresses in a profile. */
export const MAX_MULTIADDRS = 16;
/** A display name has 1 to this many characters (after trimming). */
export const MAX_DISPLAY_NAME = 128;
/** A capability name, e.g. `blob_serving`, `shard_serving`. */
export const CAPABILITY_PATTERN = /^[a-z0-9][a-z0-9_-]{0,63}$/;
/** A family cluster id: 16–64 base64url characters (16 random bytes make 22). */
export const CLUSTER_ID_PATTERN = /^[A-Za-z0-9_-]{16,64}$/;
/** The cluster key grant format both sides know (`ClusterKeyGrant.version`). */
export const GRANT_VERSION = 1;
/** A recovery setup id: 16–64 base64url characters (16 random bytes make 22). */
export const RECOVERY_SETUP_PATTERN = /^[A-Za-z0-9_-]{16,64}$/;
/** Guardians of one recovery setup: 2 to this many, and a threshold from 2 to their number. */
export const MAX_GUARDIANS = 10;
/** A sealed share or release: base64url of at most this many characters (about 1.5 KiB of bytes). */
export const MAX_SEALED_SHARE = 2048;
/** Releases one guardian keeps for one owner (to as many requesters); the oldest goes first. */
export const MAX_RELEASES_PER_GUARDIAN = 4;

/**
 * `ExternalApiWireError` variants (snake_case) a conductor answers with, and @holochain/client
 * reports as `error.name`: refusals, never connection trouble.
 */
export const WIRE_ERROR_KINDS = [
  'internal_error',
  'deserialization',
  'dna_read_error',
  'ribosome_error',
  'activate_app',
  'zome_call_authentication_failed',
  'zome_call_unauthorized',
  'countersigning_session_error',
] as const;
export type WireErrorKind = (typeof WIRE_ERROR_KINDS)[number];

export function isWireErrorKind(name: string): name is WireErrorKind {
  return (WIRE_ERROR_KINDS as readonly string[]).includes(name);
}

// ---------------------------------------------------------------- infrastructure

export interface EndpointWire {
  /** A libp2p multiaddr for `protocol: 'libp2p'`, else a URL. */
  url: string;
  protocol: string;
  /** 0–255; default 50. */
  priority: number;
}

/** `ContentServer`: an agent saying it holds a content hash, and where to reach it. */
export interface ContentServerWire {
  /** `sha256-<64 lowercase hex>`. */
  content_hash: string;
  capability: string;
  endpoints: EndpointWire[];
  online: boolean;
  priority: number;
  region: string | null;
  /** The holder. */
  agent: AgentPubKey;
  updated_at: number;
}

export interface RegisterContentServerInput {
  content_hash: string;
  capability: string;
  endpoints: { url: string; protocol: string; priority?: number }[];
  priority?: number;
  region?: string;
}

export interface FindPublishersInput {
  content_hash: string;
  /** nil: any capability. */
  capability?: string | null;
  prefer_region?: string;
  /** Default 10. */
  limit?: number;
  /** Default true. */
  online_only?: boolean;
}

/** `DoorwayRegistration`, with the Rust entry's fields (its timestamps are ISO-8601 strings). */
export interface DoorwayRegistrationWire {
  id: string;
  url: string;
  /** `uhCAk…` text, as the Rust entry keeps it. */
  operator_agent: string;
  operator_human: string | null;
  capabilities_json: string;
  reach: Reach;
  region: string | null;
  bandwidth_mbps: number | null;
  version: string;
  tier: string;
  registered_at: string;
  updated_at: string;
}

export interface RegisterDoorwayInput {
  id: string;
  url: string;
  capabilities_json: string;
  reach: Reach;
  region?: string;
  bandwidth_mbps?: number;
  version: string;
}

// ---------------------------------------------------------------- imagodei

/** `Human`: an agent's profile. */
export interface HumanWire {
  agent: AgentPubKey;
  display_name: string;
  /** libp2p PeerId of the agent's own Ed25519 key (docs/design.md §2: the same key). */
  peer_id: string;
  multiaddrs: string[];
  profile_reach: Reach;
  created_at: number;
  updated_at: number;
}

export interface CreateHumanInput {
  display_name: string;
  peer_id: string;
  multiaddrs: string[];
  /** Default `commons`. */
  profile_reach?: Reach;
}

/** `Relationship`: a link one agent (`initiator`) made to another. */
export interface RelationshipWire {
  initiator: AgentPubKey;
  other_agent: AgentPubKey;
  /** snake_case, e.g. `friend`, `family`. */
  relationship_type: string;
  reach: Reach;
  created_at: number;
  updated_at: number;
  action_hash: ActionHash;
}

export interface CreateRelationshipInput {
  other_agent: AgentPubKey;
  relationship_type: string;
  /** Default `invited`. */
  reach?: Reach;
}

/**
 * `ClusterKeyGrant`: a family cluster key wrapped for one member (src/reach `ClusterKeyGrant`):
 * the granter wrapped the cluster's AES key with the key it shares with the grantee (X25519 +
 * HKDF of their two agent keys and `context`). Safe to publish: only the grantee unwraps it.
 */
export interface ClusterKeyGrantWire {
  cluster: string;
  granter: AgentPubKey;
  grantee: AgentPubKey;
  context: string;
  version: number;
  /** base64url, no padding: a 12-byte AES-GCM IV. */
  iv: string;
  /** base64url, no padding: the 32-byte key wrapped with AES-GCM, tag included. */
  wrapped_key: string;
  created_at: number;
  updated_at: number;
  action_hash: ActionHash;
}

export interface GrantClusterKeyInput {
  cluster: string;
  grantee: AgentPubKey;
  context: string;
  version: number;
  iv: string;
  wrapped_key: string;
}

/** An agent's family cluster: whom it named family (oldest first) and the clusters it granted. */
export interface FamilyClusterWire {
  owner: AgentPubKey;
  members: AgentPubKey[];
  clusters: string[];
}

// ---------------------------------------------------------------- imagodei: social recovery

/**
 * One guardian's share of an owner's recovery secret (src/recovery): sealed by the owner for
 * the guardian with their relationship key, the setup, both agents, the threshold and the
 * number of guardians bound as additional data. Only the owner and that guardian read it.
 */
export interface RecoveryShareWire {
  owner: AgentPubKey;
  guardian: AgentPubKey;
  setup: string;
  threshold: number;
  total: number;
  /** base64url, no padding: a 12-byte AES-GCM IV. */
  iv: string;
  /** base64url, no padding: the share, AES-GCM, tag included. */
  sealed: string;
  created_at: number;
  action_hash: ActionHash;
}

export interface SetRecoveryGuardiansInput {
  setup: string;
  threshold: number;
  shares: { guardian: AgentPubKey; iv: string; sealed: string }[];
}

/**
 * A guardian's share released to a requester (the person's new device), sealed by the
 * guardian for it. `setup` and `threshold` come from the guardian's share record.
 */
export interface RecoveryReleaseWire {
  owner: AgentPubKey;
  guardian: AgentPubKey;
  requester: AgentPubKey;
  setup: string;
  threshold: number;
  iv: string;
  sealed: string;
  created_at: number;
  action_hash: ActionHash;
}

export interface ReleaseRecoveryShareInput {
  owner: AgentPubKey;
  requester: AgentPubKey;
  iv: string;
  sealed: string;
}

// ---------------------------------------------------------------- imagodei: devices

/** A person's devices besides the first: at most this many certified (not removed) at once. */
export const MAX_DEVICES = 16;
/** A device's name ("Phone"): 1 to this many characters. */
export const MAX_DEVICE_NAME = 64;
/** First line of what an agent signs to certify one of its devices (docs/design.md §2). */
export const DEVICE_CERTIFICATE_PURPOSE = 'elohim-device-certificate/v1';

/**
 * The text an agent key signs (UTF-8, Ed25519) to say "`device` is one of my devices", and the
 * device key signs to say "I am": agent and device as `uhCAk…` text, `added_at` in
 * milliseconds. Peers check both signatures themselves, so a certificate is believed without
 * trusting whoever carried it, and nobody can claim a device that did not agree.
 */
export function deviceCertificateText(
  agent: string,
  device: string,
  name: string,
  addedAt: number,
): string {
  return [
    DEVICE_CERTIFICATE_PURPOSE,
    `agent: ${agent}`,
    `device: ${device}`,
    `name: ${name}`,
    `added-at: ${addedAt}`,
  ].join('\n');
}

/**
 * A device certificate: `agent` (the person's agent key) certifies `device` (the agent key of
 * that device's own Ed25519 key, which is its libp2p PeerId). `removed_at` is set once the
 * agent removed it; a removed device is never certified again.
 */
export interface DeviceWire {
  agent: AgentPubKey;
  device: AgentPubKey;
  name: string;
  /** Milliseconds since the epoch, as signed (not the trust layer's µs timestamp). */
  added_at: number;
  /** base64url, no padding: the agent key's Ed25519 signature over {@link deviceCertificateText}. */
  signature: string;
  /** base64url, no padding: the device key's signature over the same text. */
  device_signature: string;
  /** The trust layer's timestamp (µs since the epoch) of the removal. */
  removed_at: number | null;
  action_hash: ActionHash;
}

export interface AddDeviceInput {
  device: AgentPubKey;
  name: string;
  /** Milliseconds since the epoch; within 10 minutes of the trust layer's clock. */
  added_at: number;
  signature: string;
  device_signature: string;
}

// ---------------------------------------------------------------- the functions

/** Every zome function: its role (zome name = role name), payload and result. */
export interface TrustFunctions {
  register_content_server: {
    role: 'infrastructure';
    input: RegisterContentServerInput;
    output: { action_hash: ActionHash; server: ContentServerWire };
  };
  mark_content_server_offline: {
    role: 'infrastructure';
    input: { content_hash: string };
    output: { action_hash: ActionHash; server: ContentServerWire };
  };
  find_publishers: {
    role: 'infrastructure';
    input: FindPublishersInput;
    output: ContentServerWire[];
  };
  get_my_content_servers: { role: 'infrastructure'; input: null; output: ContentServerWire[] };
  register_doorway: {
    role: 'infrastructure';
    input: RegisterDoorwayInput;
    output: { action_hash: ActionHash; doorway: DoorwayRegistrationWire };
  };
  update_doorway: {
    role: 'infrastructure';
    input: RegisterDoorwayInput;
    output: { action_hash: ActionHash; doorway: DoorwayRegistrationWire };
  };
  get_doorway_by_id: {
    role: 'infrastructure';
    input: string;
    output: { action_hash: ActionHash; doorway: DoorwayRegistrationWire } | null;
  };
  /** Every doorway registered (the Rust zome's name); the emulator answers the newest 256. */
  get_all_doorways: {
    role: 'infrastructure';
    input: null;
    output: { action_hash: ActionHash; doorway: DoorwayRegistrationWire }[];
  };
  create_human: {
    role: 'imagodei';
    input: CreateHumanInput;
    output: { action_hash: ActionHash; human: HumanWire };
  };
  /** nil also when the caller may not read it. */
  get_human: { role: 'imagodei'; input: AgentPubKey; output: HumanWire | null };
  /** nil also when the caller may not read that agent's profile. */
  get_agent_by_peer_id: { role: 'imagodei'; input: string; output: AgentPubKey | null };
  create_relationship: {
    role: 'imagodei';
    input: CreateRelationshipInput;
    output: { action_hash: ActionHash; relationship: RelationshipWire };
  };
  get_my_relationships: { role: 'imagodei'; input: null; output: RelationshipWire[] };
  grant_cluster_key: {
    role: 'imagodei';
    input: GrantClusterKeyInput;
    output: { action_hash: ActionHash; grant: ClusterKeyGrantWire };
  };
  get_my_cluster_key_grants: { role: 'imagodei'; input: null; output: ClusterKeyGrantWire[] };
  /** nil unless the caller is the owner or one of its members. */
  get_family_cluster: { role: 'imagodei'; input: AgentPubKey; output: FamilyClusterWire | null };
  /** Replaces the caller's recovery setup (every share of the old one goes). */
  set_recovery_guardians: {
    role: 'imagodei';
    input: SetRecoveryGuardiansInput;
    output: { action_hash: ActionHash; shares: RecoveryShareWire[] };
  };
  /** Shares the caller made (as owner) or holds (as guardian). */
  get_my_recovery_shares: { role: 'imagodei'; input: null; output: RecoveryShareWire[] };
  release_recovery_share: {
    role: 'imagodei';
    input: ReleaseRecoveryShareInput;
    output: { action_hash: ActionHash; release: RecoveryReleaseWire };
  };
  /** Releases the caller made (as guardian) or was sent (as requester). */
  get_my_recovery_releases: { role: 'imagodei'; input: null; output: RecoveryReleaseWire[] };
  /** The caller (the agent) certifies one of its devices. */
  add_device: {
    role: 'imagodei';
    input: AddDeviceInput;
    output: { action_hash: ActionHash; device: DeviceWire };
  };
  /** The caller (the agent) removes one of its devices: it is never certified again. */
  remove_device: {
    role: 'imagodei';
    input: AgentPubKey;
    output: { action_hash: ActionHash; device: DeviceWire };
  };
  /** Every certificate `agent` made, removed ones included, newest first. */
  get_agent_devices: { role: 'imagodei'; input: AgentPubKey; output: DeviceWire[] };
  /** The certificate naming `device`, removed or not; nil when none does. */
  get_device_agent: { role: 'imagodei'; input: AgentPubKey; output: DeviceWire | null };
}

export type TrustFunction = keyof TrustFunctions;
export type TrustRole = TrustFunctions[TrustFunction]['role'];
export type TrustInput<F extends TrustFunction> = TrustFunctions[F]['input'];
export type TrustOutput<F extends TrustFunction> = TrustFunctions[F]['output'];
/** The `get_my_*` functions: no payload, this agent's own records. */
export type MyRecordsFunction = {
  [F in TrustFunction]: F extends `get_my_${string}` ? F : never;
}[TrustFunction];

/** Which role (and zome) each function lives in. */
export const TRUST_ROLE_OF: { readonly [F in TrustFunction]: TrustFunctions[F]['role'] } = {
  register_content_server: 'infrastructure',
  mark_content_server_offline: 'infrastructure',
  find_publishers: 'infrastructure',
  get_my_content_servers: 'infrastructure',
  register_doorway: 'infrastructure',
  update_doorway: 'infrastructure',
  get_doorway_by_id: 'infrastructure',
  get_all_doorways: 'infrastructure',
  create_human: 'imagodei',
  get_human: 'imagodei',
  get_agent_by_peer_id: 'imagodei',
  create_relationship: 'imagodei',
  get_my_relationships: 'imagodei',
  grant_cluster_key: 'imagodei',
  get_my_cluster_key_grants: 'imagodei',
  get_family_cluster: 'imagodei',
  set_recovery_guardians: 'imagodei',
  get_my_recovery_shares: 'imagodei',
  release_recovery_share: 'imagodei',
  get_my_recovery_releases: 'imagodei',
  add_device: 'imagodei',
  remove_device: 'imagodei',
  get_agent_devices: 'imagodei',
  get_device_agent: 'imagodei',
};

// ---------------------------------------------------------------- signals

/** What every `…Committed` signal carries besides the record. */
interface CommittedSignal {
  action_hash: ActionHash;
  entry_hash: EntryHash;
  author: AgentPubKey;
}

/**
 * The app signals (`{type, payload}`): `…Committed` to the committing agent's own sockets
 * (`emit_signal`), `ClusterKeyGranted` to the grantee's (`send_remote_signal`).
 */
export type TrustSignalWire =
  | { type: 'ContentServerCommitted'; payload: CommittedSignal & { server: ContentServerWire } }
  | { type: 'DoorwayCommitted'; payload: CommittedSignal & { doorway: DoorwayRegistrationWire } }
  | { type: 'HumanCommitted'; payload: CommittedSignal & { human: HumanWire } }
  | {
      type: 'RelationshipCommitted';
      payload: CommittedSignal & { relationship: RelationshipWire };
    }
  | {
      type: 'ClusterKeyGrantCommitted' | 'ClusterKeyGranted';
      payload: CommittedSignal & { grant: ClusterKeyGrantWire };
    }
  | {
      type: 'RecoveryShareReleased';
      payload: CommittedSignal & { release: RecoveryReleaseWire };
    }
  /** A device of the agent's certified or removed: the agent's other devices check at once. */
  | { type: 'DeviceCommitted'; payload: CommittedSignal & { device: DeviceWire } };
export type TrustSignalType = TrustSignalWire['type'];

// ---------------------------------------------------------------- the doorway's /hc routes

/** `POST /hc/challenge` answers this: what an agent signs, good for one request there. */
export interface ChallengeWire {
  /** 43 base64url characters: 32 random bytes, redeemed once. */
  nonce: string;
  /** The doorway's libp2p PeerId. */
  doorway: string;
  /** The origin the challenge was asked at (`https://doorway.example`). */
  origin: string;
  /** Milliseconds since the Unix epoch. */
  expiresAt: number;
}

/** First line of what a dev-token request signs. */
export const DEV_TOKEN_PURPOSE = 'elohim-doorway-dev-token/v2';
/** First line of what an agent signs to let another key act on its cells. */
export const CONNECT_GRANT_PURPOSE = 'elohim-doorway-connect-grant/v1';

type Signed = Pick<ChallengeWire, 'nonce' | 'doorway' | 'origin'>;

/** The text an agent signs (UTF-8): purpose, the challenge's doorway and origin, fields, nonce. */
function challengeText(purpose: string, challenge: Signed, fields: [string, string][]): string {
  return [
    purpose,
    `doorway: ${challenge.doorway}`,
    `origin: ${challenge.origin}`,
    ...fields.map(([name, value]) => `${name}: ${value}`),
    `nonce: ${challenge.nonce}`,
  ].join('\n');
}

/** What `agent` (uhCAk…) signs to get a session token. */
export function devTokenText(challenge: Signed, agent: string): string {
  return challengeText(DEV_TOKEN_PURPOSE, challenge, [['agent', agent]]);
}

/**
 * What `agent` signs to let `signingKey` (uhCAk…) call its cells with the capability secret
 * whose SHA-256 is `capSecretSha256` (base64url).
 */
export function connectGrantText(
  challenge: Signed,
  agent: string,
  signingKey: string,
  capSecretSha256: string,
): string {
  return challengeText(CONNECT_GRANT_PURPOSE, challenge, [
    ['agent', agent],
    ['signing-key', signingKey],
    ['cap-secret-sha256', capSecretSha256],
  ]);
}

/** `POST /hc/dev/token`. */
export interface DevTokenRequest {
  /** `uhCAk…`. */
  agentPubKey: string;
  nonce: string;
  /** Standard base64 (padded) of the Ed25519 signature over {@link devTokenText}. */
  signature: string;
}

export interface DevTokenAnswer {
  /** The session JWT. */
  token: string;
  agentPubKey: string;
  /** Milliseconds since the Unix epoch. */
  expiresAt: number;
}

/** `POST /hc/connect` (Bearer session JWT). Base64 here is standard and padded, as the Rust doorway's. */
export interface ConnectRequest {
  /** The 39-byte key to grant. */
  signingKey: string;
  /** 64 bytes. */
  capSecret: string;
  /** Only for a key other than the session's agent: its signature over {@link connectGrantText}. */
  grant?: { nonce: string; signature: string };
}

export interface ConnectAnswer {
  appToken: string;
  /** The doorway's own HTTP port: the app interface is `/hc/app/{appPort}` on it. */
  appPort: number | undefined;
  agentPubKey: string;
  installedAppId: string;
  conductorId: string;
  /** role → [dna, agent], base64. */
  cellIds: Record<string, [string, string]>;
  /** A fresh session JWT. */
  token: string;
}
