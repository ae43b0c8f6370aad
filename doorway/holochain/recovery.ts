import {
  MAX_GUARDIANS,
  MAX_RELEASES_PER_GUARDIAN,
  MAX_SEALED_SHARE,
  RECOVERY_SETUP_PATTERN,
  type RecoveryReleaseWire,
  type RecoveryShareWire,
} from '../../src/wire/index.ts';
import { hashToB64, sameBytes } from './hash.ts';
import { hasLinkTo } from './imagodei.ts';
import {
  agentKey,
  checkLength,
  checkPattern,
  integer,
  list,
  type Payload,
  record,
  text,
} from './validation.ts';
import { ValidationError } from './wire.ts';
import { commit, recordsOfCaller, type ZomeFn } from './zome-context.ts';

/**
 * The `imagodei` zome's social recovery (src/recovery): an owner seals one share of a secret
 * for each guardian it chose among its contacts; a guardian releases its share, sealed afresh,
 * to the owner's new device (the requester). The trust layer only carries sealed bytes: it
 * checks who may hold and release what, never what a share is.
 */

/** A 12-byte AES-GCM IV, base64url without padding. */
const SEALED_IV = /^[A-Za-z0-9_-]{16}$/;
const BASE64URL = /^[A-Za-z0-9_-]+$/;

/**
 * The IV and the bytes sealed with it (a share, or its release) of `input`; `prefix` names
 * where they are in the payload for the errors (`shares[2].`).
 */
function checkSealed(fn: string, input: Payload, prefix = ''): { iv: string; sealed: string } {
  const iv = text(fn, input, 'iv');
  const sealed = text(fn, input, 'sealed');
  checkPattern(`${prefix}iv`, iv, SEALED_IV, '16 base64url characters (a 12-byte AES-GCM IV)');
  checkLength(`${prefix}sealed`, sealed, 1, MAX_SEALED_SHARE);
  checkPattern(`${prefix}sealed`, sealed, BASE64URL, 'base64url without padding (AES-GCM output)');
  return { iv, sealed };
}

/**
 * Replaces the caller's recovery setup: 2 to MAX_GUARDIANS distinct guardians, each another
 * agent the caller made a relationship to (only the owner's own links count: naming someone
 * a friend does not make you their guardian), and a threshold from 2 to their number. One
 * entry for the whole setup; every share and release of the old one goes, since a new setup
 * splits a new secret. No signals: guardians find their share by asking.
 */
export const setRecoveryGuardians: ZomeFn<'set_recovery_guardians'> = (ctx, payload) => {
  const fn = 'set_recovery_guardians';
  const input = record(fn, payload);
  const owner = ctx.cell[1];
  const setup = text(fn, input, 'setup');
  const threshold = integer(fn, input, 'threshold');
  // The count first: a payload of thousands of entries is refused before any is read.
  const entries = list(fn, input, 'shares');
  if (entries.length < 2 || entries.length > MAX_GUARDIANS) {
    throw new ValidationError(
      `shares must name 2 to ${MAX_GUARDIANS} guardians, got ${entries.length}: choose that many of your contacts`,
    );
  }
  checkPattern(
    'setup',
    setup,
    RECOVERY_SETUP_PATTERN,
    '16 to 64 base64url characters (a random id)',
  );
  if (threshold < 2 || threshold > entries.length) {
    throw new ValidationError(
      `threshold must be from 2 to ${entries.length} (the number of guardians), got ${threshold}`,
    );
  }
  const seen = new Set<string>();
  const shares = entries.map((entry, i) => {
    const share = record(fn, entry);
    const guardian = agentKey(fn, share.guardian, `shares[${i}].guardian`);
    const name = hashToB64(guardian);
    if (sameBytes(guardian, owner)) {
      throw new ValidationError(
        `guardian ${name} is you: choose other agents, who can help when your keys are lost`,
      );
    }
    if (seen.has(name)) {
      throw new ValidationError(`guardian ${name} is named twice: give each guardian one share`);
    }
    seen.add(name);
    if (!hasLinkTo(ctx, owner, guardian)) {
      throw new ValidationError(
        `guardian ${name} must be one of your contacts: call create_relationship first`,
      );
    }
    return { guardian, ...checkSealed(fn, share, `shares[${i}].`) };
  });

  const entry = { owner, setup, threshold, total: shares.length, shares };
  const committed = commit(ctx, 'RecoverySetup', entry, owner);
  const createdAt = Date.now() * 1000;
  const rows: RecoveryShareWire[] = shares.map((share) => ({
    owner,
    guardian: share.guardian,
    setup,
    threshold,
    total: shares.length,
    iv: share.iv,
    sealed: share.sealed,
    created_at: createdAt,
    action_hash: committed.actionHash,
  }));
  // The conductor runs the whole call in one transaction: the old setup never outlives the
  // new one's commit, and a refused call leaves it as it was.
  ctx.store.stmt('DELETE FROM recovery_shares WHERE owner = ?').run(owner);
  ctx.store.stmt('DELETE FROM recovery_releases WHERE owner = ?').run(owner);
  const insert = ctx.store.stmt(
    `INSERT INTO recovery_shares (owner, guardian, setup, threshold, total, iv, sealed,
       created_at, action_hash)
     VALUES (@owner, @guardian, @setup, @threshold, @total, @iv, @sealed, @created_at,
       @action_hash)`,
  );
  for (const row of rows) insert.run(row);
  return { action_hash: committed.actionHash, shares: rows };
};

