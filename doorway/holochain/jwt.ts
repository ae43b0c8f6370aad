import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ElohimError } from '../../src/wire/index.ts';
import { makePrivateDir, restrictFiles } from './files.ts';

/** File, inside the data dir, holding the HS256 secret of the doorway's session tokens. */
export const JWT_SECRET_FILE = 'hc-jwt.key';

export interface SessionClaims {
  /** The agent key (`uhCAk…`) the holder proved possession of. */
  agent_pub_key: string;
  sub: string;
  iss: string;
  /** Seconds since the Unix epoch. */
  iat: number;
  exp: number;
}

/**
 * The `iss` of this doorway's session tokens: the doorway's PeerId, so a token names the doorway
 * that issued it. A doorway accepts only its own (README.md, "Session tokens name the doorway").
 */
export function sessionIssuer(peerId: string): string {
  return `elohim-doorway:${peerId}`;
}

export class TokenError extends ElohimError.named('TokenError') {}

/**
 * Session tokens (JWT, HS256) of the doorway's `/hc` endpoints. The secret lives in the data dir
 * so tokens stay valid across restarts; delete the file to invalidate every token.
 */
export class SessionTokens {
  private constructor(
    private readonly secret: Buffer,
    /** This doorway's `iss` ({@link sessionIssuer}). */
    readonly issuer: string,
  ) {}

  static async open(dataDir: string, issuer: string): Promise<SessionTokens> {
    const dir = resolve(dataDir);
    const file = join(dir, JWT_SECRET_FILE);
    makePrivateDir(dir);
    try {
      await writeFile(file, randomBytes(32), { flag: 'wx', mode: 0o600 });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    // Also a key file an older version left readable to others.
    restrictFiles(file);
    const secret = await readFile(file);
    if (secret.length < 32) {
      throw new TokenError(
        `${file} holds ${secret.length} bytes, fewer than the 32 a session secret needs; delete it to make a new one (this signs everyone out)`,
      );
    }
    return new SessionTokens(secret, issuer);
  }

  issue(agentB64: string, ttlSeconds: number, now = Date.now()): { token: string; exp: number } {
    const iat = Math.floor(now / 1000);
    const claims: SessionClaims = {
      agent_pub_key: agentB64,
      sub: agentB64,
      iss: this.issuer,
      iat,
      exp: iat + ttlSeconds,
    };
    const head = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
    const body = b64url(JSON.stringify(claims));
    return { token: `${head}.${body}.${this.mac(`${head}.${body}`)}`, exp: claims.exp };
  }

  /** The claims of a valid, unexpired token of ours; throws TokenError otherwise. */
  verify(token: string, now = Date.now()): SessionClaims {
    const parts = token.split('.');
    if (parts.length !== 3) throw new TokenError('not a JWT');
    const [head, body, mac] = parts as [string, string, string];
    const expected = Buffer.from(this.mac(`${head}.${body}`));
    const given = Buffer.from(mac);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) {
      throw new TokenError('token signature does not match (issued by another doorway?)');
    }
    let header: { alg?: unknown };
    let claims: Partial<SessionClaims>;
    try {
      header = JSON.parse(Buffer.from(head, 'base64url').toString());
      claims = JSON.parse(Buffer.from(body, 'base64url').toString());
    } catch {
      throw new TokenError('token is not JSON');
    }
    if (header.alg !== 'HS256') throw new TokenError('token algorithm must be HS256');
    if (typeof claims.agent_pub_key !== 'string' || typeof claims.exp !== 'number') {
      throw new TokenError('token lacks agent_pub_key or exp');
    }
    if (claims.exp * 1000 <= now) throw new TokenError('token expired: ask for a new one');
    // Doorways sharing a conductor (or, by mistake, a key file) still keep their sessions apart.
    if (claims.iss !== this.issuer) {
      throw new TokenError(
        `token was issued by ${String(claims.iss).slice(0, 80)}, not this doorway: sign in here (POST /hc/challenge, /hc/dev/token)`,
      );
    }
    return claims as SessionClaims;
  }

  private mac(input: string): string {
    return createHmac('sha256', this.secret).update(input).digest('base64url');
  }
}

function b64url(text: string): string {
  return Buffer.from(text).toString('base64url');
}
