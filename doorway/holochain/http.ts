import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import {
  type ChallengeWire,
  type ConnectAnswer,
  connectGrantText,
  type DevTokenAnswer,
  devTokenText,
  ElohimError,
} from '../../src/wire/index.ts';
import type { Logger } from '../log.ts';
import { type Route, sendJson } from '../routes.ts';
import { Challenges, sha256Base64url } from './challenge.ts';
import { type Chaperone, ChaperoneError } from './chaperone.ts';
import type { ConductorEmulator } from './conductor.ts';
import { verifyEd25519 } from './ed25519.ts';
import {
  ed25519OfAgent,
  hashFromB64,
  hashToB64,
  hasValidLocation,
  isHoloHash,
  sameBytes,
} from './hash.ts';
import { type SessionClaims, type SessionTokens, TokenError } from './jwt.ts';
import type { TrustLimits } from './limits.ts';
import type { ConductorProxy } from './proxy.ts';
import { rejectUpgrade } from './upgrade.ts';
import { CAP_SECRET_LENGTH } from './wire.ts';

/** Lifetime of a session token (JWT). */
export const SESSION_TTL_S = 24 * 3600;

const MAX_BODY_BYTES = 16 * 1024;
const APP_PATH = /^\/hc\/app\/(?<port>\d{1,5})$/;
/** A challenge nonce: 32 random bytes, base64url. */
const NONCE = /^[A-Za-z0-9_-]{43}$/;
const HOST = /^([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(:\d{1,5})?$/;

class HttpError extends ElohimError.named('HttpError') {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, `body larger than ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  let body: unknown;
  try {
    body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new HttpError(400, 'body must be JSON');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new HttpError(400, 'body must be a JSON object');
  }
  return body as Record<string, unknown>;
}

/** Standard base64 (the Rust doorway's encoding); base64url is accepted too. */
function base64Field(body: Record<string, unknown>, field: string, length: number): Uint8Array {
  const value = body[field];
  if (typeof value !== 'string' || !/^[A-Za-z0-9+/_-]+={0,2}$/.test(value)) {
    throw new HttpError(400, `${field} must be a base64 string`);
  }
  const bytes = new Uint8Array(Buffer.from(value, 'base64'));
  if (bytes.length !== length) {
    throw new HttpError(400, `${field} must decode to ${length} bytes, got ${bytes.length}`);
  }
  return bytes;
}

/** An agent key in HoloHash text (`uhCAk…`) with valid location bytes. */
function agentField(body: Record<string, unknown>, field: string): Uint8Array {
  let agent: Uint8Array;
  try {
    agent = hashFromB64(String(body[field]));
  } catch {
    throw new HttpError(400, `${field} must be a HoloHash agent key in text (uhCAk…)`);
  }
  if (!isHoloHash(agent, 'agent')) {
    throw new HttpError(400, `${field} must be 39 bytes starting 84 20 24 (an agent key)`);
  }
  if (!hasValidLocation(agent)) {
    throw new HttpError(
      400,
      `${field} has wrong location bytes: the last 4 bytes must be dhtLocationFrom32 of the key`,
    );
  }
  return agent;
}

function firstHeader(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return (Array.isArray(value) ? value[0] : value)?.split(',')[0]?.trim() || undefined;
}

/**
 * The origin a request was sent to, as the browser sees it: `Host` (or `X-Forwarded-Host`) and
 * the scheme (`X-Forwarded-Proto` from a TLS-terminating reverse proxy, else the socket's).
 * It names the doorway in challenges; the client refuses a challenge naming another origin.
 */
function requestOrigin(req: IncomingMessage): string {
  const forwarded = firstHeader(req, 'x-forwarded-proto')?.toLowerCase();
  const scheme =
    forwarded === 'https' || forwarded === 'http'
      ? forwarded
      : (req.socket as { encrypted?: boolean }).encrypted
        ? 'https'
        : 'http';
  const host = firstHeader(req, 'x-forwarded-host') ?? firstHeader(req, 'host');
  if (!host || !HOST.test(host)) {
    throw new HttpError(400, 'the request must name the doorway in its Host header');
  }
  return new URL(`${scheme}://${host}`).origin;
}

function b64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64');
}

/** Wraps a handler so HttpErrors become JSON answers. */
function handled(fn: (req: IncomingMessage, res: ServerResponse) => Promise<void> | void) {
  return async ({ req, res }: { req: IncomingMessage; res: ServerResponse }) => {
    try {
      await fn(req, res);
    } catch (error) {
      if (!(error instanceof HttpError)) throw error;
      sendJson(res, error.status, { error: error.message });
    }
  };
}

function bearer(req: IncomingMessage, sessions: SessionTokens): SessionClaims {
  const header = req.headers.authorization ?? '';
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  if (!match) {
    throw new HttpError(401, 'Missing Authorization: Bearer <token> (get one from /hc/dev/token)');
  }
  try {
    return sessions.verify(match[1] as string);
  } catch (error) {
    throw new HttpError(401, `Invalid or expired token: ${(error as Error).message}`);
  }
}

export interface HcHttpOptions {
  sessions: SessionTokens;
  devTokens: boolean;
  /** The doorway's libp2p PeerId: every challenge names it. */
  peerId: string;
  /**
   * The doorway's own agent key (base64): its peer proves this key like anyone, and gets a
   * session token even with dev tokens off (it announces what the doorway keeps).
   */
  selfAgent?: string;
  limits: Readonly<TrustLimits>;
  /** Exactly one of these: the emulator, or the proxy to a real conductor. */
  emulator?: ConductorEmulator;
  proxy?: ConductorProxy;
  /**
   * Does `/hc/connect`'s grants: the emulator's store, or a conductor's admin interface.
   * Absent (proxy mode without `--hc-admin`): `/hc/connect` answers 501.
   */
  chaperone?: Chaperone;
  log: Logger;
}

/** The `/hc` routes and the `/hc/app/{port}` websocket upgrade (see README.md). */
export function hcHttp(options: HcHttpOptions) {
  const { sessions, devTokens, emulator, proxy, chaperone, log, limits } = options;
  const challenges = new Challenges(options.peerId, limits);
  const wss = new WebSocketServer({
    noServer: true,
    clientTracking: false,
    maxPayload: limits.maxMessageBytes,
    perMessageDeflate: false,
    closeTimeout: limits.closeTimeoutMs,
  });

  /**
   * The challenge `body[field]` names, taken out (one try per nonce): refused when unknown,
   * used, expired, or asked for at another origin than this request's.
   */
  function redeem(
    req: IncomingMessage,
    body: Record<string, unknown>,
    field: string,
  ): ChallengeWire {
    const nonce = body[field];
    if (typeof nonce !== 'string' || !NONCE.test(nonce)) {
      throw new HttpError(400, `${field} must be the nonce of a challenge from POST /hc/challenge`);
    }
    const challenge = challenges.redeem(nonce);
    if (typeof challenge === 'string') {
      throw new HttpError(
        401,
        `${field} is ${challenge === 'expired' ? 'expired' : 'unknown here or already used'}: each challenge is good for one request on the doorway that issued it — ask POST /hc/challenge for a new one and sign that`,
      );
    }
    const origin = requestOrigin(req);
    if (challenge.origin !== origin) {
      throw new HttpError(
        401,
        `${field} was issued for ${challenge.origin}, not ${origin}: ask this origin's /hc/challenge`,
      );
    }
    return challenge;
  }

  function checkSignature(signature: Uint8Array, text: string, agent: Uint8Array, what: string) {
    if (!verifyEd25519(signature, new TextEncoder().encode(text), ed25519OfAgent(agent))) {
      throw new HttpError(
        401,
        `${what} does not verify: sign the challenge text (doorway/holochain/README.md) with the agent's Ed25519 key`,
      );
    }
  }

  const challenge = handled((req, res) => {
    sendJson(res, 200, challenges.issue(requestOrigin(req)));
  });

  const devToken = handled(async (req, res) => {
    const body = devTokens || options.selfAgent ? await readJson(req) : undefined;
    const agent = body ? agentField(body, 'agentPubKey') : undefined;
    if (!body || !agent || (!devTokens && hashToB64(agent) !== options.selfAgent)) {
      throw new HttpError(
        403,
        'Dev tokens are off on this doorway: start it with --hc-dev-tokens on (trusted networks only)',
      );
    }
    if (body.nonce === undefined && body.timestamp !== undefined) {
      throw new HttpError(
        400,
        'timestamp-signed requests are no longer accepted: POST /hc/challenge, sign its dev-token text and send {agentPubKey, nonce, signature}',
      );
    }
    const signature = base64Field(body, 'signature', 64);
    const agentB64 = hashToB64(agent);
    checkSignature(
      signature,
      devTokenText(redeem(req, body, 'nonce'), agentB64),
      agent,
      'signature',
    );
    const { token, exp } = sessions.issue(agentB64, SESSION_TTL_S);
    log.info(`hc: dev token issued to ${agentB64}`);
    sendJson(res, 200, {
      token,
      agentPubKey: agentB64,
      expiresAt: exp * 1000,
    } satisfies DevTokenAnswer);
  });

  /**
   * Grants `signingKey` on the session agent's cells. The agent's own key needs nothing more
   * (it holds the session); any other key needs the agent's signature over a fresh challenge
   * naming that key and the secret, so a session alone never lets a stranger write the cells.
   */
  const connect = handled(async (req, res) => {
    const claims = bearer(req, sessions);
    if (!chaperone) {
      throw new HttpError(
        501,
        "In proxy mode /hc/connect needs the conductor's admin API: start the doorway with --hc-admin <the conductor's admin interface> too (or grant the capability and issue the app token with the conductor's admin tools, then connect to /hc/app/{port})",
      );
    }
    const body = await readJson(req);
    const signingKey = base64Field(body, 'signingKey', 39);
    if (!isHoloHash(signingKey, 'agent')) {
      throw new HttpError(
        400,
        'signingKey must be an agent-shaped key: 84 20 24 + 32-byte Ed25519 key + 4 bytes',
      );
    }
    const capSecret = base64Field(body, 'capSecret', CAP_SECRET_LENGTH);
    const agent = hashFromB64(claims.agent_pub_key);
    if (!sameBytes(signingKey, agent)) {
      const grant = body.grant;
      if (typeof grant !== 'object' || grant === null || Array.isArray(grant)) {
        throw new HttpError(
          403,
          "signingKey is not this session's agent key: another key may act on the agent's cells only with grant {nonce, signature}, the agent's signature over a fresh challenge naming that key and the cap secret (doorway/holochain/README.md)",
        );
      }
      const fields = grant as Record<string, unknown>;
      const signature = base64Field(fields, 'signature', 64);
      const text = connectGrantText(
        redeem(req, fields, 'nonce'),
        claims.agent_pub_key,
        hashToB64(signingKey),
        sha256Base64url(capSecret),
      );
      checkSignature(signature, text, agent, 'grant signature');
    }
    let granted: Awaited<ReturnType<Chaperone['connect']>>;
    try {
      // A client that leaves stops the sign-in between the conductor's steps.
      const left = new AbortController();
      // (The response's close, not the request's: that one fires once the body is read.)
      res.once('close', () => {
        if (!res.writableEnded) left.abort(new HttpError(499, 'the client went away'));
      });
      granted = await chaperone.connect(agent, signingKey, capSecret, { signal: left.signal });
    } catch (error) {
      if (!(error instanceof ChaperoneError)) throw error;
      throw new HttpError(error.busy ? 503 : 502, error.message);
    }
    const { token } = sessions.issue(claims.agent_pub_key, SESSION_TTL_S);
    log.info(`hc: ${claims.agent_pub_key} connected (signing key ${hashToB64(signingKey)})`);
    sendJson(res, 200, {
      appToken: b64(granted.appToken),
      // The app websocket is on this same HTTP server (in proxy mode forwarded from it to the
      // conductor): its port names it, as a conductor's would.
      appPort: req.socket.localPort,
      agentPubKey: b64(agent),
      installedAppId: granted.installedAppId,
      conductorId: granted.conductorId,
      cellIds: Object.fromEntries(
        Object.entries(granted.cellIds).map(([role, [dna, cellAgent]]) => [
          role,
          [b64(dna), b64(cellAgent)],
        ]),
      ),
      token,
    } satisfies ConnectAnswer);
  });

  const routes: Route[] = [
    { method: 'POST', path: /\/hc\/challenge/, handle: challenge },
    { method: 'POST', path: /\/hc\/dev\/token/, handle: devToken },
    { method: 'POST', path: /\/hc\/connect/, handle: connect },
    {
      // Browsers ask before a cross-origin POST with a JSON body or an Authorization header.
      method: 'OPTIONS',
      path: /\/hc\/(challenge|dev\/token|connect)/,
      handle: ({ res }) => {
        res.writeHead(204, {
          'Access-Control-Allow-Origin': '*',
          'Access-Control-Allow-Methods': 'POST',
          'Access-Control-Allow-Headers': 'Authorization, Content-Type',
          'Access-Control-Max-Age': '600',
        });
        res.end();
      },
    },
  ];

  /** Takes `/hc/app/{port}?token=<jwt>` upgrades; returns false for any other path. */
  function handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean {
    const url = new URL(req.url ?? '/', 'http://doorway.invalid');
    const match = APP_PATH.exec(url.pathname);
    if (!match) return false;
    let claims: SessionClaims;
    try {
      claims = sessions.verify(url.searchParams.get('token') ?? '');
    } catch (error) {
      const reason = error instanceof TokenError ? error.message : 'no token';
      rejectUpgrade(
        socket,
        401,
        `/hc/app needs ?token=<session token from /hc/dev/token or /hc/connect>: ${reason}`,
      );
      return true;
    }
    if (proxy) {
      proxy.forward(req, socket, head);
      return true;
    }
    if (Number(match.groups?.port) !== req.socket.localPort) {
      rejectUpgrade(
        socket,
        404,
        `no app interface on port ${match.groups?.port}: use the appPort /hc/connect returned`,
      );
      return true;
    }
    if (!emulator?.acceptsMore) {
      rejectUpgrade(
        socket,
        503,
        `${limits.maxUnauthenticated} app websockets are waiting to authenticate: retry in a few seconds`,
      );
      return true;
    }
    wss.handleUpgrade(req, socket, head, (ws) => emulator.serve(ws, socket, claims.agent_pub_key));
    return true;
  }

  return {
    routes,
    handleUpgrade,
    close: () => new Promise<void>((done) => wss.close(() => done())),
  };
}
