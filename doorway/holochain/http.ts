import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import type { Logger } from '../log.ts';
import { type Route, sendJson } from '../routes.ts';
import type { ConductorEmulator } from './conductor.ts';
import { verifyEd25519 } from './ed25519.ts';
import { ed25519OfAgent, hashFromB64, hashToB64, hasValidLocation, isHoloHash } from './hash.ts';
import { type SessionClaims, type SessionTokens, TokenError } from './jwt.ts';
import type { ConductorProxy } from './proxy.ts';
import { DNA_HASHES, ROLES } from './store.ts';
import { rejectUpgrade } from './upgrade.ts';
import { CAP_SECRET_LENGTH } from './wire.ts';

/** What a dev-token request signs: this prefix, then the timestamp (ms) in decimal. */
export const DEV_TOKEN_CHALLENGE = 'elohim-doorway-dev-token:';
/** How far a dev-token request's timestamp may be from the doorway's clock. */
export const DEV_TOKEN_MAX_SKEW_MS = 5 * 60 * 1000;
/** Lifetime of a session token (JWT). */
export const SESSION_TTL_S = 24 * 3600;
/** Lifetime of an app websocket token from /hc/connect (as the Rust doorway issues them). */
export const APP_TOKEN_TTL_S = 3600;
/** What /hc/connect calls the conductor that answers (the Rust doorway names its pool's). */
export const EMULATOR_CONDUCTOR_ID = 'emulator';

const MAX_BODY_BYTES = 16 * 1024;
const APP_PATH = /^\/hc\/app\/(?<port>\d{1,5})$/;

class HttpError extends Error {
  override name = 'HttpError';
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
  /** Exactly one of these: the emulator, or the proxy to a real conductor. */
  emulator?: ConductorEmulator;
  proxy?: ConductorProxy;
  log: Logger;
}

/** The `/hc` routes and the `/hc/app/{port}` websocket upgrade (see README.md). */
export function hcHttp(options: HcHttpOptions) {
  const { sessions, devTokens, emulator, proxy, log } = options;
  const wss = new WebSocketServer({ noServer: true, clientTracking: false, maxPayload: 16 << 20 });

  const devToken = handled(async (req, res) => {
    if (!devTokens) {
      throw new HttpError(
        403,
        'Dev tokens are off on this doorway: start it with --hc-dev-tokens on (trusted networks only)',
      );
    }
    const body = await readJson(req);
    const { agentPubKey, timestamp } = body;
    let agent: Uint8Array;
    try {
      agent = hashFromB64(String(agentPubKey));
    } catch {
      throw new HttpError(400, 'agentPubKey must be a HoloHash agent key in text (uhCAk…)');
    }
    if (!isHoloHash(agent, 'agent')) {
      throw new HttpError(400, 'agentPubKey must be 39 bytes starting 84 20 24 (an agent key)');
    }
    if (!hasValidLocation(agent)) {
      throw new HttpError(
        400,
        'agentPubKey has wrong location bytes: the last 4 bytes must be dhtLocationFrom32 of the key',
      );
    }
    if (typeof timestamp !== 'number' || !Number.isSafeInteger(timestamp)) {
      throw new HttpError(400, 'timestamp must be milliseconds since the Unix epoch');
    }
    if (Math.abs(Date.now() - timestamp) > DEV_TOKEN_MAX_SKEW_MS) {
      throw new HttpError(
        401,
        'timestamp is more than 5 minutes off: check the clock and sign anew',
      );
    }
    const signature = base64Field(body, 'signature', 64);
    const message = new TextEncoder().encode(`${DEV_TOKEN_CHALLENGE}${timestamp}`);
    if (!verifyEd25519(signature, message, ed25519OfAgent(agent))) {
      throw new HttpError(
        401,
        `signature does not verify: sign "${DEV_TOKEN_CHALLENGE}<timestamp>" with the agent's Ed25519 key`,
      );
    }
    const agentB64 = hashToB64(agent);
    const { token, exp } = sessions.issue(agentB64, SESSION_TTL_S);
    log.info(`hc: dev token issued to ${agentB64}`);
    sendJson(res, 200, { token, agentPubKey: agentB64, expiresAt: exp * 1000 });
  });

  const connect = handled(async (req, res) => {
    const claims = bearer(req, sessions);
    if (!emulator) {
      throw new HttpError(
        501,
        "In proxy mode (--hc-conductor) /hc/connect would need the conductor's admin API, which this doorway does not reach: grant the capability and issue the app token with the conductor's admin tools, then connect to /hc/app/{port}",
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
    const app = emulator.store.installApp(agent);
    for (const role of ROLES) {
      emulator.store.grantAssigned(
        [DNA_HASHES[role], agent],
        signingKey,
        capSecret,
        `chaperone-${role}`,
      );
    }
    const appToken = emulator.store.issueAppToken(app.installedAppId, APP_TOKEN_TTL_S);
    const { token } = sessions.issue(claims.agent_pub_key, SESSION_TTL_S);
    log.info(`hc: ${claims.agent_pub_key} connected (signing key ${hashToB64(signingKey)})`);
    sendJson(res, 200, {
      appToken: b64(appToken),
      // The app websocket is on this same HTTP server: its port names it, as a conductor's would.
      appPort: req.socket.localPort,
      agentPubKey: b64(agent),
      installedAppId: app.installedAppId,
      conductorId: EMULATOR_CONDUCTOR_ID,
      cellIds: Object.fromEntries(ROLES.map((role) => [role, [b64(DNA_HASHES[role]), b64(agent)]])),
      token,
    });
  });

  const routes: Route[] = [
    { method: 'POST', path: /\/hc\/dev\/token/, handle: devToken },
    { method: 'POST', path: /\/hc\/connect/, handle: connect },
    {
      // Browsers ask before a cross-origin POST with a JSON body or an Authorization header.
      method: 'OPTIONS',
      path: /\/hc\/(dev\/token|connect)/,
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
    wss.handleUpgrade(req, socket, head, (ws) => emulator?.serve(ws, claims.agent_pub_key));
    return true;
  }

  return {
    routes,
    handleUpgrade,
    close: () => new Promise<void>((done) => wss.close(() => done())),
  };
}
