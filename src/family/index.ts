/**
 * The family cluster (reach `local`, "Only my family"): who is in it, its key, the grants that
 * hand the key to each member, and the families this person belongs to — kept in step with the
 * trust layer in the tab that runs the node. Design: src/family/README.md.
 *
 *   const family = new Family({ trust, mySecret: deviceKey.raw });
 *   const view: TrustView = { me, myDevices, links, cluster: family.members,
 *                             clusterOf: (owner) => family.clusterOf(owner) };
 *   family.addEventListener('change', (e) => render(e.detail));
 *   await family.addMember(agent);        // names them family, grants them the key
 */
export {
  FAMILY,
  Family,
  type FamilyEvents,
  type FamilyMember,
  type FamilyMembership,
  type FamilyOptions,
  type FamilySnapshot,
  GRANT_CONTEXT,
  type GrantStatus,
  type KeyStatus,
} from './family.ts';
