import { publicKeyFromRaw } from '@libp2p/crypto/keys';
import { peerIdFromPublicKey } from '@libp2p/peer-id';
import { ed25519OfAgent, sameBytes } from './hash.ts';
import {
  agentKey,
  checkLength,
  checkMultiaddr,
  checkPattern,
  checkReach,
  list,
  MAX_MULTIADDRS,
  optionalText,
  type Reach,
  record,
  text,
} from './validation.ts';
import { ValidationError, ZomeError } from './wire.ts';
import { commit, type ZomeContext, type ZomeFn } from './zome-context.ts';

/**
 * The `imagodei` zome's people: profiles (`Human`) and the relationships agents make. Who may
 * read a profile is decided by the links its OWNER made, never by links others made to the
 * owner (README.md, "Who may read what").
 */

export interface Human {
  agent: Uint8Array;
  display_name: string;
  /** libp2p PeerId of the agent's Ed25519 key (docs/design.md §2: the same key). */
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

export const createHuman: ZomeFn = (ctx, payload) => {
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

/** The relationship type that puts an agent into the initiator's family cluster (reach `local`). */
export const FAMILY = 'family';

/**
 * Whether `owner` made a relationship to `other` (of `type` when given). Only the owner's own
 * links count: anyone can name anyone a friend, which must not let them into the owner's reach.
 */
export function hasLinkTo(
  ctx: ZomeContext,
  owner: Uint8Array,
  other: Uint8Array,
  type?: string,
): boolean {
  return (
    ctx.store
      .stmt(
        `SELECT 1 FROM relationships WHERE initiator = @owner AND other_agent = @other
           AND (@type IS NULL OR relationship_type = @type) LIMIT 1`,
      )
      .get({ owner, other, type: type ?? null }) !== undefined
  );
}

/**
 * Whether `reader` may read the profile `owner` published at `reach` (docs/design.md §7): the owner
 * always; `private` nobody else; `invited` the agents the owner made any relationship to;
 * `local` the owner's family (agents the owner named `family`); wider reaches everyone.
 */
function mayReadProfile(
  ctx: ZomeContext,
  owner: Uint8Array,
  reach: Reach,
  reader: Uint8Array,
): boolean {
  if (sameBytes(owner, reader)) return true;
  switch (reach) {
    case 'private':
      return false;
    case 'invited':
      return hasLinkTo(ctx, owner, reader);
    case 'local':
      return hasLinkTo(ctx, owner, reader, FAMILY);
    default:
      return true;
  }
}

/** A profile, or nil when there is none or the calling agent may not read it. */
export const getHuman: ZomeFn = (ctx, payload) => {
  const agent = agentKey('get_human', payload, 'input');
  const row = ctx.store.stmt('SELECT * FROM humans WHERE agent = ?').get(agent) as
    | HumanRow
    | undefined;
  if (!row || !mayReadProfile(ctx, agent, row.profile_reach, ctx.cell[1])) return null;
  return toHuman(row);
};

/**
 * The agent behind a PeerId, or nil — also when its profile is one the caller may not read, so
 * the answer never tells whether a private profile exists.
 */
export const getAgentByPeerId: ZomeFn = (ctx, payload) => {
  if (typeof payload !== 'string') {
    throw new ZomeError(
      'Wasm error while working with Ribosome: Deserialize("get_agent_by_peer_id input: expected the PeerId as a string")',
    );
  }
  const row = ctx.store
    .stmt('SELECT agent, profile_reach FROM humans WHERE peer_id = ?')
    .get(payload) as { agent: Buffer; profile_reach: Reach } | undefined;
  if (!row) return null;
  const agent = new Uint8Array(row.agent);
  return mayReadProfile(ctx, agent, row.profile_reach, ctx.cell[1]) ? agent : null;
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

export const createRelationship: ZomeFn = (ctx, payload) => {
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

export const getMyRelationships: ZomeFn = (ctx) => {
  const me = ctx.cell[1];
  const rows = ctx.store
    .stmt(
      `SELECT * FROM relationships WHERE initiator = @me OR other_agent = @me
       ORDER BY created_at`,
    )
    .all({ me }) as RelationshipRow[];
  return rows.map(toRelationship);
};
