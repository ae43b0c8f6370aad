import { publicKeyFromRaw } from '@libp2p/crypto/keys';
import { peerIdFromPublicKey } from '@libp2p/peer-id';
import { ed25519OfAgent, hashToB64, sameBytes } from './hash.ts';
import type { CallEvidence, Committed, EmulatorStore, RoleName } from './store.ts';
import {
  agentKey,
  checkContentHash,
  checkLength,
  checkMultiaddr,
  checkPattern,
  checkRange,
  checkReach,
  checkUrl,
  integer,
  list,
  MAX_ENDPOINTS,
  MAX_MULTIADDRS,
  optionalBoolean,
  optionalInteger,
  optionalText,
  type Reach,
  record,
  text,
} from './validation.ts';
import { type CellId, ValidationError, ZomeError } from './wire.ts';

/**
 * The zome functions of the Elohim hApp, emulated in TypeScript over SQLite. Names and payloads
 * follow the Rust DNAs (snake_case fields, `Option` as nil). Each role's coordinator zome has the
 * role's name (`infrastructure`, `imagodei`), as in the Rust DNA manifests.
 *
 * The projection tables (content_servers, humans, …) play the DHT: every agent's cell of a role
 * reads the same rows, as cells of one DNA share one DHT.
 */

export interface ZomeContext {
  store: EmulatorStore;
  /** The cell called: [dna, agent]. The agent is the author of everything committed. */
  cell: CellId;
  evidence: CallEvidence;
  /** `emit_signal`: reaches the websockets of the cell agent's own app. */
  emitSignal(payload: unknown): void;
  /**
   * `send_remote_signal` to another agent's cell of this DNA, whose `recv_remote_signal`
   * emits it to that agent's own app: best effort, only to sockets open now, like Holochain's.
   */
  sendRemoteSignal(agent: Uint8Array, payload: unknown): void;
}

export type ZomeFn = (ctx: ZomeContext, payload: unknown) => unknown;

const DEFAULT_PRIORITY = 50;
const DEFAULT_FIND_LIMIT = 10;
const MAX_FIND_LIMIT = 1000;

/** Commits an entry, running the rules every entry shares first. */
function commit(
  ctx: ZomeContext,
  entryType: string,
  entry: { [field: string]: unknown },
  owner: Uint8Array,
): Committed {
  // An agent writes only its own records: the entry's owner is the chain's author.
  if (!sameBytes(owner, ctx.cell[1])) {
    throw new ValidationError(`${entryType} must be authored by the agent it belongs to`);
  }
  return ctx.store.append(ctx.cell, 'create', entryType, entry, ctx.evidence);
}

// =============================================================================
// infrastructure
// =============================================================================

interface Endpoint {
  url: string;
  protocol: string;
  priority: number;
}

/** `ContentServer` as find_publishers returns it. */
export interface ContentServer {
  content_hash: string;
  capability: string;
  endpoints: Endpoint[];
  online: boolean;
  priority: number;
  region: string | null;
  /** The holder's agent key. */
  agent: Uint8Array;
  /** Microseconds since the Unix epoch. */
  updated_at: number;
}

interface ContentServerRow {
  agent: Buffer;
  content_hash: string;
  capability: string;
  endpoints: string;
  online: number;
  priority: number;
  region: string | null;
  updated_at: number;
}

function toContentServer(row: ContentServerRow): ContentServer {
  return {
    content_hash: row.content_hash,
    capability: row.capability,
    endpoints: JSON.parse(row.endpoints) as Endpoint[],
    online: row.online === 1,
    priority: row.priority,
    region: row.region,
    agent: new Uint8Array(row.agent),
    updated_at: row.updated_at,
  };
}

