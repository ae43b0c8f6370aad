/**
 * The `infrastructure` zome as the page uses it: announcing what this device holds
 * (`register_content_server`, `mark_content_server_offline`), finding who else holds a hash
 * (`find_publishers`) and listing this agent's own announcements.
 *
 * The trust layer keeps one record per agent and hash, but a person may hold an item on
 * several devices (docs/design.md §2). Each device's endpoints name its own PeerId, so a
 * device writing the record keeps the endpoints of the person's other devices and replaces
 * only its own, and a device letting go of an item takes only its own endpoints out. Readers
 * believe an endpoint naming another PeerId than the agent's only when that PeerId is a
 * device the agent certified.
 */
import { encodeHashToBase64 } from '@holochain/client';
import { publicKeyFromRaw } from '@libp2p/crypto/keys';
import { peerIdFromPublicKey, peerIdFromString } from '@libp2p/peer-id';
import { multiaddr } from '@multiformats/multiaddr';
import { parseContentHash } from '../content/index.ts';
import { type AgentKey, agentKeyOfPeer, ed25519FromAgentKey } from '../reach/index.ts';
import {
  CAPABILITY_PATTERN,
  type ContentServerWire,
  type EndpointWire,
  MAX_ENDPOINTS,
  type RegisterContentServerInput,
} from '../wire/index.ts';
import { TrustInputError, TrustRefusedError } from './errors.ts';
import type { OutboxOp } from './outbox.ts';
import type {
  AnnounceInput,
  Announcement,
  CallOptions,
  FindHoldersOptions,
  TrustHolder,
} from './types.ts';
import { ms, myRecords, type ZomeCalls } from './zome.ts';

const DEFAULT_CAPABILITY = 'blob_serving';

export function sameAddresses(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x) => b.includes(x));
}

