// The trust client keeps its outbox in IndexedDB; the doorway's lives in memory, which is
// enough: what the doorway keeps is announced again from its store at every start.
import 'fake-indexeddb/auto';
import { existsSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { multiaddr } from '@multiformats/multiaddr';
import sirv from 'sirv';
import { errorMessage } from '../src/wire/index.ts';
import { bridgeRoutes, ContentCache, httpShardHolders } from './bridge/index.ts';
import { type DoorwayConfig, MAX_HEADERS_TIMEOUT_MS } from './config.ts';
import { federationRoutes, holdersFirst } from './federation/index.ts';
import { startTrustLayer, type TrustLayer } from './holochain/index.ts';
import { storeUse } from './keeper.ts';
import type { Logger } from './log.ts';
import { type DoorwayP2p, startP2p } from './p2p.ts';
import { dispatch, p2pRoutes, type Route, sendJson } from './routes.ts';

export interface Doorway {
  /** The URL people open, e.g. http://127.0.0.1:8080/ */
  readonly url: string;
  /** The libp2p side: identity, addresses, connected peers. */
  readonly p2p: DoorwayP2p;
  /** The Holochain side: `/hc` routes and app websockets (emulated or proxied). */
  readonly trust: TrustLayer;
  /** Stops HTTP and the trust layer, then libp2p. Safe to call more than once. */
  close(): Promise<void>;
}

export class MissingBuildError extends Error {
  override name = 'MissingBuildError';
}

/**
 * How long a client may take to send its request: Node's defaults (300 s for the request, 60 s
 * for its headers, checked every 30 s) let a slow sender hold a connection for minutes.
 */
function httpTimeouts(requestTimeout: number) {
  return {
    requestTimeout,
    headersTimeout: Math.min(requestTimeout, MAX_HEADERS_TIMEOUT_MS),
    connectionsCheckingInterval: Math.min(1_000, requestTimeout / 4),
  };
}

/**
 * The built app is read-only: GET and HEAD only, and never a source map (the build emits none;
 * one copied in by hand would hand out the source).
 */
function serveStatic(
  serveApp: (req: IncomingMessage, res: ServerResponse) => void,
  req: IncomingMessage,
  res: ServerResponse,
): void {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('Allow', 'GET, HEAD');
    sendJson(res, 405, { error: `${req.method} is not allowed here: use GET or HEAD` });
    return;
  }
  const { pathname } = new URL(req.url ?? '/', 'http://doorway.invalid');
  if (pathname.endsWith('.map')) {
    sendJson(res, 404, { error: 'source maps are not served' });
    return;
  }
  serveApp(req, res);
}

/**
 * Starts the doorway: its libp2p node (relay, peer registry), the trust layer, then HTTP (the
 * built PWA, `/health`, the JSON routes and the `/hc` app websocket). Resolves once all listen.
 */
