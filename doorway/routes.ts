import type { IncomingMessage, ServerResponse } from 'node:http';
import { publicKeyFromRaw } from '@libp2p/crypto/keys';
import { peerIdFromPublicKey, peerIdFromString } from '@libp2p/peer-id';
import { type IceServer, iceServersAt, type TurnCredentials } from './ice-servers.ts';
import type { DoorwayP2p } from './p2p.ts';
import { capabilitiesOf } from './peers.ts';

/** Entries `/api/v1/federation/p2p-peers` lists at most (and by default), the doorway included. */
export const MAX_LISTED_PEERS = 100;

export interface RouteContext {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  /** Named groups of the route's pattern, URL-decoded. */
  params: Record<string, string>;
}

export interface Route {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'OPTIONS';
  /** Matched against the whole path (no query string); named groups become `params`. */
  path: RegExp;
  handle(ctx: RouteContext): void | Promise<void>;
}

/**
 * The `?limit=N` of a listing route, 1 to `max` (`max` when absent), or `undefined` after
 * answering 400: every listing is bounded, whatever the caller asks.
 */
export function queryLimit(url: URL, res: ServerResponse, max: number): number | undefined {
  const asked = url.searchParams.get('limit');
  const limit = asked === null ? max : Number(asked);
  if (Number.isSafeInteger(limit) && limit >= 1 && limit <= max) return limit;
  sendJson(res, 400, { error: `limit must be an integer from 1 to ${max}` });
  return undefined;
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'Cache-Control': 'no-store',
    'Access-Control-Allow-Origin': '*',
  });
  res.end(JSON.stringify(body));
}

/**
 * Finds the route for a request. Returns false when no route's path matches (the caller serves
 * the app); answers 405 when the path matches but not the method.
 */
export async function dispatch(
  routes: readonly Route[],
  req: IncomingMessage,
  res: ServerResponse,
): Promise<boolean> {
  const url = new URL(req.url ?? '/', 'http://doorway.invalid');
  const method = req.method === 'HEAD' ? 'GET' : req.method;
  const allowed: string[] = [];
  for (const route of routes) {
    const match = route.path.exec(url.pathname);
    if (match == null || match[0] !== url.pathname) continue;
    if (route.method !== method) {
      allowed.push(route.method);
      continue;
    }
    const params: Record<string, string> = {};
    for (const [name, value] of Object.entries(match.groups ?? {})) {
      try {
        params[name] = decodeURIComponent(value);
      } catch {
        sendJson(res, 400, { error: `malformed URL component: ${value}` });
        return true;
      }
    }
    await route.handle({ req, res, url, params });
    return true;
  }
  if (allowed.length === 0) return false;
  // A GET route answers HEAD too (above).
  if (allowed.includes('GET')) allowed.splice(allowed.indexOf('GET') + 1, 0, 'HEAD');
  res.setHeader('Allow', allowed.join(', '));
  sendJson(res, 405, { error: `use ${allowed.join(' or ')}` });
  return true;
}

/** HoloHash agent key prefix (`84 20 24`), base64url-encoded with Holochain's `u` multibase. */
const AGENT_PREFIX = [0x84, 0x20, 0x24];

/**
 * Reads the id in `/signal/{pubkey}`: a libp2p PeerId string (`12D3KooW…`), or a Holochain
 * agent key (`uhCAk…`), which wraps the same Ed25519 public key (docs/design.md §2).
 */
export function parsePubkey(text: string): string {
  if (text.startsWith('u') && text.length === 53) {
    const bytes = Buffer.from(text.slice(1), 'base64url');
    if (bytes.length === 39 && AGENT_PREFIX.every((b, i) => bytes[i] === b)) {
      return peerIdFromPublicKey(publicKeyFromRaw(bytes.subarray(3, 35))).toString();
    }
  }
  const id = peerIdFromString(text);
  if (id.type === 'url') throw new Error('not a public-key PeerId');
  return id.toString();
}

/**
 * The doorway's libp2p routes: how browsers find the relay and each other, and the ICE servers
 * their WebRTC connections use. With `rustBootstrapOnly` (tests only) the first two answer as
 * a Rust doorway does: `/api/v1/p2p/info` 404, `/signal/{pubkey}` 400 to a plain GET (there a
 * WebSocket endpoint); `/api/v1/federation/p2p-peers` is then the way in.
 */
export function p2pRoutes(
  p2p: DoorwayP2p,
  options: { iceServers?: IceServer[]; turn?: TurnCredentials; rustBootstrapOnly?: boolean } = {},
): Route[] {
  const rust = options.rustBootstrapOnly === true;
  return [
    {
      method: 'GET',
      path: /\/api\/v1\/p2p\/info/,
      handle: ({ res }) =>
        rust
          ? sendJson(res, 404, { error: 'no such route (answering as a Rust doorway)' })
          : sendJson(res, 200, {
              peer_id: p2p.peerId,
              multiaddrs: p2p.multiaddrs(),
              protocols: p2p.protocols(),
              ice_servers: iceServersAt(options.iceServers ?? [], options.turn),
            }),
    },
    {
      method: 'GET',
      path: /\/signal\/(?<pubkey>[^/]+)/,
      handle: ({ res, params }) => {
        if (rust) {
          sendJson(res, 400, {
            error: 'expected a WebSocket upgrade (answering as a Rust doorway)',
          });
          return;
        }
        let asker: string;
        try {
          asker = parsePubkey(params.pubkey ?? '');
        } catch (error) {
          sendJson(res, 400, {
            error: `not a PeerId or agent key: ${params.pubkey} (${(error as Error).message})`,
          });
          return;
        }
        // A bounded random sample, not the registry: a browser dials at most a few of them, and
        // the answer stays small however many peers are connected (README, "Bounded discovery").
        const peers = p2p.peers
          .sample({ exclude: asker })
          .map((p) => ({ peer_id: p.peerId, multiaddrs: p.multiaddrs }));
        sendJson(res, 200, { peers });
      },
    },
    {
      method: 'GET',
      path: /\/api\/v1\/federation\/p2p-peers/,
      handle: ({ res, url }) => {
        const limit = queryLimit(url, res, MAX_LISTED_PEERS);
        if (limit === undefined) return;
        const peers = [
          // The doorway itself first: the relay everyone can reach directly.
          {
            peer_id: p2p.peerId,
            multiaddrs: p2p.multiaddrs(),
            capabilities: capabilitiesOf(p2p.protocols()),
            nat_status: 'Public',
          },
          ...p2p.peers.list({ limit: limit - 1 }).map((p) => ({
            peer_id: p.peerId,
            multiaddrs: p.multiaddrs,
            capabilities: p.capabilities,
            nat_status: p.natStatus,
          })),
        ];
        sendJson(res, 200, { peers, total: p2p.peers.size + 1 });
      },
    },
  ];
}
