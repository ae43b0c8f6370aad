import { getFamilyCluster, getMyClusterKeyGrants, grantClusterKey } from './cluster-keys.ts';
import {
  createHuman,
  createRelationship,
  getAgentByPeerId,
  getHuman,
  getMyRelationships,
} from './imagodei.ts';
import {
  findPublishers,
  getDoorwayById,
  getMyContentServers,
  markContentServerOffline,
  registerContentServer,
  registerDoorway,
  updateDoorway,
} from './infrastructure.ts';
import type { RoleName } from './store.ts';
import type { ZomeFn } from './zome-context.ts';

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
  [
    'infrastructure',
    new Map([
      [
        'infrastructure',
        new Map([
          ['register_content_server', registerContentServer],
          ['mark_content_server_offline', markContentServerOffline],
          ['find_publishers', findPublishers],
          ['get_my_content_servers', getMyContentServers],
          ['register_doorway', registerDoorway],
          ['update_doorway', updateDoorway],
          ['get_doorway_by_id', getDoorwayById],
        ]),
      ],
    ]),
  ],
  [
    'imagodei',
    new Map([
      [
        'imagodei',
        new Map([
          ['create_human', createHuman],
          ['get_human', getHuman],
          ['get_agent_by_peer_id', getAgentByPeerId],
          ['create_relationship', createRelationship],
          ['get_my_relationships', getMyRelationships],
          ['grant_cluster_key', grantClusterKey],
          ['get_my_cluster_key_grants', getMyClusterKeyGrants],
          ['get_family_cluster', getFamilyCluster],
        ]),
      ],
    ]),
  ],
]);

export { type Human, peerIdOfAgent, type Relationship } from './imagodei.ts';
export type { ContentServer } from './infrastructure.ts';
export type { ZomeContext } from './zome-context.ts';
