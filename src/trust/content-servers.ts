/**
 * The `infrastructure` zome as the page uses it: announcing what this device holds
 * (`register_content_server`, `mark_content_server_offline`), finding who else holds a hash
 * (`find_publishers`) and listing this agent's own announcements.
 */
import { encodeHashToBase64 } from '@holochain/client';
import { publicKeyFromRaw } from '@libp2p/crypto/keys';
import { peerIdFromPublicKey } from '@libp2p/peer-id';
import { multiaddr } from '@multiformats/multiaddr';
import { parseContentHash } from '../content/index.ts';
import { ed25519FromAgentKey } from '../reach/index.ts';
import { CAPABILITY_PATTERN, type ContentServerWire, MAX_ENDPOINTS } from '../wire/index.ts';
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

export async function sendAnnounce(
  zome: ZomeCalls,
  op: Extract<OutboxOp, { kind: 'announce' }>,
  addresses: readonly string[],
): Promise<void> {
  await zome.call('register_content_server', {
    content_hash: op.hash,
    capability: op.capability,
    endpoints: (op.multiaddrs ?? addresses).map((url) => ({ url, protocol: 'libp2p' })),
    ...(op.priority !== undefined ? { priority: op.priority } : {}),
    ...(op.region !== undefined ? { region: op.region } : {}),
  });
}

export async function sendWithdraw(
  zome: ZomeCalls,
  op: Extract<OutboxOp, { kind: 'withdraw' }>,
): Promise<void> {
  try {
    await zome.call('mark_content_server_offline', { content_hash: op.hash });
  } catch (error) {
    // Withdrawing what was never announced (its announce was replaced while queued) leaves
    // nothing to do; any other refusal stands.
    if (!(error instanceof TrustRefusedError)) throw error;
    if ((await myAnnouncements(zome)).some((a) => a.hash === op.hash)) throw error;
  }
}

/** Points every online announcement at `addresses` (other protocols' endpoints kept). */
export async function readdressAnnouncements(
  zome: ZomeCalls,
  addresses: readonly string[],
): Promise<void> {
  for (const a of await myAnnouncements(zome)) {
    const libp2p = a.endpoints.filter((e) => e.protocol === 'libp2p').map((e) => e.url);
    if (!a.online || sameAddresses(libp2p, addresses)) continue;
    await zome.call('register_content_server', {
      content_hash: a.hash,
      capability: a.capability,
      endpoints: [
        ...a.endpoints.filter((e) => e.protocol !== 'libp2p'),
        ...addresses.map((url) => ({ url, protocol: 'libp2p' })),
      ].slice(0, MAX_ENDPOINTS),
      priority: a.priority,
      ...(a.region !== null ? { region: a.region } : {}),
    });
  }
}

/** Other agents announcing `hash` (online), most preferred first; `me`'s own record left out. */
export async function findHolders(
  zome: ZomeCalls,
  me: string,
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
    const holder = holderOf(server);
    if (holder && holder.agent !== me) holders.push(holder);
  }
  return holders.slice(0, limit);
}

/** A record as a dialable holder; undefined when its agent key is not a valid Ed25519 agent. */
function holderOf(server: ContentServerWire): TrustHolder | undefined {
  const agent = encodeHashToBase64(server.agent);
  let peerId: TrustHolder['peerId'];
  try {
    peerId = peerIdFromPublicKey(publicKeyFromRaw(ed25519FromAgentKey(agent)));
  } catch {
    return undefined;
  }
  const id = peerId.toString();
  const multiaddrs: string[] = [];
  for (const endpoint of [...server.endpoints].sort((a, b) => b.priority - a.priority)) {
    if (endpoint.protocol !== 'libp2p') continue;
    try {
      const address = multiaddr(endpoint.url);
      const named = address.getComponents().findLast((c) => c.name === 'p2p')?.value;
      // An address naming another peer would make us dial someone else: skip it.
      if (named === undefined) multiaddrs.push(address.encapsulate(`/p2p/${id}`).toString());
      else if (named === id) multiaddrs.push(address.toString());
    } catch {
      // Not a multiaddr: nothing we can dial.
    }
  }
  return {
    peerId,
    agent,
    multiaddrs,
    capability: server.capability,
    priority: server.priority,
    region: server.region,
    updatedAt: ms(server.updated_at),
  };
}

export function myAnnouncements(zome: ZomeCalls, options: CallOptions = {}) {
  return myRecords(
    zome,
    'get_my_content_servers',
    (s): Announcement => ({
      hash: s.content_hash,
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
