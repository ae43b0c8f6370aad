/**
 * A restored identity waiting to be applied (src/backup). The running page keeps using the
 * key it started with (its node, its trust session), so a restore is not written over it:
 * the whole restore is staged as one record (one `put`, atomic), every tab reloads, and the
 * next start applies it before anything reads the key. The device key is replaced and the
 * staged record deleted in one transaction, so a tab closed at any moment leaves either the
 * old identity with the restore still staged (applied at the next start) or the restored one:
 * never a mix.
 */
import { openDB } from 'idb';

const STORE = 'keys';
const DEVICE_KEY = 'device';
/** The person's agent key on a paired device (none on a person's first device: it is `device`). */
const AGENT_KEY = 'agent';
const STAGED = 'restore-staged';

function open(dbName: string) {
  return openDB(dbName, 1, { upgrade: (database) => database.createObjectStore(STORE) });
}

/** Stages `value` (structured-cloneable; it must carry the identity key) to apply at next start. */
export async function stageIdentity(value: unknown, dbName = 'elohim-identity'): Promise<void> {
  const db = await open(dbName);
  try {
    await db.put(STORE, value, STAGED);
  } finally {
    db.close();
  }
}

/** What {@link stageIdentity} staged, if a restore waits. */
export async function stagedIdentity(dbName = 'elohim-identity'): Promise<unknown> {
  const db = await open(dbName);
  try {
    return await db.get(STORE, STAGED);
  } finally {
    db.close();
  }
}

/** The first of `records` that is stored (libp2p's protobuf), without libp2p. */
async function storedKey(records: string[], dbName: string): Promise<Uint8Array | undefined> {
  const db = await open(dbName);
  try {
    for (const record of records) {
      const stored = (await db.get(STORE, record)) as Uint8Array | undefined;
      if (stored) return new Uint8Array(stored);
    }
    return undefined;
  } finally {
    db.close();
  }
}

/** This profile's identity (device) key as stored (libp2p's protobuf), without libp2p. */
export function storedDeviceKey(dbName = 'elohim-identity'): Promise<Uint8Array | undefined> {
  return storedKey([DEVICE_KEY], dbName);
}

/**
 * Applies a staged identity in one transaction: `protobuf` written as `record`, the records in
 * `drop` and the stage deleted.
 */
async function commitStaged(
  dbName: string,
  record: string,
  protobuf: Uint8Array,
  drop: string[],
): Promise<void> {
  const db = await open(dbName);
  try {
    const tx = db.transaction(STORE, 'readwrite');
    await Promise.all([
      tx.store.put(new Uint8Array(protobuf), record),
      ...[...drop, STAGED].map((key) => tx.store.delete(key)),
      tx.done,
    ]);
  } finally {
    db.close();
  }
}

/**
 * Replaces the identity key with `protobuf` and drops the staged restore, in one transaction.
 * The profile becomes that person's device with their own key: a paired agent key goes.
 */
export function commitStagedIdentity(
  protobuf: Uint8Array,
  dbName = 'elohim-identity',
): Promise<void> {
  return commitStaged(dbName, DEVICE_KEY, protobuf, [AGENT_KEY]);
}

/**
 * Pairing (src/pairing): keeps this profile's device key and makes `protobuf` (the person's
 * agent key) its agent key, dropping the stage in the same transaction.
 */
export function commitStagedAgent(protobuf: Uint8Array, dbName = 'elohim-identity'): Promise<void> {
  return commitStaged(dbName, AGENT_KEY, protobuf, []);
}

/** The person's agent key as stored on a paired device (libp2p's protobuf), else undefined. */
export function storedAgentKey(dbName = 'elohim-identity'): Promise<Uint8Array | undefined> {
  return storedKey([AGENT_KEY], dbName);
}

/**
 * The key this profile acts as the person with (libp2p's protobuf): the agent key on a paired
 * device, else the device key itself; undefined before the app made one.
 */
export function storedPersonKey(dbName = 'elohim-identity'): Promise<Uint8Array | undefined> {
  return storedKey([AGENT_KEY, DEVICE_KEY], dbName);
}