function readEndpoints(fn: string, input: Record<string, unknown>): Endpoint[] {
  const items = list(fn, input, 'endpoints');
  if (items.length === 0 || items.length > MAX_ENDPOINTS) {
    throw new ValidationError(
      `endpoints must list 1 to ${MAX_ENDPOINTS} ways to reach the holder, got ${items.length}`,
    );
  }
  return items.map((item, i) => {
    const e = record(fn, item);
    const endpoint = {
      url: text(fn, e, 'url'),
      protocol: text(fn, e, 'protocol'),
      priority: optionalInteger(fn, e, 'priority') ?? DEFAULT_PRIORITY,
    };
    checkLength(`endpoints[${i}].url`, endpoint.url, 1, 2048);
    checkPattern(`endpoints[${i}].url`, endpoint.url, /^\S+$/, 'a URL or multiaddr without spaces');
    checkPattern(
      `endpoints[${i}].protocol`,
      endpoint.protocol,
      /^[a-z][a-z0-9+.-]{0,31}$/,
      'a lowercase protocol name such as libp2p, https or webrtc',
    );
    checkRange(`endpoints[${i}].priority`, endpoint.priority, 0, 255);
    return endpoint;
  });
}

function writeContentServer(ctx: ZomeContext, server: ContentServer) {
  const committed = commit(ctx, 'ContentServer', { ...server }, server.agent);
  ctx.store
    .stmt(
      `INSERT INTO content_servers (agent, content_hash, capability, endpoints, online, priority,
         region, updated_at, action_hash)
       VALUES (@agent, @content_hash, @capability, @endpoints, @online, @priority, @region,
         @updated_at, @action_hash)
       ON CONFLICT (agent, content_hash) DO UPDATE SET capability = excluded.capability,
         endpoints = excluded.endpoints, online = excluded.online, priority = excluded.priority,
         region = excluded.region, updated_at = excluded.updated_at,
         action_hash = excluded.action_hash`,
    )
    .run({
      ...server,
      endpoints: JSON.stringify(server.endpoints),
      online: server.online ? 1 : 0,
      action_hash: committed.actionHash,
    });
  ctx.emitSignal({
    type: 'ContentServerCommitted',
    payload: {
      action_hash: committed.actionHash,
      entry_hash: committed.entryHash,
      server,
      author: ctx.cell[1],
    },
  });
  return { action_hash: committed.actionHash, server };
}

const registerContentServer: ZomeFn = (ctx, payload) => {
  const fn = 'register_content_server';
  const input = record(fn, payload);
  const server: ContentServer = {
    content_hash: text(fn, input, 'content_hash'),
    capability: text(fn, input, 'capability'),
    endpoints: readEndpoints(fn, input),
    online: true,
    priority: optionalInteger(fn, input, 'priority') ?? DEFAULT_PRIORITY,
    region: optionalText(fn, input, 'region'),
    agent: ctx.cell[1],
    updated_at: Date.now() * 1000,
  };
  checkContentHash(server.content_hash);
  checkPattern(
    'capability',
    server.capability,
    /^[a-z0-9][a-z0-9_-]{0,63}$/,
    'a lowercase name such as blob_serving (letters, digits, _ and -)',
  );
  checkRange('priority', server.priority, 0, 255);
  if (server.region != null) checkLength('region', server.region, 1, 64);
  return writeContentServer(ctx, server);
};

const markContentServerOffline: ZomeFn = (ctx, payload) => {
  const fn = 'mark_content_server_offline';
  const contentHash = text(fn, record(fn, payload), 'content_hash');
  const row = ctx.store
    .stmt('SELECT * FROM content_servers WHERE agent = ? AND content_hash = ?')
    .get(ctx.cell[1], contentHash) as ContentServerRow | undefined;
  if (!row) {
    throw new ZomeError(
      `ContentServer not found: this agent never registered ${contentHash.slice(0, 80)} (call register_content_server first)`,
    );
  }
  return writeContentServer(ctx, {
    ...toContentServer(row),
    online: false,
    updated_at: Date.now() * 1000,
  });
};

