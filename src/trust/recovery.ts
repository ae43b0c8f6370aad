/**
 * The `imagodei` zome's social recovery as the page uses it (src/recovery makes and opens the
 * sealed shares; this only carries them): publishing a setup, listing the shares made or held,
 * releasing a held share to a requester, listing releases. Direct calls, not the outbox: each
 * is a person's deliberate act that needs an answer now.
 */
import { decodeHashFromBase64, encodeHashToBase64 } from '@holochain/client';
import { type AgentKey, ed25519FromAgentKey } from '../reach/index.ts';
import type { RecoveryReleaseWire, RecoveryShareWire } from '../wire/index.ts';
import type { CallOptions, TrustRecoveryRelease, TrustRecoveryShare } from './types.ts';
import { ms, myRecords, type ZomeCalls } from './zome.ts';

export interface RecoverySetupInput {
  setup: string;
  threshold: number;
  shares: { guardian: AgentKey; iv: string; sealed: string }[];
}

export async function setRecoveryGuardians(
  zome: ZomeCalls,
  input: RecoverySetupInput,
  options: CallOptions,
): Promise<TrustRecoveryShare[]> {
  const out = await zome.call(
    'set_recovery_guardians',
    {
      setup: input.setup,
      threshold: input.threshold,
      shares: input.shares.map(({ guardian, iv, sealed }) => ({
        guardian: decodeHashFromBase64(guardian),
        iv,
        sealed,
      })),
    },
    options.signal,
  );
  return out.shares.map(toShare);
}

export function myRecoveryShares(zome: ZomeCalls, options: CallOptions) {
  return myRecords(zome, 'get_my_recovery_shares', toShare, options);
}

export async function releaseRecoveryShare(
  zome: ZomeCalls,
  owner: AgentKey,
  requester: AgentKey,
  sealed: { iv: string; sealed: string },
  options: CallOptions,
): Promise<TrustRecoveryRelease> {
  ed25519FromAgentKey(owner);
  ed25519FromAgentKey(requester);
  const out = await zome.call(
    'release_recovery_share',
    {
      owner: decodeHashFromBase64(owner),
      requester: decodeHashFromBase64(requester),
      iv: sealed.iv,
      sealed: sealed.sealed,
    },
    options.signal,
  );
  return toRelease(out.release);
}

export function myRecoveryReleases(zome: ZomeCalls, options: CallOptions) {
  return myRecords(zome, 'get_my_recovery_releases', toRelease, options);
}

function toShare(s: RecoveryShareWire): TrustRecoveryShare {
  return {
    owner: encodeHashToBase64(s.owner),
    guardian: encodeHashToBase64(s.guardian),
    setup: s.setup,
    threshold: s.threshold,
    total: s.total,
    iv: s.iv,
    sealed: s.sealed,
    createdAt: ms(s.created_at),
  };
}

function toRelease(r: RecoveryReleaseWire): TrustRecoveryRelease {
  return {
    owner: encodeHashToBase64(r.owner),
    guardian: encodeHashToBase64(r.guardian),
    requester: encodeHashToBase64(r.requester),
    setup: r.setup,
    threshold: r.threshold,
    iv: r.iv,
    sealed: r.sealed,
    createdAt: ms(r.created_at),
  };
}