/** `multiaddrs` if the trust layer would take them as this device's addresses. */
export function checkMultiaddrs(multiaddrs: readonly string[]): string[] {
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

/** The outbox change announcing `hash`, checked first. */
export function announceOp(hash: string, input: AnnounceInput): OutboxOp {
  const capability = input.capability ?? DEFAULT_CAPABILITY;
  if (!CAPABILITY_PATTERN.test(capability)) {
    throw new TrustInputError(
      `"${capability}" is not a capability name: lowercase letters, digits, _ and -, such as blob_serving.`,
    );
  }
  if (input.multiaddrs?.length === 0) {
    throw new TrustInputError(
      'Announce at least one address, or leave multiaddrs out to use the ones given to setAddresses.',
    );
  }
  return {
    kind: 'announce',
    hash: parseContentHash(hash),
    capability,
    ...(input.multiaddrs ? { multiaddrs: checkMultiaddrs(input.multiaddrs) } : {}),
    ...(input.priority !== undefined ? { priority: input.priority } : {}),
    ...(input.region !== undefined ? { region: input.region } : {}),
  };
}

/** Who writes this agent's records: its agent, this device, and the person's other devices. */
export interface Announcer {
  me: AgentKey;
  /** The agent key's PeerId: an endpoint naming no PeerId is its. */
  agentPeer: string;
  /** This device's PeerId. */
  peerId: string;
  /** The PeerIds of the person's other devices in force (the first device's is the agent's). */
  otherDevices: ReadonlySet<string>;
}

/** The PeerId an agent key is, as text. */
export function peerIdOfAgent(agent: AgentKey): string {
  return peerIdFromPublicKey(publicKeyFromRaw(ed25519FromAgentKey(agent))).toString();
}

/**
 * The PeerId a libp2p endpoint names (its last `/p2p/`), or `agentPeer` when it names none;
 * undefined when it is not a multiaddr.
 */
function endpointPeer(url: string, agentPeer: string): string | undefined {
  try {
    return (
      multiaddr(url)
        .getComponents()
        .findLast((c) => c.name === 'p2p')?.value ?? agentPeer
    );
  } catch {
    return undefined;
  }
}

/**
 * A record's endpoints with this device's replaced by `addresses`: other protocols' endpoints
 * kept, and those of the person's other devices in force; a removed device's go.
 */
export function mergeEndpoints(
  existing: readonly EndpointWire[],
  addresses: readonly string[],
  who: Announcer,
): Endpoints {
  const kept = existing.filter((e) => {
    if (e.protocol !== 'libp2p') return true;
    const peer = endpointPeer(e.url, who.agentPeer);
    return peer !== undefined && peer !== who.peerId && who.otherDevices.has(peer);
  });
  return [...addresses.map((url) => ({ url, protocol: 'libp2p' })), ...kept].slice(
    0,
    MAX_ENDPOINTS,
  );
}

/** Whether this device has a libp2p endpoint in `endpoints`. */
function namesDevice(endpoints: readonly EndpointWire[], who: Announcer): boolean {
  return endpoints.some(
    (e) => e.protocol === 'libp2p' && endpointPeer(e.url, who.agentPeer) === who.peerId,
  );
}

/** Room for every holder of a hash the trust layer lists in one answer (its own cap). */
const OWN_RECORD_SEARCH = 1000;

/** This agent's record for `hash` (any capability), online or not. */
async function myRecord(
  zome: ZomeCalls,
  me: AgentKey,
  hash: string,
): Promise<ContentServerWire | undefined> {
  const servers = await zome.call('find_publishers', {
    content_hash: hash,
    limit: OWN_RECORD_SEARCH,
    online_only: false,
  });
  return servers.find((s) => encodeHashToBase64(s.agent) === me);
}

type Endpoints = RegisterContentServerInput['endpoints'];

/** Writes `record` again with `endpoints`, its capability, priority and region kept. */
async function rewrite(
  zome: ZomeCalls,
  record: Pick<ContentServerWire, 'content_hash' | 'capability' | 'priority' | 'region'>,
  endpoints: Endpoints,
): Promise<void> {
  await zome.call('register_content_server', {
    content_hash: record.content_hash,
    capability: record.capability,
    endpoints,
    priority: record.priority,
    ...(record.region !== null ? { region: record.region } : {}),
  });
}

export async function sendAnnounce(
  zome: ZomeCalls,
  op: Extract<OutboxOp, { kind: 'announce' }>,
  addresses: readonly string[],
  who: Announcer,
): Promise<void> {
  const mine = op.multiaddrs ?? addresses;
  let endpoints: Endpoints = mine.map((url) => ({ url, protocol: 'libp2p' }));
  if (who.otherDevices.size > 0) {
    // Another of the person's devices may hold it too: its endpoints stay.
    const current = await myRecord(zome, who.me, op.hash);
    if (current?.online) endpoints = mergeEndpoints(current.endpoints, mine, who);
  }
  await zome.call('register_content_server', {
    content_hash: op.hash,
    capability: op.capability,
    endpoints,
    ...(op.priority !== undefined ? { priority: op.priority } : {}),
    ...(op.region !== undefined ? { region: op.region } : {}),
  });
}

export async function sendWithdraw(
  zome: ZomeCalls,
  op: Extract<OutboxOp, { kind: 'withdraw' }>,
  who: Announcer,
): Promise<void> {
  if (who.otherDevices.size > 0) {
    // The person's other devices that hold it still do: only this device's endpoints go.
    const current = await myRecord(zome, who.me, op.hash);
    const rest = current?.online ? mergeEndpoints(current.endpoints, [], who) : [];
    if (current && rest.some((e) => e.protocol === 'libp2p')) {
      await rewrite(zome, current, rest);
      return;
    }
  }
  try {
    await zome.call('mark_content_server_offline', { content_hash: op.hash });
  } catch (error) {
    // Withdrawing what was never announced (its announce was replaced while queued) leaves
    // nothing to do; any other refusal stands.
    if (!(error instanceof TrustRefusedError)) throw error;
    if ((await myAnnouncements(zome)).some((a) => a.hash === op.hash)) throw error;
  }
}

/**
 * Points this device's endpoints in every online announcement at `addresses`. With other
 * devices, only the records naming this one change (the others' items are not this one's).
 */
export async function readdressAnnouncements(
  zome: ZomeCalls,
  addresses: readonly string[],
  who: Announcer,
): Promise<void> {
  for (const a of await myAnnouncements(zome)) {
    if (!a.online) continue;
    if (who.otherDevices.size > 0 && !namesDevice(a.endpoints, who)) continue;
    const endpoints = mergeEndpoints(a.endpoints, addresses, who);
    const before = a.endpoints.filter((e) => e.protocol === 'libp2p').map((e) => e.url);
    const after = endpoints.filter((e) => e.protocol === 'libp2p').map((e) => e.url);
    if (sameAddresses(before, after)) continue;
    await rewrite(zome, { ...a, content_hash: a.hash }, endpoints);
  }
}

/** Which agent a device key speaks for (`DeviceDirectory.agentOfDevice`). */
export type DeviceResolver = (device: AgentKey) => Promise<AgentKey>;

/**
 * Peers announcing `hash` (online), most preferred first: one holder per PeerId a record names,
 * the agent's own or a device it certified; this device left out, the person's other devices
 * not.
 */
export async function findHolders(
  zome: ZomeCalls,
  peerId: string,
  agentOf: DeviceResolver,
  hash: string,
  options: FindHoldersOptions,
): Promise<TrustHolder[]> {
  const limit = options.limit ?? 10;
  const servers = await zome.call(
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
    for (const holder of await holdersOf(server, agentOf)) {
      if (holder.peerId.toString() !== peerId) holders.push(holder);
    }
  }
  return holders.slice(0, limit);
}

/**
 * A record's dialable holders: its libp2p endpoints grouped by the PeerId they name (none: the
 * agent's own). An endpoint naming a PeerId that is neither the agent nor a device it
 * certified would make us dial someone else: it is dropped.
 */
async function holdersOf(server: ContentServerWire, agentOf: DeviceResolver) {
  const agent = encodeHashToBase64(server.agent);
  let agentPeer: string;
  try {
    agentPeer = peerIdOfAgent(agent);
  } catch {
    return [];
  }
  const byPeer = new Map<string, string[]>();
  for (const endpoint of [...server.endpoints].sort((a, b) => b.priority - a.priority)) {
    if (endpoint.protocol !== 'libp2p') continue;
    const peer = endpointPeer(endpoint.url, agentPeer);
    if (peer === undefined) continue;
    const address = multiaddr(endpoint.url);
    const named = address.getComponents().some((c) => c.name === 'p2p');
    const list = byPeer.get(peer) ?? [];
    list.push(named ? address.toString() : address.encapsulate(`/p2p/${peer}`).toString());
    byPeer.set(peer, list);
  }
  const holders: TrustHolder[] = [];
  for (const [peer, multiaddrs] of byPeer) {
    if (peer !== agentPeer && !(await isDeviceOf(peer, agent, agentOf))) continue;
    holders.push({
      peerId: peerIdFromString(peer),
      agent,
      multiaddrs,
      capability: server.capability,
      priority: server.priority,
      region: server.region,
      updatedAt: ms(server.updated_at),
    });
  }
  return holders;
}

async function isDeviceOf(peer: string, agent: AgentKey, agentOf: DeviceResolver) {
  let device: AgentKey | undefined;
  try {
    device = agentKeyOfPeer(peerIdFromString(peer));
  } catch {
    return false;
  }
  return device !== undefined && (await agentOf(device)) === agent;
}

export function myAnnouncements(zome: ZomeCalls, options: CallOptions = {}, who?: Announcer) {
  return myRecords(
    zome,
    'get_my_content_servers',
    (s): Announcement => ({
      hash: s.content_hash,
      thisDevice: who ? namesDevice(s.endpoints, who) : false,
      capability: s.capability,
      endpoints: s.endpoints,
      online: s.online,
      priority: s.priority,
      region: s.region,
      updatedAt: ms(s.updated_at),
    }),
    options,
  );
}
