/**
 * Where this device keeps family cluster keys (reach `local`): the reach key database
 * (`elohim-reach` / `keys`, beside the device key), as CryptoKey objects (structured clone), so
 * the service worker can open family items with them and their bytes never exist in JS.
 *
 * - `cluster-own`: this person's own cluster key and its id, made once. **Extractable**, because
 *   it has to be wrapped for every member (now and later); it leaves only wrapped that way.
 * - `cluster:<id>`: a key accepted from a member's grant, **non-extractable** (a member reads
 *   with it, never passes it on), with who granted it.
 */
import type { AgentKey } from './agent.ts';
import { toBase64Url } from './bytes.ts';
import {
  addOrReadWinner,
  createClusterKey,
  type DeviceKeyOptions,
  importClusterKey,
  KEY_STORE,
  openKeyStore,
} from './keys.ts';

export interface ClusterKey {
  /** The cluster's id in sealed items' slots and in the trust layer: 16 random bytes, base64url. */
  readonly id: string;
  /** AES-256-GCM, wrapKey/unwrapKey. */
  readonly key: CryptoKey;
}

/** A cluster key taken from someone's grant. */
export interface AcceptedClusterKey extends ClusterKey {
  /** The member who granted it (the cluster's owner). */
  readonly from: AgentKey;
  /** ms since epoch. */
  readonly acceptedAt: number;
}

const OWN_RECORD = 'cluster-own';
const ACCEPTED_PREFIX = 'cluster:';

/** A fresh cluster id: 16 random bytes, base64url (22 characters). */
export function newClusterId(): string {
  return toBase64Url(crypto.getRandomValues(new Uint8Array(16)));
}

/** This person's own cluster key, if it was ever made. */
export async function loadOwnClusterKey(
  options: DeviceKeyOptions = {},
): Promise<ClusterKey | undefined> {
  const db = await openKeyStore(options);
  try {
    const stored = (await db.get(KEY_STORE, OWN_RECORD)) as ClusterKey | undefined;
    return stored && { id: stored.id, key: stored.key };
  } finally {
    db.close();
  }
}

/**
 * This person's own cluster key, made on first use. Two tabs racing to make it: `add` lets one
 * win and the other reads the winner back, so there is only ever one per browser profile.
 */
export async function loadOrCreateOwnClusterKey(
  options: DeviceKeyOptions = {},
): Promise<ClusterKey> {
  const existing = await loadOwnClusterKey(options);
  if (existing) return existing;
  const created: ClusterKey = { id: newClusterId(), key: await createClusterKey() };
  const db = await openKeyStore(options);
  try {
    return await addOrReadWinner(db, OWN_RECORD, created);
  } finally {
    db.close();
  }
}

/**
 * Puts back this person's own cluster key from a backup (`raw`: its 32 bytes), replacing any
 * this profile made: family items sealed with it open again, and grants already made to members
 * stay valid (same id, same key).
 */
export async function restoreOwnClusterKey(
  restored: { id: string; raw: Uint8Array },
  options: DeviceKeyOptions = {},
): Promise<void> {
  const key = await importClusterKey(restored.raw);
  const db = await openKeyStore(options);
  try {
    await db.put(KEY_STORE, { id: restored.id, key } satisfies ClusterKey, OWN_RECORD);
  } finally {
    db.close();
  }
}

/**
 * Keeps a key accepted from a grant. The first key kept for an id stays: a later grant naming
 * the same id (which the trust layer only accepts from the same owner) changes nothing, so a
 * key that opened items keeps opening them. Returns what is kept.
 */
export async function saveAcceptedClusterKey(
  accepted: AcceptedClusterKey,
  options: DeviceKeyOptions = {},
): Promise<AcceptedClusterKey> {
  const db = await openKeyStore(options);
  try {
    const record = `${ACCEPTED_PREFIX}${accepted.id}`;
    try {
      await db.add(KEY_STORE, { ...accepted }, record);
      return accepted;
    } catch (error) {
      if (!(error instanceof DOMException && error.name === 'ConstraintError')) throw error;
      return (await db.get(KEY_STORE, record)) as AcceptedClusterKey;
    }
  } finally {
    db.close();
  }
}

/** Every key accepted from grants, in id order. */
export async function acceptedClusterKeys(
  options: DeviceKeyOptions = {},
): Promise<AcceptedClusterKey[]> {
  const db = await openKeyStore(options);
  try {
    const range = IDBKeyRange.bound(ACCEPTED_PREFIX, `${ACCEPTED_PREFIX}\uffff`);
    return (await db.getAll(KEY_STORE, range)) as AcceptedClusterKey[];
  } finally {
    db.close();
  }
}

/** The key of cluster `id`: this person's own, or one accepted from a grant; else undefined. */
export async function loadClusterKey(
  id: string,
  options: DeviceKeyOptions = {},
): Promise<CryptoKey | undefined> {
  const db = await openKeyStore(options);
  try {
    const own = (await db.get(KEY_STORE, OWN_RECORD)) as ClusterKey | undefined;
    if (own?.id === id) return own.key;
    const accepted = (await db.get(KEY_STORE, `${ACCEPTED_PREFIX}${id}`)) as
      | AcceptedClusterKey
      | undefined;
    return accepted?.key;
  } finally {
    db.close();
  }
}
