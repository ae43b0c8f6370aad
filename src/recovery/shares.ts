/**
 * Social recovery's cryptography (README.md beside this file): the recovery secret split
 * with Shamir's secret sharing (`shamir-secret-sharing`, audited), each share sealed for one
 * guardian; a guardian's share released to the person's new browser, sealed for it; and the
 * new browser putting the secret back together from any `threshold` of them.
 *
 * Every seal is AES-256-GCM under a relationship key (src/reach: X25519 of the two identity
 * keys, HKDF with a context naming the setup), with a label binding what the share is for —
 * setup, owner, guardian (and requester), threshold — as additional data: a share edited to
 * name another setup, person or threshold no longer opens.
 */
import { combine, split } from 'shamir-secret-sharing';
import { type BackupPayload, payloadFromJson, payloadToJson } from '../backup/index.ts';
import { type AgentKey, deriveRelationshipKey } from '../reach/index.ts';
import type { TrustRecoveryRelease, TrustRecoveryShare } from '../trust/index.ts';
import { fromBase64Url, MAX_GUARDIANS, toBase64Url } from '../wire/index.ts';
import { RecoverySetupError, ShareRefusedError } from './errors.ts';

/** This browser as the crypto needs it: its agent key and identity secret. */
export interface Me {
  agent: AgentKey;
  secret: Uint8Array;
}

/** What a setup publishes: one sealed share per guardian. */
export interface RecoverySetup {
  setup: string;
  threshold: number;
  shares: { guardian: AgentKey; iv: string; sealed: string }[];
}

/** A share as the trust layer lists it to its owner and its guardian. */
export type HeldShare = Omit<TrustRecoveryShare, 'createdAt'>;

/** A share released to a requester, as the trust layer lists it. */
export type Release = Omit<TrustRecoveryRelease, 'createdAt'>;

/** Where a recovery stands for one owner. */
export interface RecoveryProgress {
  owner: AgentKey;
  setup: string;
  /** Shares that opened. */
  have: number;
  need: number;
  /** Shares left out, with why. */
  refused: { guardian: AgentKey; reason: string }[];
  /** The secret, once `have` ≥ `need` and a set of shares gives back the owner's own key. */
  payload?: BackupPayload;
}

const SHARE_LABEL = 'elohim/recovery/share/v1';
const RELEASE_LABEL = 'elohim/recovery/release/v1';

const label = (...parts: (string | number)[]) =>
  new TextEncoder().encode(parts.map(String).join('\u0000'));

async function encrypt(key: CryptoKey, plain: Uint8Array, aad: Uint8Array) {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const sealed = await crypto.subtle.encrypt(
    { name: 'AES-GCM', iv, additionalData: aad as Uint8Array<ArrayBuffer> },
    key,
    plain as Uint8Array<ArrayBuffer>,
  );
  return { iv: toBase64Url(iv), sealed: toBase64Url(new Uint8Array(sealed)) };
}

async function decrypt(
  key: CryptoKey,
  sealed: { iv: string; sealed: string },
  aad: Uint8Array,
  from: AgentKey,
): Promise<Uint8Array> {
  const iv = fromBase64Url(sealed.iv);
  const bytes = fromBase64Url(sealed.sealed);
  if (iv?.byteLength !== 12 || !bytes) throw new ShareRefusedError(from);
  try {
    return new Uint8Array(
      await crypto.subtle.decrypt(
        { name: 'AES-GCM', iv, additionalData: aad as Uint8Array<ArrayBuffer> },
        key,
        bytes as Uint8Array<ArrayBuffer>,
      ),
    );
  } catch (error) {
    throw new ShareRefusedError(from, error);
  }
}

/** The recovery secret of a person: their identity and family key, nothing else (README.md). */
export function recoverySecret(
  payload: Pick<BackupPayload, 'identity' | 'agent' | 'cluster'>,
): BackupPayload {
  const { identity, agent, cluster } = payload;
  return {
    identity,
    agent,
    ...(cluster ? { cluster } : {}),
    contacts: [],
    settings: {},
    items: [],
  };
}

/**
 * Splits `secret` among `guardians` (2 to {@link MAX_GUARDIANS}, each another agent, once) so
 * that any `threshold` of them (2 to their number) give it back and fewer tell nothing.
 */
