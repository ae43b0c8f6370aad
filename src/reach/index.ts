/**
 * Reach (docs/design.md §7): who may receive content, and sealing for the reaches that are
 * encrypted at rest. Design, formats and threat model: src/reach/README.md.
 *
 *   // gates (shard server, replication)
 *   const d = mayDeliver({ reach, owner, invited }, agentKeyOfPeer(peerId), trust);
 *   if (!d.allow) log(d.reason); // answer NotFound, send zero bytes
 *
 *   // sealing private content for this device, then storing the sealed blob like any blob
 *   const device = await loadOrCreateSealingKey();
 *   const m = await store.put(seal(file, { reach: 'private', owner: me, recipients: [{ kind: 'device', device }] }),
 *                             { reach: 'private', mime: SEALED_MIME });
 *   const plain = unseal(store.get(m.blob_hash), { me, device });
 *
 *   // invited: both sides derive the same relationship key
 *   const k = await deriveRelationshipKey(mySecret, me, friend, relationshipId);
 *   seal(file, { reach: 'invited', owner: me, recipients: [{ kind: 'device', device },
 *                { kind: 'agent', agent: friend, context: relationshipId, key: k }] });
 *
 *   // local: this person's family cluster key (granted to each member through src/family)
 *   await putAtReach(store, file, { reach: 'local', owner: me, device, cluster: await loadOwnClusterKey() });
 *   const keyring = deviceKeyring({ me, device, mySecret, cluster: (id) => loadClusterKey(id) });
 */
export {
  type AgentKey,
  agentKeyFromEd25519,
  agentKeyOfPeer,
  ed25519FromAgentKey,
  type PeerIdLike,
} from './agent.ts';
export {
  createItemKey,
  decryptPiece,
  encryptPiece,
  type ItemKey,
  pieceNonce,
  TAG_BYTES,
} from './cipher.ts';
export {
  type AcceptedClusterKey,
  acceptedClusterKeys,
  type ClusterKey,
  loadClusterKey,
  loadOrCreateOwnClusterKey,
  loadOwnClusterKey,
  newClusterId,
  restoreOwnClusterKey,
  saveAcceptedClusterKey,
} from './cluster-keys.ts';
export {
  type DeliveryGate,
  deliveryGate,
  deviceKeyring,
  INVITED_CONTEXT,
  invitedOf,
  openStored,
  putAtReach,
  type ReachPutOptions,
} from './content.ts';
export {
  DecryptionError,
  InvalidAgentKeyError,
  KeyAgreementError,
  KeyUnwrapError,
  NoFamilyClusterError,
  NoKeyError,
  ReachError,
  SealedFormatError,
} from './errors.ts';
export {
  acceptClusterKey,
  type ClusterKeyGrant,
  createClusterKey,
  type DeviceKey,
  type DeviceKeyOptions,
  deriveRelationshipKey,
  grantClusterKey,
  loadOrCreateSealingKey,
  type WrappedBytes,
} from './keys.ts';
export { isSealed, openedMime, sealedMime } from './mime.ts';
export {
  compareReach,
  type Decision,
  isEncryptedAtRest,
  isMyDevice,
  isReach,
  mayDeliver,
  mayReplicateTo,
  REACH_ORDER,
  type Reach,
  type ReachItem,
  type RelationshipType,
  type SealedReach,
  type TrustView,
} from './policy.ts';
export {
  DEFAULT_SEGMENT_SIZE,
  type Keyring,
  openItemKey,
  parseSealedHeader,
  type Recipient,
  SEALED_MIME,
  type SealedHeader,
  type SealOptions,
  type SealSource,
  type Slot,
  type SlotLabel,
  seal,
  unseal,
} from './sealed.ts';
