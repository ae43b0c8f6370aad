import { createHash, randomBytes } from 'node:crypto';
import type { TrustLimits } from './limits.ts';

/**
 * Challenges the doorway hands out (`POST /hc/challenge`) for an agent to sign: a dev-token
 * request, or a grant letting another key act on the agent's cells (`/hc/connect`). Each names
 * this doorway (its libp2p PeerId and the origin it was asked at) and carries a random nonce
 * that the doorway redeems once, so a signature is good for one request on one doorway.
 *
 * Kept in memory only: a restart forgets them (clients ask again). Every challenge lives
 * equally long, so the Map's insertion order is expiry order; past `maxChallenges` the oldest
 * is forgotten, so asking for many fills nothing.
 */

export interface Challenge {
  nonce: string;
  /** The doorway's libp2p PeerId. */
  doorway: string;
  /** The origin the challenge was asked at (`https://doorway.example`). */
  origin: string;
  /** Milliseconds since the Unix epoch. */
  expiresAt: number;
}

/** First line of what a dev-token request signs. */
export const DEV_TOKEN_PURPOSE = 'elohim-doorway-dev-token/v2';
/** First line of what an agent signs to let another key act on its cells. */
export const CONNECT_GRANT_PURPOSE = 'elohim-doorway-connect-grant/v1';

/** The text an agent signs (UTF-8): purpose, the challenge's doorway and origin, fields, nonce. */
function challengeText(purpose: string, challenge: Challenge, fields: [string, string][]): string {
  return [
    purpose,
    `doorway: ${challenge.doorway}`,
    `origin: ${challenge.origin}`,
    ...fields.map(([name, value]) => `${name}: ${value}`),
    `nonce: ${challenge.nonce}`,
  ].join('\n');
}

/** What `agent` (uhCAk…) signs to get a session token. */
export function devTokenText(challenge: Challenge, agent: string): string {
  return challengeText(DEV_TOKEN_PURPOSE, challenge, [['agent', agent]]);
}

/**
 * What `agent` signs to let `signingKey` (uhCAk…) call its cells with the capability secret
 * whose SHA-256 is `capSecretSha256` (base64url).
 */
export function connectGrantText(
  challenge: Challenge,
  agent: string,
  signingKey: string,
  capSecretSha256: string,
): string {
  return challengeText(CONNECT_GRANT_PURPOSE, challenge, [
    ['agent', agent],
    ['signing-key', signingKey],
    ['cap-secret-sha256', capSecretSha256],
  ]);
}

export function sha256Base64url(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('base64url');
}

export class Challenges {
  private readonly open = new Map<string, Challenge>();

  constructor(
    readonly doorway: string,
    private readonly limits: Pick<TrustLimits, 'challengeTtlMs' | 'maxChallenges'>,
  ) {}

  issue(origin: string, now = Date.now()): Challenge {
    for (const [nonce, challenge] of this.open) {
      if (challenge.expiresAt > now && this.open.size < this.limits.maxChallenges) break;
      this.open.delete(nonce);
    }
    const challenge: Challenge = {
      nonce: randomBytes(32).toString('base64url'),
      doorway: this.doorway,
      origin,
      expiresAt: now + this.limits.challengeTtlMs,
    };
    this.open.set(challenge.nonce, challenge);
    return challenge;
  }

  /**
   * Takes a challenge out, whatever comes next: a nonce is good for one try. 'unknown' covers
   * never issued here, already used, and forgotten (restart, or crowded out).
   */
  redeem(nonce: string, now = Date.now()): Challenge | 'unknown' | 'expired' {
    const challenge = this.open.get(nonce);
    if (!challenge) return 'unknown';
    this.open.delete(nonce);
    return challenge.expiresAt > now ? challenge : 'expired';
  }
}
