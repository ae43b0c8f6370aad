/**
 * The trust layer (docs/design.md §6): who holds what, who is who, who trusts whom — through the
 * doorway's Holochain app interface, with the real @holochain/client, signed by this device's
 * key. Changes go through a persistent outbox, so they survive the doorway being away and
 * reloads. Design notes: src/trust/README.md.
 *
 *   const deviceKey = await loadOrCreateDeviceKey();           // src/net: also the libp2p key
 *   const trust = await HolochainTrustClient.create({ doorway: location.origin, deviceKey });
 *   listen<TrustState>(trust, 'state', (s) => render(s.status, s.error)); // src/wire; connecting | connected | offline
 *   listen<TrustEvents['queue']>(trust, 'queue', ({ queued }) => render(queued));
 *
 *   node.addEventListener('change', () => void trust.setAddresses(node.snapshot().dialAddrs));
 *   await trust.registerAgent({ display_name: 'Ana' });        // 'sent' | 'queued'
 *   store 'added'   → void trust.announce(hash);
 *   store 'removed' → void trust.withdraw(hash);
 *
 *   const finder = nearFirst(                                  // src/net: connected holders first
 *     connectedPeersFinder(() => node.directPeers(), node.libp2p),
 *     trustHolderFinder(trust, node.libp2p),
 *   );
 *   await fetchContent(node, store, finder, hash);
 */
export { HolochainTrustClient, type HolochainTrustClientOptions } from './client.ts';
export { type ContactLink, contactLink, parseContactLink } from './contact.ts';
export {
  DeviceDirectory,
  type DeviceDirectoryOptions,
  type DeviceLookup,
  deviceCertificateTerms,
  inForce,
  signDeviceTerms,
  verifyDeviceCertificate,
} from './devices.ts';
export {
  DoorwayUnreachableError,
  InvalidContactLinkError,
  TrustAuthError,
  TrustClosedError,
  TrustError,
  TrustInputError,
  TrustOfflineError,
  TrustRefusedError,
} from './errors.ts';
export { type TrustFinderOptions, trustHolderFinder } from './finder.ts';
export { type AddressSource, linkTrust, type TrustLinkOptions } from './link.ts';
export { type DoorwaySession, openDoorwaySession } from './session.ts';
export type {
  AnnounceInput,
  Announcement,
  CallOptions,
  Delivery,
  DeviceCertificate,
  FindHoldersOptions,
  RefusedChange,
  RegisterAgentInput,
  TrustClient,
  TrustClusterGrant,
  TrustDevice,
  TrustEventMap,
  TrustEvents,
  TrustFamilyCluster,
  TrustHolder,
  TrustHuman,
  TrustRecoveryRelease,
  TrustRecoveryShare,
  TrustRelationship,
  TrustSignal,
  TrustState,
  TrustStatus,
} from './types.ts';
