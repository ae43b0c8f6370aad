import {
  CLUSTER_ID_PATTERN,
  type ClusterKeyGrantWire,
  GRANT_VERSION,
} from '../../src/wire/index.ts';
import { sameBytes } from './hash.ts';
import { FAMILY, hasLinkTo } from './imagodei.ts';
import { agentKey, checkPattern, integer, record, text } from './validation.ts';
import { ValidationError } from './wire.ts';
import { commit, recordsOfCaller, type ZomeContext, type ZomeFn } from './zome-context.ts';

/**
 * The `imagodei` zome's family clusters: cluster key grants and who is in whose family. A
 * person's family is whoever THEY named `family` (their relationships), never whoever names them.
 */

/** Printable ASCII: the context is part of a NUL-separated label the grant's wrapping authenticates. */
const GRANT_CONTEXT = /^[\x20-\x7e]{1,128}$/;
/** 12-byte AES-GCM IV and a 32-byte AES key + 16-byte tag, both base64url without padding. */
const GRANT_IV = /^[A-Za-z0-9_-]{16}$/;
const GRANT_WRAPPED_KEY = /^[A-Za-z0-9_-]{64}$/;

/** Whether `owner` has put `member` in its family (a `family` relationship `owner` → `member`). */
function inFamilyOf(ctx: ZomeContext, owner: Uint8Array, member: Uint8Array): boolean {
  return hasLinkTo(ctx, owner, member, FAMILY);
}

/**
 * Publishes a cluster key grant for one member of the caller's family. Rules: the grantee is
 * another agent whom the caller has a `family` relationship with (the caller's family is
 * whoever the caller named family, never whoever names the caller); a cluster id belongs to the
 * agent that granted it first; one grant per (cluster, grantee), granting again replaces it.
 * The grantee's app gets a `ClusterKeyGranted` remote signal, the caller's own sockets
 * `ClusterKeyGrantCommitted`.
 */
export const grantClusterKey: ZomeFn<'grant_cluster_key'> = (ctx, payload) => {
  const fn = 'grant_cluster_key';
  const input = record(fn, payload);
  const granter = ctx.cell[1];
  const grantee = agentKey(fn, input.grantee, 'grantee');
  const cluster = text(fn, input, 'cluster');
  const context = text(fn, input, 'context');
  const version = integer(fn, input, 'version');
  const iv = text(fn, input, 'iv');
  const wrappedKey = text(fn, input, 'wrapped_key');
  checkPattern(
    'cluster',
    cluster,
    CLUSTER_ID_PATTERN,
    '16 to 64 base64url characters (a random id)',
  );
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
  const grant: ClusterKeyGrantWire = { ...entry, action_hash: committed.actionHash };
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
export const getMyClusterKeyGrants: ZomeFn<'get_my_cluster_key_grants'> = (ctx) =>
  recordsOfCaller<ClusterKeyGrantWire>(
    ctx,
    'cluster_key_grants',
    ['granter', 'grantee'],
    'updated_at',
  );

/**
 * An agent's family cluster: the agents it named family (`members`, oldest first) and the
 * cluster ids it granted keys for. Family is not public: only the owner and its members see
 * it; anyone else gets nil.
 */
export const getFamilyCluster: ZomeFn<'get_family_cluster'> = (ctx, payload) => {
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
