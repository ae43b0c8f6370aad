/**
 * The `imagodei` zome's family clusters as the page uses them: publishing a cluster key grant
 * made by src/reach (`grant_cluster_key`), listing the grants made and received, and asking
 * for an agent's family cluster (README.md, "Family cluster key grants").
 */
import { decodeHashFromBase64, encodeHashToBase64 } from '@holochain/client';
import { type AgentKey, type ClusterKeyGrant, ed25519FromAgentKey } from '../reach/index.ts';
import { CLUSTER_ID_PATTERN, GRANT_VERSION } from '../wire/index.ts';
import { TrustInputError } from './errors.ts';
import type { OutboxOp } from './outbox.ts';
import type { CallOptions, TrustClusterGrant, TrustFamilyCluster } from './types.ts';
import { ms, myRecords, type ZomeCalls } from './zome.ts';

/** The outbox change publishing `grant`, made by `me` for another member; checked first. */
export function grantOp(grant: ClusterKeyGrant, me: AgentKey): OutboxOp {
  if (grant.v !== GRANT_VERSION) {
    throw new TrustInputError(
      `This app publishes cluster key grants of version ${GRANT_VERSION}, not ${String(grant.v)}: make it with grantClusterKey from src/reach.`,
    );
  }
  if (grant.from !== me) {
    throw new TrustInputError(
      `A grant published here must be made by this device (${me}), not by ${grant.from}.`,
    );
  }
  ed25519FromAgentKey(grant.to);
  if (grant.to === me) {
    throw new TrustInputError('A cluster key is granted to another member, not to yourself.');
  }
  if (!CLUSTER_ID_PATTERN.test(grant.cluster)) {
    throw new TrustInputError(
      `"${grant.cluster.slice(0, 80)}" is not a cluster id: 16 to 64 base64url characters, e.g. 16 random bytes.`,
    );
  }
  const { cluster, from, to, context, iv, key } = grant;
  return { kind: 'grant', grant: { v: 1, cluster, from, to, context, iv, key } };
}

export async function sendGrant(
  zome: ZomeCalls,
  op: Extract<OutboxOp, { kind: 'grant' }>,
): Promise<void> {
  await zome.call('grant_cluster_key', {
    cluster: op.grant.cluster,
    grantee: decodeHashFromBase64(op.grant.to),
    context: op.grant.context,
    version: op.grant.v,
    iv: op.grant.iv,
    wrapped_key: op.grant.key,
  });
}

/** Grants made and received; grants in a format this app cannot read are left out. */
export function myClusterKeyGrants(zome: ZomeCalls, options: CallOptions) {
  return myRecords(
    zome,
    'get_my_cluster_key_grants',
    (g): TrustClusterGrant | undefined =>
      g.version === GRANT_VERSION
        ? {
            grant: {
              v: GRANT_VERSION,
              cluster: g.cluster,
              from: encodeHashToBase64(g.granter),
              to: encodeHashToBase64(g.grantee),
              context: g.context,
              iv: g.iv,
              key: g.wrapped_key,
            },
            updatedAt: ms(g.updated_at),
          }
        : undefined,
    options,
  );
}

export async function familyCluster(
  zome: ZomeCalls,
  owner: AgentKey,
  options: CallOptions,
): Promise<TrustFamilyCluster | undefined> {
  ed25519FromAgentKey(owner);
  const out = await zome.call('get_family_cluster', decodeHashFromBase64(owner), options.signal);
  return out
    ? {
        owner: encodeHashToBase64(out.owner),
        members: out.members.map((m) => encodeHashToBase64(m)),
        clusters: out.clusters,
      }
    : undefined;
}
