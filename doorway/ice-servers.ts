/**
 * ICE servers (STUN/TURN) the doorway hands to browsers in `/api/v1/p2p/info`, for their WebRTC
 * connections: STUN finds a browser's public address, TURN relays a connection neither side can
 * open directly (symmetric NATs). A TURN-relayed WebRTC connection carries data like any other
 * (no libp2p relay limits apply to it); the TURN server's own quotas bound it.
 *
 * Given as `--ice-servers` (repeatable) or `ELOHIM_ICE_SERVERS`, each value either
 *   - JSON: one `RTCIceServer` or an array of them (`{"urls":…,"username":…,"credential":…}`),
 *   - or comma-separated URLs, `stun:host[:port]` or `turn[s]:user:credential@host[:port][?transport=udp|tcp]`
 *     (the user and credential are taken out of the URL, which browsers would refuse otherwise).
 *
 * With `--turn-secret` (the TURN server's shared secret: coturn's `use-auth-secret` /
 * `static-auth-secret`, the "TURN REST API" scheme), TURN servers given without credentials
 * get fresh ones on every ask, valid for `--turn-ttl` seconds: username `<expiry>:elohim`,
 * credential base64(HMAC-SHA1(secret, username)). The secret never leaves the doorway, and a
 * copied credential stops working when it expires, unlike a static one anyone could read.
 */
import { createHmac } from 'node:crypto';

/** The `RTCIceServer` fields browsers take, as sent to them. */
export interface IceServer {
  urls: string[];
  username?: string;
  credential?: string;
}

/** Enough for a STUN and a few TURN servers; the list goes to every browser that asks. */
export const MAX_ICE_SERVERS = 8;
const MAX_URLS_PER_SERVER = 4;
const MAX_FIELD_CHARS = 512;
const MAX_INPUT_CHARS = 8 * 1024;

export class IceServersError extends Error {
  override name = 'IceServersError';
}

const SCHEME = /^(stuns?|turns?):/;

function checkedText(what: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_FIELD_CHARS) {
    throw new IceServersError(
      `${what} must be a non-empty string of at most ${MAX_FIELD_CHARS} characters`,
    );
  }
  return value;
}

function checkedServer(input: unknown, turnSecret: boolean): IceServer {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new IceServersError('each ICE server must be an object like {"urls":"stun:host:3478"}');
  }
  const { urls, username, credential } = input as Record<string, unknown>;
  const list = Array.isArray(urls) ? urls : [urls];
  if (list.length === 0 || list.length > MAX_URLS_PER_SERVER) {
    throw new IceServersError(`an ICE server needs 1 to ${MAX_URLS_PER_SERVER} urls`);
  }
  const server: IceServer = {
    urls: list.map((url) => {
      const text = checkedText('an ICE server url', url);
      if (!SCHEME.test(text)) {
        throw new IceServersError(`"${text}" is not a stun:, stuns:, turn: or turns: url`);
      }
      return text;
    }),
  };
  if (username !== undefined) server.username = checkedText('username', username);
  if (credential !== undefined) server.credential = checkedText('credential', credential);
  // Browsers throw on a TURN server without both: say so at start, not in every tab.
  const partial = !server.username !== !server.credential;
  if (isTurn(server) && (partial || (!server.username && !turnSecret))) {
    throw new IceServersError(
      `the TURN server ${server.urls[0]} needs a username and a credential (turn:user:credential@host:port), or --turn-secret`,
    );
  }
  return server;
}

const isTurn = (server: IceServer) => server.urls.some((u) => u.startsWith('turn'));

/** `turn:user:credential@host:3478?transport=udp` → the URL without them, and them. */
function fromUrl(text: string, turnSecret: boolean): IceServer {
  const scheme = SCHEME.exec(text)?.[0];
  if (!scheme) throw new IceServersError(`"${text}" is not a stun:, stuns:, turn: or turns: url`);
  const rest = text.slice(scheme.length);
  const at = rest.lastIndexOf('@');
  if (at === -1) return checkedServer({ urls: text }, turnSecret);
  const [username, ...secret] = rest.slice(0, at).split(':');
  return checkedServer(
    {
      urls: scheme + rest.slice(at + 1),
      username: username ? decodeURIComponent(username) : undefined,
      credential: secret.length > 0 ? decodeURIComponent(secret.join(':')) : undefined,
    },
    turnSecret,
  );
}

/**
 * Parses every `--ice-servers` value (or the environment variable's); throws what to fix.
 * `turnSecret`: TURN servers may come without credentials (they get fresh ones on each ask).
 */
export function parseIceServers(
  values: readonly string[],
  { turnSecret = false }: { turnSecret?: boolean } = {},
): IceServer[] {
  const servers: IceServer[] = [];
  for (const value of values) {
    const text = value.trim();
    if (text.length > MAX_INPUT_CHARS) {
      throw new IceServersError(`the ICE server list is over ${MAX_INPUT_CHARS} characters`);
    }
    if (text === '') continue;
    if (text.startsWith('[') || text.startsWith('{')) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch (error) {
        throw new IceServersError(`not valid JSON: ${(error as Error).message}`);
      }
      for (const server of Array.isArray(parsed) ? parsed : [parsed]) {
        servers.push(checkedServer(server, turnSecret));
      }
    } else {
      for (const url of text.split(',')) {
        if (url.trim()) servers.push(fromUrl(url.trim(), turnSecret));
      }
    }
    if (servers.length > MAX_ICE_SERVERS) {
      throw new IceServersError(`at most ${MAX_ICE_SERVERS} ICE servers, got more`);
    }
  }
  return servers;
}

/** Short-lived TURN credentials, the TURN REST API way (see the top of this file). */
export interface TurnCredentials {
  secret: string;
  /** How long a credential stays valid, in seconds. */
  ttlSeconds: number;
}

/**
 * The servers as handed out now: TURN servers without credentials get ones that expire in
 * `ttlSeconds` (coturn checks the expiry in the username and the HMAC in the credential).
 */
export function iceServersAt(
  servers: readonly IceServer[],
  turn: TurnCredentials | undefined,
  nowMs = Date.now(),
): IceServer[] {
  return servers.map((server) => {
    if (!turn || !isTurn(server) || server.username) return server;
    const username = `${Math.floor(nowMs / 1000) + turn.ttlSeconds}:elohim`;
    const credential = createHmac('sha1', turn.secret).update(username).digest('base64');
    return { ...server, username, credential };
  });
}
