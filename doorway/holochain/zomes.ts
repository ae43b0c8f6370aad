import { TRUST_ROLE_OF, type TrustFunction } from '../../src/wire/index.ts';
import { getFamilyCluster, getMyClusterKeyGrants, grantClusterKey } from './cluster-keys.ts';
import { addDevice, getAgentDevices, getDeviceAgent, removeDevice } from './devices.ts';
import {
  createHuman,
  createRelationship,
  getAgentByPeerId,
  getHuman,
  getMyRelationships,
} from './imagodei.ts';
import {
  findPublishers,
  getAllDoorways,
  getDoorwayById,
  getMyContentServers,
  markContentServerOffline,
  registerContentServer,
  registerDoorway,
  updateDoorway,
} from './infrastructure.ts';
import {
  getMyRecoveryReleases,
  getMyRecoveryShares,
  releaseRecoveryShare,
  setRecoveryGuardians,
} from './recovery.ts';
import type { RoleName } from './store.ts';
import type { ZomeFn } from './zome-context.ts';

/** One implementation per function of the wire (src/wire/trust.ts): none missing, none extra. */
const FUNCTIONS: { readonly [F in TrustFunction]: ZomeFn<F> } = {
  register_content_server: registerContentServer,
  mark_content_server_offline: markContentServerOffline,
  find_publishers: findPublishers,
  get_my_content_servers: getMyContentServers,
  register_doorway: registerDoorway,
  update_doorway: updateDoorway,
  get_doorway_by_id: getDoorwayById,
  get_all_doorways: getAllDoorways,
  create_human: createHuman,
  get_human: getHuman,
  get_agent_by_peer_id: getAgentByPeerId,
  create_relationship: createRelationship,
  get_my_relationships: getMyRelationships,
  grant_cluster_key: grantClusterKey,
  get_my_cluster_key_grants: getMyClusterKeyGrants,
  get_family_cluster: getFamilyCluster,
  set_recovery_guardians: setRecoveryGuardians,
  get_my_recovery_shares: getMyRecoveryShares,
  release_recovery_share: releaseRecoveryShare,
  get_my_recovery_releases: getMyRecoveryReleases,
  add_device: addDevice,
  remove_device: removeDevice,
  get_agent_devices: getAgentDevices,
  get_device_agent: getDeviceAgent,
};

/** The functions of `role`'s coordinator zome, by name. */
function zomeOf(role: RoleName): ReadonlyMap<string, ZomeFn> {
  return new Map(
    (Object.keys(FUNCTIONS) as TrustFunction[])
      .filter((fn) => TRUST_ROLE_OF[fn] === role)
      .map((fn) => [fn, FUNCTIONS[fn] as ZomeFn]),
  );
}

/**
 * The zome functions of the Elohim hApp, emulated in TypeScript over SQLite: role → zome →
 * function. Each role's coordinator zome has the role's name, as in the Rust DNA manifests.
 * `lamad` (content & learning in the Rust project) has a cell but no emulated zomes: the web
 * peer keeps content out of the trust layer (docs/design.md §6: who has what, never what).
 *
 * Maps, not objects: a caller names the zome and function, and a name like `constructor` or
 * `__proto__` must find nothing rather than something on Object's prototype.
 */
export const ZOMES: ReadonlyMap<
  RoleName,
  ReadonlyMap<string, ReadonlyMap<string, ZomeFn>>
> = new Map<RoleName, ReadonlyMap<string, ReadonlyMap<string, ZomeFn>>>([
  ['lamad', new Map()],
  ['infrastructure', new Map([['infrastructure', zomeOf('infrastructure')]])],
  ['imagodei', new Map([['imagodei', zomeOf('imagodei')]])],
]);

export { peerIdOfAgent } from './imagodei.ts';
export type { ZomeContext } from './zome-context.ts';