export async function makeRecoverySetup(
  secret: BackupPayload,
  me: Me,
  guardians: readonly AgentKey[],
  threshold: number,
): Promise<RecoverySetup> {
  const total = guardians.length;
  if (new Set(guardians).size !== total || guardians.includes(me.agent)) {
    throw new RecoverySetupError('Choose each trusted contact once, and not yourself.');
  }
  if (total < 2 || total > MAX_GUARDIANS) {
    throw new RecoverySetupError(`Choose 2 to ${MAX_GUARDIANS} trusted contacts, not ${total}.`);
  }
  if (!Number.isInteger(threshold) || threshold < 2 || threshold > total) {
    throw new RecoverySetupError(
      `How many must help is 2 to ${total} (the contacts chosen), not ${threshold}.`,
    );
  }
  if (secret.agent !== me.agent) {
    throw new RecoverySetupError('The recovery secret must be this browser’s own identity.');
  }
  const setup = toBase64Url(crypto.getRandomValues(new Uint8Array(16)));
  const parts = await split(new TextEncoder().encode(payloadToJson(secret)), total, threshold);
  const shares = await Promise.all(
    guardians.map(async (guardian, i) => {
      const key = await shareKey(me, guardian, setup);
      const aad = label(SHARE_LABEL, setup, me.agent, guardian, threshold, total);
      return { guardian, ...(await encrypt(key, parts[i] as Uint8Array, aad)) };
    }),
  );
  return { setup, threshold, shares };
}

const shareKey = (me: Me, other: AgentKey, setup: string) =>
  deriveRelationshipKey(me.secret, me.agent, other, `${SHARE_LABEL}/${setup}`, 'encrypt');
const releaseKey = (me: Me, other: AgentKey, setup: string) =>
  deriveRelationshipKey(me.secret, me.agent, other, `${RELEASE_LABEL}/${setup}`, 'encrypt');

/**
 * A guardian's share, released to `requester` (the new browser that asks): opened with the
 * guardian's relationship key with the owner, sealed again for the requester.
 */
export async function releaseShare(
  share: HeldShare,
  requester: AgentKey,
  me: Me,
): Promise<{ iv: string; sealed: string }> {
  const { owner, setup, threshold, total } = share;
  const plain = await decrypt(
    await shareKey(me, owner, setup),
    share,
    label(SHARE_LABEL, setup, owner, me.agent, threshold, total),
    owner,
  );
  try {
    return await encrypt(
      await releaseKey(me, requester, setup),
      plain,
      label(RELEASE_LABEL, setup, owner, me.agent, requester, threshold),
    );
  } finally {
    plain.fill(0);
  }
}

/** Every way of choosing `k` of `items`, in order (at most C(10, 5) = 252 here). */
function* choose<T>(items: readonly T[], k: number, from = 0): Generator<T[]> {
  if (k === 0) {
    yield [];
    return;
  }
  for (let i = from; i <= items.length - k; i++) {
    for (const rest of choose(items, k - 1, i + 1)) yield [items[i] as T, ...rest];
  }
}

/** The secret from `parts`, if they give back a payload whose identity is `owner`'s. */
async function secretOf(parts: Uint8Array[], owner: AgentKey): Promise<BackupPayload | undefined> {
  try {
    const payload = payloadFromJson(new TextDecoder().decode(await combine(parts)));
    return payload.agent === owner ? payload : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Where the recovery of each owner stands, from the releases sent to this browser (`me`, the
 * requester). A share that does not open is refused and left out; with at least `threshold`
 * that open, sets of `threshold` are tried until one gives back the owner's own identity (so
 * one guardian's bad share among more than enough does not stop it).
 */
export async function recoverFrom(
  releases: readonly Release[],
  me: Me,
): Promise<RecoveryProgress[]> {
  const groups = new Map<string, Release[]>();
  for (const release of releases) {
    if (release.requester !== me.agent) continue;
    const key = `${release.owner} ${release.setup}`;
    groups.set(key, [...(groups.get(key) ?? []), release]);
  }
  const progress: RecoveryProgress[] = [];
  for (const group of groups.values()) {
    const { owner, setup } = group[0] as Release;
    const need = Math.max(...group.map((r) => r.threshold));
    const parts: Uint8Array[] = [];
    const refused: RecoveryProgress['refused'] = [];
    for (const r of group) {
      try {
        const key = await releaseKey(me, r.guardian, setup);
        const aad = label(RELEASE_LABEL, setup, owner, r.guardian, me.agent, need);
        parts.push(await decrypt(key, r, aad, r.guardian));
      } catch (error) {
        refused.push({ guardian: r.guardian, reason: (error as Error).message });
      }
    }
    let payload: BackupPayload | undefined;
    if (parts.length >= need) {
      for (const chosen of choose(parts, need)) {
        payload = await secretOf(chosen, owner);
        if (payload) break;
      }
    }
    progress.push({
      owner,
      setup,
      have: parts.length,
      need,
      refused,
      ...(payload ? { payload } : {}),
    });
  }
  return progress;
}

/**
 * The code a guardian checks with the person, out of band, before releasing a share: 8 digits
 * of SHA-256 of the requesting browser's agent key, so a link swapped for an attacker's shows
 * another code.
 */
export async function requestCode(requester: AgentKey): Promise<string> {
  const digest = new Uint8Array(
    await crypto.subtle.digest('SHA-256', new TextEncoder().encode(requester)),
  );
  const n = new DataView(digest.buffer).getUint32(0) % 100_000_000;
  const digits = n.toString().padStart(8, '0');
  return `${digits.slice(0, 4)} ${digits.slice(4)}`;
}
