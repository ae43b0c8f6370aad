/**
 * The `imagodei` zome's people as the page uses them: this agent's profile (`create_human`),
 * profiles of others (`get_human`) and relationships (`create_relationship`,
 * `get_my_relationships`).
 */
import { decodeHashFromBase64, encodeHashToBase64 } from '@holochain/client';
import type { Reach } from '../content/index.ts';
import { type AgentKey, ed25519FromAgentKey } from '../reach/index.ts';
import { MAX_DISPLAY_NAME, type RelationshipWire } from '../wire/index.ts';
import { checkMultiaddrs, sameAddresses } from './content-servers.ts';
import { TrustInputError } from './errors.ts';
import type { OutboxOp } from './outbox.ts';
import type { CallOptions, RegisterAgentInput, TrustHuman, TrustRelationship } from './types.ts';
import { ms, myRecords, type ZomeCalls } from './zome.ts';

/** The outbox change registering this agent's profile, checked first. */
export function registerOp(input: RegisterAgentInput, peerId: string): OutboxOp {
  const name = input.display_name.trim();
  if (name.length === 0 || name.length > MAX_DISPLAY_NAME) {
    throw new TrustInputError(`A display name has 1 to ${MAX_DISPLAY_NAME} characters.`);
  }
  if (input.peer_id !== undefined && input.peer_id !== peerId) {
    throw new TrustInputError(
      `peer_id must be this device's own PeerId (${peerId}): the trust layer binds the agent to its own key.`,
    );
  }
  return {
    kind: 'register',
    display_name: name,
    ...(input.multiaddrs ? { multiaddrs: checkMultiaddrs(input.multiaddrs) } : {}),
    ...(input.profile_reach ? { profile_reach: input.profile_reach } : {}),
  };
}

export async function sendRegister(
  zome: ZomeCalls,
  op: Extract<OutboxOp, { kind: 'register' }>,
  peerId: string,
  addresses: readonly string[],
): Promise<void> {
  await zome.call('create_human', {
    display_name: op.display_name,
    peer_id: peerId,
    multiaddrs: [...(op.multiaddrs ?? addresses)],
    ...(op.profile_reach ? { profile_reach: op.profile_reach } : {}),
  });
}

/** Points this agent's profile, if it has one, at `addresses`. */
export async function readdressProfile(
  zome: ZomeCalls,
  me: AgentKey,
  peerId: string,
  addresses: readonly string[],
): Promise<void> {
  const human = await getHuman(zome, me);
  if (human && !sameAddresses(human.multiaddrs, addresses)) {
    await zome.call('create_human', {
      display_name: human.displayName,
      peer_id: peerId,
      multiaddrs: [...addresses],
      profile_reach: human.profileReach,
    });
  }
}

export async function getHuman(
  zome: ZomeCalls,
  agent: AgentKey,
  options: CallOptions = {},
): Promise<TrustHuman | undefined> {
  ed25519FromAgentKey(agent);
  const human = await zome.call('get_human', decodeHashFromBase64(agent), options.signal);
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

export async function createRelationship(
  zome: ZomeCalls,
  me: AgentKey,
  otherAgent: AgentKey,
  type: string,
  options: CallOptions & { reach?: Reach },
): Promise<TrustRelationship> {
  ed25519FromAgentKey(otherAgent);
  if (otherAgent === me) {
    throw new TrustInputError('A relationship needs another agent: this is your own key.');
  }
  const out = await zome.call(
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

export function myRelationships(zome: ZomeCalls, options: CallOptions) {
  return myRecords(zome, 'get_my_relationships', toRelationship, options);
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
