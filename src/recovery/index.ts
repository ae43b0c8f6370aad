/**
 * Social recovery (README.md beside this file): trusted contacts hold sealed shares of a
 * person's identity; any `threshold` of them, released to a new browser, bring it back.
 *
 *   // owner: choose guardians among contacts, publish the sealed shares
 *   const setup = await makeRecoverySetup(recoverySecret(await collectBackup(…)), me, guardians, 3);
 *   await trust.setRecoveryGuardians(setup);
 *
 *   // guardian: after checking `await requestCode(requester)` with the person
 *   await trust.releaseRecoveryShare(share.owner, requester, await releaseShare(share, requester, me));
 *
 *   // new browser: put it back together, then restore as from a backup
 *   const [p] = await recoverFrom(await trust.myRecoveryReleases(), me);
 *   if (p?.payload) { await stageRestore(p.payload); announceRestore(); }
 */
export { RecoveryError, RecoverySetupError, ShareRefusedError } from './errors.ts';
export {
  type HeldShare,
  type Me,
  makeRecoverySetup,
  type RecoveryProgress,
  type RecoverySetup,
  type Release,
  recoverFrom,
  recoverySecret,
  releaseShare,
  requestCode,
} from './shares.ts';