/** Shares the caller made (as owner) or holds (as guardian); nobody else sees a share. */
export const getMyRecoveryShares: ZomeFn<'get_my_recovery_shares'> = (ctx) =>
  recordsOfCaller<RecoveryShareWire>(ctx, 'recovery_shares', ['owner', 'guardian'], 'created_at');

/**
 * A guardian releases its share of `owner`'s secret to `requester` (the owner's new device),
 * sealed for it. Only a guardian holding a share of `owner` may; the requester is neither the
 * guardian nor the owner's old key. `setup` and `threshold` come from the guardian's share, so
 * a requester learns the setup the owner made, whatever the guardian says. One release per
 * (owner, guardian, requester), releasing again replaces it; a guardian keeps the newest
 * MAX_RELEASES_PER_GUARDIAN per owner, so nobody asking it can pile rows up. The requester's
 * app gets a `RecoveryShareReleased` remote signal, the guardian's own sockets the same.
 */
export const releaseRecoveryShare: ZomeFn<'release_recovery_share'> = (ctx, payload) => {
  const fn = 'release_recovery_share';
  const input = record(fn, payload);
  const guardian = ctx.cell[1];
  const owner = agentKey(fn, input.owner, 'owner');
  const requester = agentKey(fn, input.requester, 'requester');
  const { iv, sealed } = checkSealed(fn, input);
  if (sameBytes(requester, guardian)) {
    throw new ValidationError(
      "requester must be another agent: release the share to the owner's new device key",
    );
  }
  if (sameBytes(requester, owner)) {
    throw new ValidationError(
      "requester must not be the owner's own key: release the share to the new device key the owner recovers on",
    );
  }
  const share = ctx.store
    .stmt('SELECT setup, threshold FROM recovery_shares WHERE owner = ? AND guardian = ?')
    .get(owner, guardian) as { setup: string; threshold: number } | undefined;
  if (!share) {
    throw new ValidationError(
      'you hold no recovery share of this agent: only a guardian the owner named with set_recovery_guardians can release one',
    );
  }
  const entry = {
    owner,
    guardian,
    requester,
    setup: share.setup,
    threshold: share.threshold,
    iv,
    sealed,
  };
  const committed = commit(ctx, 'RecoveryRelease', entry, guardian);
  // The action's time: strictly increasing along the guardian's chain, where all its releases
  // are, so "the newest" is always one release, also within one millisecond.
  const release: RecoveryReleaseWire = {
    ...entry,
    created_at: committed.timestamp,
    action_hash: committed.actionHash,
  };
  ctx.store
    .stmt(
      `INSERT INTO recovery_releases (owner, guardian, requester, setup, threshold, iv, sealed,
         created_at, action_hash)
       VALUES (@owner, @guardian, @requester, @setup, @threshold, @iv, @sealed, @created_at,
         @action_hash)
       ON CONFLICT (owner, guardian, requester) DO UPDATE SET setup = excluded.setup,
         threshold = excluded.threshold, iv = excluded.iv, sealed = excluded.sealed,
         created_at = excluded.created_at, action_hash = excluded.action_hash`,
    )
    .run(release);
  ctx.store
    .stmt(
      `DELETE FROM recovery_releases WHERE owner = @owner AND guardian = @guardian
         AND requester NOT IN (SELECT requester FROM recovery_releases
           WHERE owner = @owner AND guardian = @guardian ORDER BY created_at DESC LIMIT @keep)`,
    )
    .run({ owner, guardian, keep: MAX_RELEASES_PER_GUARDIAN });
  const signal = {
    action_hash: committed.actionHash,
    entry_hash: committed.entryHash,
    release,
    author: guardian,
  };
  ctx.emitSignal({ type: 'RecoveryShareReleased', payload: signal });
  ctx.sendRemoteSignal(requester, { type: 'RecoveryShareReleased', payload: signal });
  return { action_hash: committed.actionHash, release };
};

/** Releases the caller made (as guardian) or was sent (as requester); the owner is neither. */
export const getMyRecoveryReleases: ZomeFn<'get_my_recovery_releases'> = (ctx) =>
  recordsOfCaller<RecoveryReleaseWire>(
    ctx,
    'recovery_releases',
    ['guardian', 'requester'],
    'created_at',
  );
