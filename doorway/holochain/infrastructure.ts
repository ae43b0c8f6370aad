import {
  CAPABILITY_PATTERN,
  type ContentServerWire,
  type DoorwayRegistrationWire,
  type EndpointWire,
  MAX_ENDPOINTS,
} from '../../src/wire/index.ts';
import { hashToB64, sameBytes } from './hash.ts';
import {
  checkContentHash,
  checkLength,
  checkPattern,
  checkRange,
  checkReach,
  checkUrl,
  list,
  optionalBoolean,
  optionalInteger,
  optionalText,
  record,
  text,
} from './validation.ts';
import { ValidationError, ZomeError } from './wire.ts';
import { commit, type RowOf, type ZomeContext, type ZomeFn } from './zome-context.ts';

/**
 * The `infrastructure` zome: who holds which content (content servers) and which doorways
 * exist. Names and payloads follow the Rust DNA (snake_case fields, `Option` as nil).
 */

const DEFAULT_PRIORITY = 50;
const DEFAULT_FIND_LIMIT = 10;
const MAX_FIND_LIMIT = 1000;

/** A `content_servers` row: endpoints as JSON text, online as 0/1. */
type ContentServerRow = Omit<RowOf<ContentServerWire>, 'endpoints' | 'online'> & {
  endpoints: string;
  online: number;
};

function toContentServer(row: ContentServerRow): ContentServerWire {
  return {
    content_hash: row.content_hash,
    capability: row.capability,
    endpoints: JSON.parse(row.endpoints) as EndpointWire[],
    online: row.online === 1,
    priority: row.priority,
    region: row.region,
    agent: new Uint8Array(row.agent),
    updated_at: row.updated_at,
  };
}

function readEndpoints(fn: string, input: Record<string, unknown>): EndpointWire[] {
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

function writeContentServer(ctx: ZomeContext, server: ContentServerWire) {
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

export const registerContentServer: ZomeFn<'register_content_server'> = (ctx, payload) => {
  const fn = 'register_content_server';
  const input = record(fn, payload);
  const server: ContentServerWire = {
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
    CAPABILITY_PATTERN,
    'a lowercase name such as blob_serving (letters, digits, _ and -)',
  );
  checkRange('priority', server.priority, 0, 255);
  if (server.region != null) checkLength('region', server.region, 1, 64);
  return writeContentServer(ctx, server);
};

export const markContentServerOffline: ZomeFn<'mark_content_server_offline'> = (ctx, payload) => {
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

export const findPublishers: ZomeFn<'find_publishers'> = (ctx, payload) => {
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

export const getMyContentServers: ZomeFn<'get_my_content_servers'> = (ctx) => {
  const rows = ctx.store
    .stmt('SELECT * FROM content_servers WHERE agent = ? ORDER BY updated_at DESC')
    .all(ctx.cell[1]) as ContentServerRow[];
  return rows.map(toContentServer);
};

/** A `doorways` row: the operator as its key bytes, times in µs, and the action that wrote it. */
type DoorwayRow = Omit<
  DoorwayRegistrationWire,
  'operator_agent' | 'operator_human' | 'registered_at' | 'updated_at'
> & { operator: Buffer; registered_at: number; updated_at: number; action_hash: Buffer };

function toDoorwayOutput(row: DoorwayRow) {
  const doorway: DoorwayRegistrationWire = {
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

export const registerDoorway: ZomeFn<'register_doorway'> = (ctx, payload) => {
  const input = readDoorwayInput('register_doorway', payload);
  if (doorwayRow(ctx, input.id)) {
    throw new ZomeError(
      `Doorway with ID '${input.id}' already exists (its operator changes it with update_doorway)`,
    );
  }
  return writeDoorway(ctx, input, Date.now() * 1000, 'Emerging');
};

export const updateDoorway: ZomeFn<'update_doorway'> = (ctx, payload) => {
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

export const getDoorwayById: ZomeFn<'get_doorway_by_id'> = (ctx, payload) => {
  if (typeof payload !== 'string') {
    throw new ZomeError(
      'Wasm error while working with Ribosome: Deserialize("get_doorway_by_id input: expected the doorway id as a string")',
    );
  }
  const row = doorwayRow(ctx, payload);
  return row ? toDoorwayOutput(row) : null;
};

// ---- issue 16 (federation): how doorways learn of each other from the trust layer.

/** Registrations `get_all_doorways` answers at most: the newest, so a flood cannot grow it. */
export const MAX_ALL_DOORWAYS = 256;

export const getAllDoorways: ZomeFn<'get_all_doorways'> = (ctx) => {
  const rows = ctx.store
    .stmt('SELECT * FROM doorways ORDER BY updated_at DESC LIMIT ?')
    .all(MAX_ALL_DOORWAYS) as DoorwayRow[];
  return rows.map(toDoorwayOutput);
};
