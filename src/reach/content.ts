/**
 * Reach applied to the content store: storing an item at its reach (sealing it first when
 * that reach is encrypted at rest), opening it again, and the delivery gate for the shard
 * server. The store itself knows nothing of keys: a sealed item is an ordinary blob whose
 * manifest type says it is sealed and what it holds.
 */
import type { ContentStore, PutOptions, StoredManifest } from '../content/index.ts';
import type { AllowHook } from '../net/shard/index.ts';
import { type AgentKey, agentKeyOfPeer } from './agent.ts';
import type { DeviceKey } from './keys.ts';
import { isSealed, sealedMime } from './mime.ts';
import { isEncryptedAtRest, mayDeliver, type Reach, type TrustView } from './policy.ts';
import { type Keyring, seal, unseal } from './sealed.ts';

export interface ReachPutOptions extends Omit<PutOptions, 'reach' | 'authorId'> {
  reach: Reach;
  /** This device's agent key: the item's owner. */
  owner: AgentKey;
  /** Needed for the reaches encrypted at rest. */
  device?: DeviceKey;
}

/**
 * Stores `file` at its reach. `private` is sealed for this device's key (so the stored bytes,
 * and whatever a peer could ever get, are ciphertext); the widest reaches are stored in clear.
 */
export async function putAtReach(
  store: ContentStore,
  file: Blob,
  options: ReachPutOptions,
): Promise<StoredManifest> {
  const { reach, owner, device, ...put } = options;
  if (!isEncryptedAtRest(reach)) return store.put(file, { ...put, reach, authorId: owner });
  if (reach !== 'private') {
    throw new Error(
      `Storing "${reach}" items needs keys agreed through the trust layer, which this version ` +
        'does not do yet: choose private (only your devices) or commons (anyone).',
    );
  }
  if (!device) throw new Error('Sealing a private item needs this device key.');
  const sealed = seal(file, { reach, owner, recipients: [{ kind: 'device', device }] });
  return store.put(sealed, {
    ...put,
    reach,
    authorId: owner,
    mime: sealedMime(put.mime ?? (file.type || 'application/octet-stream')),
  });
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
 * The shard server's delivery gate: a peer receives (or learns that we hold) an item only as
 * its reach and our trust links allow. The requesting PeerId is the agent key (DESIGN §2).
 */
export function deliveryGate(
  store: ContentStore,
  trust: () => TrustView,
  onRefused?: (peer: string, hash: string, reason: string) => void,
): AllowHook {
  return async (peer, hash, { blobHash }) => {
    const manifest = await store.manifest(blobHash);
    if (!manifest) return false;
    const view = trust();
    const decision = mayDeliver(
      { reach: manifest.reach, owner: (manifest.author_id as AgentKey | null) ?? view.me },
      agentKeyOfPeer(peer),
      view,
    );
    if (!decision.allow) onRefused?.(peer.toString(), hash, decision.reason);
    return decision.allow;
  };
}
