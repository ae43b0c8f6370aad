import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys';
import type { PrivateKey } from '@libp2p/interface';
import { openDB } from 'idb';

const STORE = 'keys';
const DEVICE_KEY = 'device';

/**
 * The device's Ed25519 key: its public half is the libp2p PeerId, and on a person's first
 * device the Holochain agent key too (docs/design.md §2), so it is made once per browser profile
 * and kept in IndexedDB. Two tabs
 * opening at once race to create it; `add` lets exactly one win and the other reads it back.
 */
export async function loadOrCreateDeviceKey(dbName = 'elohim-identity'): Promise<PrivateKey> {
  const db = await openDB(dbName, 1, {
    upgrade: (database) => database.createObjectStore(STORE),
  });
  try {
    const stored = (await db.get(STORE, DEVICE_KEY)) as Uint8Array | undefined;
    if (stored) return privateKeyFromProtobuf(new Uint8Array(stored));
    const created = await generateKeyPair('Ed25519');
    try {
      await db.add(STORE, privateKeyToProtobuf(created), DEVICE_KEY);
      return created;
    } catch (error) {
      if (!(error instanceof DOMException && error.name === 'ConstraintError')) throw error;
      const winner = (await db.get(STORE, DEVICE_KEY)) as Uint8Array;
      return privateKeyFromProtobuf(new Uint8Array(winner));
    }
  } finally {
    db.close();
  }
}
