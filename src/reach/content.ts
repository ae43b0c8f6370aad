/**
 * Reach applied to the content store: storing an item at its reach (sealing it first when
 * that reach is encrypted at rest), opening it again, and the delivery gate for the shard
 * server. The store itself knows nothing of keys: a sealed item is an ordinary blob whose
 * manifest type says it is sealed and what it holds.
 */
import type { ContentHash, ContentStore, PutOptions, StoredManifest } from '../content/index.ts';
import { type AgentKey, agentKeyOfPeer, type PeerIdLike } from './agent.ts';
import { concat } from './bytes.ts';
import type { ClusterKey } from './cluster-keys.ts';
import { NoFamilyClusterError } from './errors.ts';
import { type DeviceKey, derivePersonKey, deriveRelationshipKey } from './keys.ts';
import { isSealed, sealedMime } from './mime.ts';
import { isEncryptedAtRest, mayDeliver, type Reach, type TrustView } from './policy.ts';
import { type Keyring, parseSealedHeader, type Recipient, seal, unseal } from './sealed.ts';

/**
 * The `context` of every relationship key an invited item is sealed with (the slot label
 * carries it, so a recipient derives the same key from the header alone). One fixed string
 * rather than the trust layer's relationship id: the recipient's service worker opens the item
 * with nothing but its identity key and the header, offline, and an item stays readable when
 * the relationship record is re-made. Changing it makes a new key for every pair: bump the
 * version, never reuse it.
 */
export const INVITED_CONTEXT = 'elohim-invited-v1';
/**
 * The `context` of the slot every sealed item gets for its owner's person key
 * ({@link derivePersonKey}): an agent slot naming the owner, which each of the owner's devices
 * opens with the agent secret. Same rule as above: bump, never reuse.
 */
export const PERSON_CONTEXT = 'elohim-person-v1';

export interface ReachPutOptions extends Omit<PutOptions, 'reach' | 'authorId'> {
  reach: Reach;
  /** This device's agent key: the item's owner. */
  owner: AgentKey;
  /** Needed for the reaches encrypted at rest. */
  device?: DeviceKey;
  /** invited: the agents who may receive and open it (at least one). */
  invited?: readonly AgentKey[];
  /**
   * The person's Ed25519 agent secret (libp2p `privateKey.raw`, 64 bytes, or the 32-byte seed):
   * the person key (every sealed item, so the person's other devices open it) and invited
   * items' relationship keys are derived from it.
   */
  mySecret?: Uint8Array;
  /** local: this person's own family cluster key (`loadOwnClusterKey`). */
  cluster?: ClusterKey;
}

/**
 * Stores `file` at its reach. `private` is sealed for this device's key and, given `mySecret`,
 * the person key (the owner's other devices); `invited` adds one relationship key per named
 * agent, `local` the family cluster key (so the stored bytes, and whatever a peer could ever
 * get, are ciphertext); the widest reaches are stored in clear.
 */
export async function putAtReach(
  store: ContentStore,
  file: Blob,
  options: ReachPutOptions,
): Promise<StoredManifest> {
  const { reach, owner, device, invited, mySecret, cluster, ...put } = options;
  if (!isEncryptedAtRest(reach)) return store.put(file, { ...put, reach, authorId: owner });
  if (!device) throw new Error(`Sealing a ${reach} item needs this device key.`);
  const recipients: Recipient[] = [{ kind: 'device', device }];
  if (mySecret) {
    const key = await derivePersonKey(mySecret, owner, PERSON_CONTEXT);
    recipients.push({ kind: 'agent', agent: owner, context: PERSON_CONTEXT, key });
  }
  if (reach === 'local') {
    if (!cluster) throw new NoFamilyClusterError();
    recipients.push({ kind: 'cluster', cluster: cluster.id, key: cluster.key });
  }
  if (reach === 'invited') {
    const named = [...new Set(invited ?? [])].filter((a) => a !== owner);
    if (named.length === 0) {
      throw new Error('Name at least one person to invite: an invited item needs a recipient.');
    }
    if (!mySecret) throw new Error("Sealing an invited item needs this device's identity key.");
    for (const agent of named) {
      const key = await deriveRelationshipKey(mySecret, owner, agent, INVITED_CONTEXT);
      recipients.push({ kind: 'agent', agent, context: INVITED_CONTEXT, key });
    }
  }
  const sealed = seal(file, { reach, owner, recipients });
  return store.put(sealed, {
    ...put,
    reach,
    authorId: owner,
    mime: sealedMime(put.mime ?? (file.type || 'application/octet-stream')),
  });
}

/**
 * The keyring of this device: its sealing key (private items, and its own copy of invited and
 * local ones); given its identity secret, the relationship keys that open invited items naming
 * it (derived when a slot names `me`, once per (owner, context)); given `cluster`, the family
 * cluster keys it holds (`loadClusterKey`: asked on every open, so a key accepted after the
 * keyring was made is found).
 */