const findPublishers: ZomeFn = (ctx, payload) => {
  const fn = 'find_publishers';
  const input = record(fn, payload);
  const contentHash = text(fn, input, 'content_hash');
  const capability = optionalText(fn, input, 'capability');
  const preferRegion = optionalText(fn, input, 'prefer_region');
  const limit = optionalInteger(fn, input, 'limit') ?? DEFAULT_FIND_LIMIT;
  const onlineOnly = optionalBoolean(fn, input, 'online_only') ?? true;
  checkContentHash(contentHash);
  checkRange('limit', limit, 1, MAX_FIND_LIMIT);
  // As the Rust zome sorts: the preferred region first, then higher priority; newest breaks ties.
  const rows = ctx.store
    .stmt(
      `SELECT * FROM content_servers
       WHERE content_hash = @contentHash
         AND (@onlineOnly = 0 OR online = 1)
         AND (@capability IS NULL OR capability = @capability)
       ORDER BY (region IS NOT NULL AND region = @preferRegion) DESC, priority DESC,
         updated_at DESC
       LIMIT @limit`,
    )
    .all({
      contentHash,
      onlineOnly: onlineOnly ? 1 : 0,
      capability,
      preferRegion,
      limit,
    }) as ContentServerRow[];
  return rows.map(toContentServer);
};

const getMyContentServers: ZomeFn = (ctx) => {
  const rows = ctx.store
    .stmt('SELECT * FROM content_servers WHERE agent = ? ORDER BY updated_at DESC')
    .all(ctx.cell[1]) as ContentServerRow[];
  return rows.map(toContentServer);
};