export async function startDoorway(config: DoorwayConfig, log: Logger): Promise<Doorway> {
  const staticDir = resolve(config.staticDir);
  if (!existsSync(resolve(staticDir, 'index.html'))) {
    throw new MissingBuildError(
      `No built app in ${staticDir}: run "npm run build" first (npm start does it for you).`,
    );
  }
  const startedAt = Date.now();
  const serveApp = sirv(staticDir, {
    single: true,
    etag: true,
    setHeaders(res, pathname) {
      // Hashed assets never change; index.html and the service worker must always revalidate.
      if (pathname.startsWith('/assets/')) {
        res.setHeader('Cache-Control', 'public, max-age=31536000, immutable');
      } else {
        res.setHeader('Cache-Control', 'no-cache');
      }
    },
  });

  const p2p = await startP2p(config, log);
  let trust: TrustLayer;
  let cache: ContentCache;
  try {
    // Challenges name the doorway by its PeerId, so a signature made for it is good nowhere else.
    trust = await startTrustLayer(
      { ...config, peerId: p2p.peerId, selfAgent: p2p.peer.agent },
      log,
    );
  } catch (error) {
    await p2p.stop();
    throw error;
  }
  try {
    cache = await ContentCache.open({
      dir: join(config.storeDir, 'cache'),
      maxBytes: config.cacheQuota,
      onError: (error) => log.error(`cache: ${errorMessage(error)}`),
    });
  } catch (error) {
    await trust.close();
    await p2p.stop();
    throw error;
  }
  const { peer } = p2p;
  const bridge = bridgeRoutes({
    kept: peer.store,
    cache,
    node: peer.node,
    // An item an attached browser said it holds is pulled from it, without a lookup elsewhere.
    finder: holdersFirst(p2p.federation.holdings, peer.finder),
    log,
    ...(config.storePerClient === undefined
      ? {}
      : { maxResponsesPerClient: config.storePerClient }),
    ...(config.rustStorage?.length
      ? {
          shardHolders: httpShardHolders(
            config.rustStorage.map((h) => ({
              endpoint: h.endpoint,
              multiaddr: multiaddr(h.multiaddr),
            })),
          ),
        }
      : {}),
  });
  p2p.pullThrough.attach({ cache, open: bridge.pull });

  // The route table: add routes here (or concatenate another module's list).
  const routes: Route[] = [
    {
      method: 'GET',
      path: /\/health/,
      handle: async ({ res }) =>
        sendJson(res, 200, {
          status: 'ok',
          uptime_s: (Date.now() - startedAt) / 1000,
          p2p: { peer_id: p2p.peerId, peers: p2p.peers.size },
          store: {
            kept: await storeUse(peer.store, config.storeQuota),
            cache: cache.stats(),
          },
          bridge: {
            pulling: bridge.openStreams(),
            pulled_bytes: bridge.pulledBytes(),
            // Pieces other doorways were served while they were pulled from a browser.
            pieces_pulled_through: p2p.pullThrough.piecesPulled,
          },
        }),
    },
    {
      // Content lives in browsers, not here: the app's service worker answers these URLs.
      // Without it (the app never opened in this browser) say so instead of sending the app.
      method: 'GET',
      path: /\/content\/.*/,
      handle: ({ res }) =>
        sendJson(res, 404, {
          error:
            'Content is served by the Elohim app in your browser: open the app once, then this link works.',
        }),
    },
    ...p2pRoutes(p2p, {
      ...(config.iceServers ? { iceServers: config.iceServers } : {}),
      ...(config.turn ? { turn: config.turn } : {}),
      ...(config.rustBootstrapOnly ? { rustBootstrapOnly: true } : {}),
    }),
    ...federationRoutes(p2p.federation, () => ({
      peer_id: p2p.peerId,
      multiaddrs: p2p.node.getMultiaddrs().map(String),
    })),
    ...bridge.routes,
    ...trust.routes,
  ];

  const server = createServer(httpTimeouts(config.httpRequestTimeoutMs), (req, res) => {
    log.debug(`${req.method} ${req.url}`);
    dispatch(routes, req, res)
      .then((handled) => {
        if (!handled) serveStatic(serveApp, req, res);
      })
      .catch((error: unknown) => {
        // A client that went away (or was cut by the request timeout) is not our error.
        const report = req.destroyed ? log.debug : log.error;
        report(`${req.method} ${req.url}: ${(error as Error)?.stack ?? String(error)}`);
        if (!res.headersSent) sendJson(res, 500, { error: 'internal error' });
        else res.destroy();
      });
  });
  server.keepAliveTimeout = 5_000;
  // A connection neither side writes to for this long (a client that stopped reading) is closed.
  // Upgraded app websockets are exempt: ws clears the socket's timeout (http-limits.test.ts).
  server.timeout = config.httpRequestTimeoutMs;
  server.on('upgrade', (req, socket, head) => {
    if (!trust.handleUpgrade(req, socket, head)) socket.destroy();
  });

  try {
    await new Promise<void>((resolveListen, reject) => {
      server.once('error', reject);
      server.listen(config.port, config.host, () => resolveListen());
    });
  } catch (error) {
    await bridge.close();
    await cache.close();
    await trust.close();
    await p2p.stop();
    throw error;
  }
  const { port } = server.address() as AddressInfo;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  const url = `http://${host}:${port}/`;
  // The doorway's peer is listed in its own trust layer like any holder (through HTTP, as a
  // browser would, so a conductor behind the doorway, emulated or proxied, sees the same calls).
  await p2p.peer.joinTrust({ doorway: url.slice(0, -1), displayName: 'Doorway' });
  // Doorways list themselves in the trust layer behind their /hc routes and learn of others there.
  p2p.federation.joinTrustLayer(url.slice(0, -1), url.slice(0, -1));
  let closing: Promise<void> | undefined;
  return {
    url,
    p2p,
    trust,
    close() {
      // Upgraded sockets are no longer the HTTP server's: the trust layer drops them itself.
      closing ??= Promise.all([
        trust.close(),
        new Promise<void>((resolveClose) => {
          server.close(() => resolveClose());
          server.closeAllConnections();
        }),
      ])
        .then(() => bridge.close())
        .then(() => p2p.stop())
        .then(() => cache.close());
      return closing;
    },
  };
}