export function deviceKeyring(options: {
  me: AgentKey;
  device?: DeviceKey;
  mySecret?: Uint8Array;
  cluster?: (id: string) => Promise<CryptoKey | undefined>;
}): Keyring {
  const { me, device, mySecret, cluster } = options;
  const derived = new Map<string, Promise<CryptoKey>>();
  return {
    me,
    ...(device ? { device } : {}),
    ...(cluster ? { cluster } : {}),
    ...(mySecret
      ? {
          relationship: (owner: AgentKey, context: string) => {
            // My own items: only the person key; a relationship needs two agents.
            if (owner === me && context !== PERSON_CONTEXT) return undefined;
            const id = `${owner}\u0000${context}`;
            let key = derived.get(id);
            if (!key) {
              key =
                owner === me
                  ? derivePersonKey(mySecret, me, context)
                  : deriveRelationshipKey(mySecret, me, owner, context);
              derived.set(id, key);
            }
            return key;
          },
        }
      : {}),
  };
}

/** The plaintext of a stored item: as stored, or opened with `keyring` when sealed. */
export function openStored(
  manifest: StoredManifest,
  bytes: ReadableStream<Uint8Array>,
  keyring: Keyring,
): ReadableStream<Uint8Array> {
  return isSealed(manifest) ? unseal(bytes, keyring) : bytes;
}

/**
 * The agents named by the agent slots of a stored sealed item: its header, read from the
 * blob's first piece(s) only. `[]` when the blob is not a readable sealed item (nobody is
 * invited then: the gate refuses).
 */
export async function invitedOf(store: ContentStore, hash: string): Promise<AgentKey[]> {
  const reader = store.get(hash).getReader();
  let prefix = new Uint8Array(0);
  try {
    for (;;) {
      const parsed = parseSealedHeader(prefix);
      if (parsed) {
        return parsed.header.slots.flatMap((s) =>
          s.kind === 'agent' && typeof s.agent === 'string' && s.context === INVITED_CONTEXT
            ? [s.agent]
            : [],
        );
      }
      const { done, value } = await reader.read();
      if (done) return [];
      prefix = concat(prefix, value);
    }
  } catch {
    return [];
  } finally {
    void reader.cancel().catch(() => {});
  }
}

/**
 * What the delivery gate is asked: may `peer` receive (or learn that we hold) `hash`, which
 * belongs to `blobHash`? Reach defines the shape itself, so it depends on no network code;
 * it is structural, and the shard server's `allow` option (src/net/shard) accepts it as is.
 */
export type DeliveryGate = (
  peer: PeerIdLike,
  hash: ContentHash,
  ctx: { readonly op?: string; readonly blobHash: ContentHash },
) => Promise<boolean>;

/**
 * The shard server's delivery gate: a peer receives (or learns that we hold) an item only as
 * its reach and our trust links allow. The requesting PeerId is an agent key, or a device key an
 * agent certified (docs/design.md §2).
 * For `invited` items the named recipients come from the sealed header (cached per hash: the
 * bytes behind a hash never change).
 */
export function deliveryGate(
  store: ContentStore,
  trust: () => TrustView,
  onRefused?: (peer: string, hash: string, reason: string) => void,
  /**
   * The agent a peer speaks for: its own key's, or the person's that certified it as a device
   * (src/trust's DeviceDirectory). Default: its own key's.
   */
  agentOf: (
    peer: PeerIdLike,
  ) => Promise<AgentKey | undefined> | AgentKey | undefined = agentKeyOfPeer,
): DeliveryGate {
  const invitedCache = new Map<string, Promise<AgentKey[]>>();
  const invitedFor = (hash: string) => {
    let found = invitedCache.get(hash);
    if (!found) {
      found = invitedOf(store, hash);
      invitedCache.set(hash, found);
      // A failed read (blob removed, damaged) is not remembered: it is read again next time.
      void found.then((list) => list.length === 0 && invitedCache.delete(hash));
    }
    return found;
  };
  return async (peer, hash, { blobHash }) => {
    // Shards kept for the network are gated by the reach of the blob they belong to.
    const manifest = (await store.manifest(blobHash)) ?? (await store.holding(blobHash))?.manifest;
    if (!manifest) return false;
    const view = trust();
    const decision = mayDeliver(
      {
        reach: manifest.reach,
        owner: (manifest.author_id as AgentKey | null) ?? view.me,
        ...(manifest.reach === 'invited' ? { invited: await invitedFor(blobHash) } : {}),
      },
      // Commons needs no lookup: anyone receives it.
      manifest.reach === 'commons' ? undefined : await agentOf(peer),
      view,
    );
    if (!decision.allow) onRefused?.(peer.toString(), hash, decision.reason);
    return decision.allow;
  };
}
