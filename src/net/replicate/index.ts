/**
 * Replication `/elohim/replicate/1.0.0`: a holder offers a blob, the receiver decides, pulls
 * it over `/elohim/pieces/1.0.0` verifying every piece, and confirms. Wire shapes, flow and
 * decisions: README.md beside this file.
 *
 *   // every peer: serve pieces (offerers) and take offers (receivers), as libp2p services
 *   const libp2p = await createLibp2p({
 *     services: {
 *       shard: shardServer({ store, allow }),
 *       replicate: replicateServer({
 *         store,
 *         policy: { maxBytes: 2 ** 30, mayHold: holdGate(trust) },
 *         onStored: (manifest) => announce(manifest.blob_hash),
 *       }),
 *     },
 *   });
 *   // (on a node made without them: registerShardProtocol / registerReplicateProtocol)
 *
 *   // after storing shareable content
 *   const report = await replicate(libp2p, store, m.blob_hash, candidates, {
 *     copies: 2,
 *     gate: replicationGate({ reach: m.reach, owner: me }, trust),
 *   });
 *   if (report.stored.length < report.wanted) retryLater();
 */
export {
  decodeAnswer,
  decodeOffer,
  encodeAnswer,
  encodeOffer,
  MAX_ANSWER_FRAME_BYTES,
  MAX_OFFER_FRAME_BYTES,
  REPLICATE_PROTOCOL,
  type ReplicaOffer,
  type ReplicateAnswer,
} from './codec.ts';
export {
  NotHeldError,
  OfferMismatchError,
  OfferWithdrawnError,
  ReplicateError,
  ReplicaUnconfirmedError,
} from './errors.ts';
export {
  type GateAnswer,
  type HoldGate,
  holdGate,
  overBudget,
  pushPolicy,
  type ReplicationGate,
  replicationGate,
  type SpaceBudget,
  storageEstimate,
} from './policy.ts';
export {
  type ReplicaPeer,
  type ReplicaState,
  type ReplicateOptions,
  type ReplicateReport,
  replicate,
} from './replicate.ts';
export {
  type ReplicaPolicy,
  type ReplicateServer,
  type ReplicateServerComponents,
  type ReplicateServerInit,
  type ReplicateServerOptions,
  registerReplicateProtocol,
  replicateServer,
} from './server.ts';
