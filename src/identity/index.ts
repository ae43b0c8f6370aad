/**
 * Who this peer is: an Ed25519 device key (the libp2p PeerId) and the person's agent key (the
 * trust layer's agent), one and the same on a person's first device; a paired device keeps its
 * own device key and is given the agent key (docs/design.md §2).
 *
 * - In a page: `pageIdentity()` (made once per browser profile, kept in IndexedDB by
 *   `loadOrCreateDeviceKey`), `pageSealingKey()` for private items.
 * - In the service worker, without libp2p's key code: `loadDeviceIdentity()` reads the same
 *   record.
 * - A restore from a backup (src/backup) is staged (`stageIdentity`) and applied at the next
 *   start (`commitStagedIdentity`: the key replaced and the stage dropped in one transaction).
 * - In Node: `loadOrCreateKey(dir)` from `./node.ts` (a key file), kept out of this entry so
 *   browser bundles never see `node:` modules.
 */
export { loadOrCreateDeviceKey } from './device-key.ts';
export { type DeviceIdentity, identityOf, loadDeviceIdentity } from './key-record.ts';
export { type Identity, pageIdentity, pageSealingKey } from './page.ts';
export {
  commitStagedAgent,
  commitStagedIdentity,
  stagedIdentity,
  stageIdentity,
  storedAgentKey,
  storedDeviceKey,
  storedPersonKey,
} from './staged.ts';
