import { createHash, randomBytes } from 'node:crypto';
import type { ChallengeWire } from '../../src/wire/index.ts';
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

export function sha256Base64url(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('base64url');
}

export class Challenges {
  private readonly open = new Map<string, ChallengeWire>();

  constructor(
    readonly doorway: string,
    private readonly limits: Pick<TrustLimits, 'challengeTtlMs' | 'maxChallenges'>,
  ) {}

  issue(origin: string, now = Date.now()): ChallengeWire {
    for (const [nonce, challenge] of this.open) {
      if (challenge.expiresAt > now && this.open.size < this.limits.maxChallenges) break;
      this.open.delete(nonce);
    }
    const challenge: ChallengeWire = {
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
  redeem(nonce: string, now = Date.now()): ChallengeWire | 'unknown' | 'expired' {
    const challenge = this.open.get(nonce);
    if (!challenge) return 'unknown';
    this.open.delete(nonce);
    return challenge.expiresAt > now ? challenge : 'expired';
  }
}