/** `DoorwayRegistration`, with the Rust entry's fields (timestamps are strings there). */
interface DoorwayRegistration {
  id: string;
  url: string;
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

interface DoorwayRow {
  id: string;
  operator: Buffer;
  url: string;
  capabilities_json: string;
  reach: Reach;
  region: string | null;
  bandwidth_mbps: number | null;
  version: string;
  tier: string;
  registered_at: number;
  updated_at: number;
  action_hash: Buffer;
}

function toDoorwayOutput(row: DoorwayRow) {
  const doorway: DoorwayRegistration = {
    id: row.id,
    url: row.url,
    operator_agent: hashToB64(new Uint8Array(row.operator)),
    operator_human: null,
    capabilities_json: row.capabilities_json,
    reach: row.reach,
    region: row.region,
    bandwidth_mbps: row.bandwidth_mbps,
    version: row.version,
    tier: row.tier,
    registered_at: new Date(row.registered_at / 1000).toISOString(),
    updated_at: new Date(row.updated_at / 1000).toISOString(),
  };
  return { action_hash: new Uint8Array(row.action_hash), doorway };
}

function readDoorwayInput(fn: string, payload: unknown) {
  const input = record(fn, payload);
  const doorway = {
    id: text(fn, input, 'id'),
    url: text(fn, input, 'url'),
    capabilities_json: text(fn, input, 'capabilities_json'),
    reach: text(fn, input, 'reach'),
    region: optionalText(fn, input, 'region'),
    bandwidth_mbps: optionalInteger(fn, input, 'bandwidth_mbps'),
    version: text(fn, input, 'version'),
  };
  checkPattern(
    'id',
    doorway.id,
    /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/,
    'up to 128 letters, digits, . _ or -',
  );
  checkUrl('url', doorway.url, ['https', 'http', 'wss', 'ws']);
  checkLength('capabilities_json', doorway.capabilities_json, 2, 8192);
  try {
    JSON.parse(doorway.capabilities_json);
  } catch {
    throw new ValidationError('capabilities_json must be JSON, e.g. "{}"');
  }
  const reach = checkReach('reach', doorway.reach);
  if (doorway.region != null) checkLength('region', doorway.region, 1, 64);
  if (doorway.bandwidth_mbps != null) {
    checkRange('bandwidth_mbps', doorway.bandwidth_mbps, 0, 1_000_000);
  }
  checkLength('version', doorway.version, 0, 64);
  return { ...doorway, reach };
}

function doorwayRow(ctx: ZomeContext, id: string): DoorwayRow | undefined {
  return ctx.store.stmt('SELECT * FROM doorways WHERE id = ?').get(id) as DoorwayRow | undefined;
}

function writeDoorway(
  ctx: ZomeContext,
  input: ReturnType<typeof readDoorwayInput>,
  registeredAt: number,
  tier: string,
) {
  const now = Date.now() * 1000;
  const entry = {
    ...input,
    operator_agent: hashToB64(ctx.cell[1]),
    operator_human: null,
    tier,
    registered_at: registeredAt,
    updated_at: now,
  };
  const committed = commit(ctx, 'DoorwayRegistration', entry, ctx.cell[1]);
  ctx.store
    .stmt(
      `INSERT INTO doorways (id, operator, url, capabilities_json, reach, region, bandwidth_mbps,
         version, tier, registered_at, updated_at, action_hash)
       VALUES (@id, @operator, @url, @capabilities_json, @reach, @region, @bandwidth_mbps,
         @version, @tier, @registered_at, @updated_at, @action_hash)
       ON CONFLICT (id) DO UPDATE SET url = excluded.url,
         capabilities_json = excluded.capabilities_json, reach = excluded.reach,
         region = excluded.region, bandwidth_mbps = excluded.bandwidth_mbps,
         version = excluded.version, updated_at = excluded.updated_at,
         action_hash = excluded.action_hash`,
    )
    .run({
      ...input,
      operator: ctx.cell[1],
      tier,
      registered_at: registeredAt,
      updated_at: now,
      action_hash: committed.actionHash,
    });
  const output = toDoorwayOutput(doorwayRow(ctx, input.id) as DoorwayRow);
  ctx.emitSignal({
    type: 'DoorwayCommitted',
    payload: {
      action_hash: committed.actionHash,
      entry_hash: committed.entryHash,
      doorway: output.doorway,
      author: ctx.cell[1],
    },
  });
  return output;
}

const registerDoorway: ZomeFn = (ctx, payload) => {
  const input = readDoorwayInput('register_doorway', payload);
  if (doorwayRow(ctx, input.id)) {
    throw new ZomeError(
      `Doorway with ID '${input.id}' already exists (its operator changes it with update_doorway)`,
    );
  }
  return writeDoorway(ctx, input, Date.now() * 1000, 'Emerging');
};

const updateDoorway: ZomeFn = (ctx, payload) => {
  const input = readDoorwayInput('update_doorway', payload);
  const existing = doorwayRow(ctx, input.id);
  if (!existing) {
    throw new ZomeError(`Doorway '${input.id}' not found (register_doorway creates it)`);
  }
  if (!sameBytes(new Uint8Array(existing.operator), ctx.cell[1])) {
    throw new ZomeError('Only the doorway operator can update this registration');
  }
  return writeDoorway(ctx, input, existing.registered_at, existing.tier);
};

const getDoorwayById: ZomeFn = (ctx, payload) => {
  if (typeof payload !== 'string') {
    throw new ZomeError(
      'Wasm error while working with Ribosome: Deserialize("get_doorway_by_id input: expected the doorway id as a string")',
    );
  }
  const row = doorwayRow(ctx, payload);
  return row ? toDoorwayOutput(row) : null;
};

// =============================================================================
// imagodei
// =============================================================================

export interface Human {
  agent: Uint8Array;
  display_name: string;
  /** libp2p PeerId of the agent's Ed25519 key (DESIGN §2: the same key). */
  peer_id: string;
  multiaddrs: string[];
  profile_reach: Reach;
  created_at: number;
  updated_at: number;
}

interface HumanRow {
  agent: Buffer;
  display_name: string;
  peer_id: string;
  multiaddrs: string;
  profile_reach: Reach;
  created_at: number;
  updated_at: number;
  action_hash: Buffer;
}

function toHuman(row: HumanRow): Human {
  return {
    agent: new Uint8Array(row.agent),
    display_name: row.display_name,
    peer_id: row.peer_id,
    multiaddrs: JSON.parse(row.multiaddrs) as string[],
    profile_reach: row.profile_reach,
    created_at: row.created_at,
    updated_at: row.updated_at,
  };
}

export function peerIdOfAgent(agent: Uint8Array): string {
  return peerIdFromPublicKey(publicKeyFromRaw(ed25519OfAgent(agent))).toString();
}

const createHuman: ZomeFn = (ctx, payload) => {
  const fn = 'create_human';
  const input = record(fn, payload);
  const agent = ctx.cell[1];
  const displayName = text(fn, input, 'display_name');
  const peerId = text(fn, input, 'peer_id');
  const multiaddrs = list(fn, input, 'multiaddrs');
  const profileReach = optionalText(fn, input, 'profile_reach') ?? 'commons';

  checkLength('display_name', displayName.trim(), 1, 128);
  const expectedPeerId = peerIdOfAgent(agent);
  if (peerId !== expectedPeerId) {
    throw new ValidationError(
      `peer_id must be the PeerId of this agent's own key (${expectedPeerId}), got "${peerId.slice(0, 80)}"`,
    );
  }
  if (multiaddrs.length > MAX_MULTIADDRS) {
    throw new ValidationError(
      `multiaddrs may list at most ${MAX_MULTIADDRS} addresses, got ${multiaddrs.length}`,
    );
  }
  multiaddrs.forEach((addr, i) => {
    if (typeof addr !== 'string') throw new ValidationError(`multiaddrs[${i}] must be a string`);
    checkMultiaddr(`multiaddrs[${i}]`, addr);
  });
  const reach = checkReach('profile_reach', profileReach);

  const existing = ctx.store.stmt('SELECT created_at FROM humans WHERE agent = ?').get(agent) as
    | { created_at: number }
    | undefined;
  const now = Date.now() * 1000;
  const human: Human = {
    agent,
    display_name: displayName,
    peer_id: peerId,
    multiaddrs: multiaddrs as string[],
    profile_reach: reach,
    created_at: existing?.created_at ?? now,
    updated_at: now,
  };
  const committed = commit(ctx, 'Human', { ...human }, agent);
  ctx.store
    .stmt(
      `INSERT INTO humans (agent, display_name, peer_id, multiaddrs, profile_reach, created_at,
         updated_at, action_hash)
       VALUES (@agent, @display_name, @peer_id, @multiaddrs, @profile_reach, @created_at,
         @updated_at, @action_hash)
       ON CONFLICT (agent) DO UPDATE SET display_name = excluded.display_name,
         multiaddrs = excluded.multiaddrs, profile_reach = excluded.profile_reach,
         updated_at = excluded.updated_at, action_hash = excluded.action_hash`,
    )
    .run({
      ...human,
      multiaddrs: JSON.stringify(human.multiaddrs),
      action_hash: committed.actionHash,
    });
  ctx.emitSignal({
    type: 'HumanCommitted',
    payload: {
      action_hash: committed.actionHash,
      entry_hash: committed.entryHash,
      human,
      author: agent,
    },
  });
  return { action_hash: committed.actionHash, human };
};

/** Whether `viewer` has a relationship (either direction) with `owner`. */
function related(ctx: ZomeContext, owner: Uint8Array, viewer: Uint8Array): boolean {
  return (
    ctx.store
      .stmt(
        `SELECT 1 FROM relationships WHERE (initiator = @a AND other_agent = @b)
           OR (initiator = @b AND other_agent = @a) LIMIT 1`,
      )
      .get({ a: owner, b: viewer }) !== undefined
  );
}

/**
 * A profile as the calling agent may see it (DESIGN §7): private ones only to their owner,
 * invited and local ones also to agents in a relationship with the owner, wider ones to all.
 */
const getHuman: ZomeFn = (ctx, payload) => {
  const agent = agentKey('get_human', payload, 'input');
  const row = ctx.store.stmt('SELECT * FROM humans WHERE agent = ?').get(agent) as
    | HumanRow
    | undefined;
  if (!row) return null;
  const viewer = ctx.cell[1];
  if (sameBytes(agent, viewer)) return toHuman(row);
  if (row.profile_reach === 'private') return null;
  if (
    (row.profile_reach === 'invited' || row.profile_reach === 'local') &&
    !related(ctx, agent, viewer)
  ) {
    return null;
  }
  return toHuman(row);
};

const getAgentByPeerId: ZomeFn = (ctx, payload) => {
  if (typeof payload !== 'string') {
    throw new ZomeError(
      'Wasm error while working with Ribosome: Deserialize("get_agent_by_peer_id input: expected the PeerId as a string")',
    );
  }
  const row = ctx.store.stmt('SELECT agent FROM humans WHERE peer_id = ?').get(payload) as
    | { agent: Buffer }
    | undefined;
  return row ? new Uint8Array(row.agent) : null;
};

export interface Relationship {
  initiator: Uint8Array;
  other_agent: Uint8Array;
  relationship_type: string;
  reach: Reach;
  created_at: number;
  updated_at: number;
  action_hash: Uint8Array;
}

interface RelationshipRow {
  initiator: Buffer;
  other_agent: Buffer;
  relationship_type: string;
  reach: Reach;
  created_at: number;
  updated_at: number;
  action_hash: Buffer;
}

function toRelationship(row: RelationshipRow): Relationship {
  return {
    initiator: new Uint8Array(row.initiator),
    other_agent: new Uint8Array(row.other_agent),
    relationship_type: row.relationship_type,
    reach: row.reach,
    created_at: row.created_at,
    updated_at: row.updated_at,
    action_hash: new Uint8Array(row.action_hash),
  };
}

const createRelationship: ZomeFn = (ctx, payload) => {
  const fn = 'create_relationship';
  const input = record(fn, payload);
  const initiator = ctx.cell[1];
  const other = agentKey(fn, input.other_agent, 'other_agent');
  const relationshipType = text(fn, input, 'relationship_type');
  const reach = checkReach('reach', optionalText(fn, input, 'reach') ?? 'invited');
  if (sameBytes(other, initiator)) {
    throw new ValidationError('other_agent must be another agent, not yourself');
  }
  checkPattern(
    'relationship_type',
    relationshipType,
    /^[a-z][a-z0-9_]{0,63}$/,
    'a snake_case word such as friend, family or neighbor',
  );
  const existing = ctx.store
    .stmt(
      'SELECT created_at FROM relationships WHERE initiator = ? AND other_agent = ? AND relationship_type = ?',
    )
    .get(initiator, other, relationshipType) as { created_at: number } | undefined;
  const now = Date.now() * 1000;
  const entry = {
    initiator,
    other_agent: other,
    relationship_type: relationshipType,
    reach,
    created_at: existing?.created_at ?? now,
    updated_at: now,
  };
  const committed = commit(ctx, 'Relationship', entry, initiator);
  ctx.store
    .stmt(
      `INSERT INTO relationships (initiator, other_agent, relationship_type, reach, created_at,
         updated_at, action_hash)
       VALUES (@initiator, @other_agent, @relationship_type, @reach, @created_at, @updated_at,
         @action_hash)
       ON CONFLICT (initiator, other_agent, relationship_type) DO UPDATE SET
         reach = excluded.reach, updated_at = excluded.updated_at,
         action_hash = excluded.action_hash`,
    )
    .run({ ...entry, action_hash: committed.actionHash });
  const relationship: Relationship = { ...entry, action_hash: committed.actionHash };
  ctx.emitSignal({
    type: 'RelationshipCommitted',
    payload: {
      action_hash: committed.actionHash,
      entry_hash: committed.entryHash,
      relationship,
      author: initiator,
    },
  });
  return { action_hash: committed.actionHash, relationship };
};

const getMyRelationships: ZomeFn = (ctx) => {
  const me = ctx.cell[1];
  const rows = ctx.store
    .stmt(
      `SELECT * FROM relationships WHERE initiator = @me OR other_agent = @me
       ORDER BY created_at`,
    )
    .all({ me }) as RelationshipRow[];
  return rows.map(toRelationship);
};

// ---- family clusters: key grants and membership ----

/** The relationship type that puts an agent into the initiator's family cluster (reach `local`). */
export const FAMILY = 'family';

const CLUSTER_ID = /^[A-Za-z0-9_-]{16,64}$/;
/** Printable ASCII: the context is part of a NUL-separated label the grant's wrapping authenticates. */
const GRANT_CONTEXT = /^[\x20-\x7e]{1,128}$/;
/** 12-byte AES-GCM IV and a 32-byte AES key + 16-byte tag, both base64url without padding. */
const GRANT_IV = /^[A-Za-z0-9_-]{16}$/;
const GRANT_WRAPPED_KEY = /^[A-Za-z0-9_-]{64}$/;
const GRANT_VERSION = 1;

/**
 * A cluster key wrapped for one member (src/reach/keys.ts `ClusterKeyGrant`): the granter
 * wrapped the cluster's AES key with the key it shares with the grantee (X25519 + HKDF of
 * their two agent keys and `context`). Safe to publish: only the grantee can unwrap it.
 */
export interface ClusterKeyGrant {
  cluster: string;
  granter: Uint8Array;
  grantee: Uint8Array;
  context: string;
  version: number;
  iv: string;
  wrapped_key: string;
  created_at: number;
  updated_at: number;
  action_hash: Uint8Array;
}

interface ClusterKeyGrantRow {
  cluster: string;
  granter: Buffer;
  grantee: Buffer;
  context: string;
  version: number;
  iv: string;
  wrapped_key: string;
  created_at: number;
  updated_at: number;
  action_hash: Buffer;
}

function toClusterKeyGrant(row: ClusterKeyGrantRow): ClusterKeyGrant {
  return {
    cluster: row.cluster,
    granter: new Uint8Array(row.granter),
    grantee: new Uint8Array(row.grantee),
    context: row.context,
    version: row.version,
    iv: row.iv,
    wrapped_key: row.wrapped_key,
    created_at: row.created_at,
    updated_at: row.updated_at,
    action_hash: new Uint8Array(row.action_hash),
  };
}

/** Whether `owner` has put `member` in its family (a `family` relationship `owner` → `member`). */
function inFamilyOf(ctx: ZomeContext, owner: Uint8Array, member: Uint8Array): boolean {
  return (
    ctx.store
      .stmt(
        'SELECT 1 FROM relationships WHERE initiator = ? AND other_agent = ? AND relationship_type = ?',
      )
      .get(owner, member, FAMILY) !== undefined
  );
}

/**
 * Publishes a cluster key grant for one member of the caller's family. Rules: the grantee is
 * another agent whom the caller has a `family` relationship with (the caller's family is
 * whoever the caller named family, never whoever names the caller); a cluster id belongs to the
 * agent that granted it first; one grant per (cluster, grantee), granting again replaces it.
 * The grantee's app gets a `ClusterKeyGranted` remote signal, the caller's own sockets
 * `ClusterKeyGrantCommitted`.
 */
const grantClusterKey: ZomeFn = (ctx, payload) => {
  const fn = 'grant_cluster_key';
  const input = record(fn, payload);
  const granter = ctx.cell[1];
  const grantee = agentKey(fn, input.grantee, 'grantee');
  const cluster = text(fn, input, 'cluster');
  const context = text(fn, input, 'context');
  const version = integer(fn, input, 'version');
  const iv = text(fn, input, 'iv');
  const wrappedKey = text(fn, input, 'wrapped_key');
  checkPattern('cluster', cluster, CLUSTER_ID, '16 to 64 base64url characters (a random id)');
  checkPattern('context', context, GRANT_CONTEXT, '1 to 128 printable ASCII characters');
  if (version !== GRANT_VERSION) {
    throw new ValidationError(
      `version must be ${GRANT_VERSION} (the grant format), got ${version}`,
    );
  }
  checkPattern('iv', iv, GRANT_IV, '16 base64url characters (a 12-byte AES-GCM IV)');
  checkPattern(
    'wrapped_key',
    wrappedKey,
    GRANT_WRAPPED_KEY,
    '64 base64url characters (a 32-byte AES key wrapped with AES-GCM, tag included)',
  );
  if (sameBytes(grantee, granter)) {
    throw new ValidationError('grantee must be another agent: you hold your own cluster key');
  }
  if (!inFamilyOf(ctx, granter, grantee)) {
    throw new ValidationError(
      "grantee must be in your family: call create_relationship with relationship_type 'family' first",
    );
  }
  const owner = ctx.store
    .stmt('SELECT granter FROM cluster_key_grants WHERE cluster = ? LIMIT 1')
    .get(cluster) as { granter: Buffer } | undefined;
  if (owner && !sameBytes(new Uint8Array(owner.granter), granter)) {
    throw new ValidationError(
      `cluster ${cluster} belongs to another agent: make a new random cluster id for your own`,
    );
  }
  const existing = ctx.store
    .stmt('SELECT created_at FROM cluster_key_grants WHERE cluster = ? AND grantee = ?')
    .get(cluster, grantee) as { created_at: number } | undefined;
  const now = Date.now() * 1000;
  const entry = {
    cluster,
    granter,
    grantee,
    context,
    version,
    iv,
    wrapped_key: wrappedKey,
    created_at: existing?.created_at ?? now,
    updated_at: now,
  };
  const committed = commit(ctx, 'ClusterKeyGrant', entry, granter);
  ctx.store
    .stmt(
      `INSERT INTO cluster_key_grants (cluster, granter, grantee, context, version, iv,
         wrapped_key, created_at, updated_at, action_hash)
       VALUES (@cluster, @granter, @grantee, @context, @version, @iv, @wrapped_key, @created_at,
         @updated_at, @action_hash)
       ON CONFLICT (cluster, grantee) DO UPDATE SET context = excluded.context,
         version = excluded.version, iv = excluded.iv, wrapped_key = excluded.wrapped_key,
         updated_at = excluded.updated_at, action_hash = excluded.action_hash`,
    )
    .run({ ...entry, action_hash: committed.actionHash });
  const grant: ClusterKeyGrant = { ...entry, action_hash: committed.actionHash };
  const signal = {
    action_hash: committed.actionHash,
    entry_hash: committed.entryHash,
    grant,
    author: granter,
  };
  ctx.emitSignal({ type: 'ClusterKeyGrantCommitted', payload: signal });
  ctx.sendRemoteSignal(grantee, { type: 'ClusterKeyGranted', payload: signal });
  return { action_hash: committed.actionHash, grant };
};

/** Grants the caller made or received, oldest change first. */
const getMyClusterKeyGrants: ZomeFn = (ctx) => {
  const me = ctx.cell[1];
  const rows = ctx.store
    .stmt(
      `SELECT * FROM cluster_key_grants WHERE granter = @me OR grantee = @me
       ORDER BY updated_at`,
    )
    .all({ me }) as ClusterKeyGrantRow[];
  return rows.map(toClusterKeyGrant);
};

/**
 * An agent's family cluster: the agents it named family (`members`, oldest first) and the
 * cluster ids it granted keys for. Family is not public: only the owner and its members see
 * it; anyone else gets nil.
 */
const getFamilyCluster: ZomeFn = (ctx, payload) => {
  const owner = agentKey('get_family_cluster', payload, 'input');
  const viewer = ctx.cell[1];
  const members = (
    ctx.store
      .stmt(
        `SELECT other_agent FROM relationships WHERE initiator = ? AND relationship_type = ?
         ORDER BY created_at`,
      )
      .all(owner, FAMILY) as { other_agent: Buffer }[]
  ).map((r) => new Uint8Array(r.other_agent));
  if (!sameBytes(owner, viewer) && !members.some((m) => sameBytes(m, viewer))) return null;
  const clusters = (
    ctx.store
      .stmt(
        `SELECT cluster FROM cluster_key_grants WHERE granter = ? GROUP BY cluster
         ORDER BY MIN(created_at)`,
      )
      .all(owner) as { cluster: string }[]
  ).map((r) => r.cluster);
  return { owner, members, clusters };
};

/**
 * Role → zome → function. `lamad` (content & learning in the Rust project) has a cell but no
 * emulated zomes yet: the web peer keeps content out of the trust layer (DESIGN: WHO HAS WHAT,
 * never WHAT).
 */
export const ZOMES: Readonly<
  Record<RoleName, Readonly<Record<string, Readonly<Record<string, ZomeFn>>>>>
> = {
  lamad: {},
  infrastructure: {
    infrastructure: {
      register_content_server: registerContentServer,
      mark_content_server_offline: markContentServerOffline,
      find_publishers: findPublishers,
      get_my_content_servers: getMyContentServers,
      register_doorway: registerDoorway,
      update_doorway: updateDoorway,
      get_doorway_by_id: getDoorwayById,
    },
  },
  imagodei: {
    imagodei: {
      create_human: createHuman,
      get_human: getHuman,
      get_agent_by_peer_id: getAgentByPeerId,
      create_relationship: createRelationship,
      get_my_relationships: getMyRelationships,
      grant_cluster_key: grantClusterKey,
      get_my_cluster_key_grants: getMyClusterKeyGrants,
      get_family_cluster: getFamilyCluster,
    },
  },
};
