import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import type { Logger } from '../log.ts';
import { AdminApi } from './admin.ts';
import { ConductorEmulator } from './conductor.ts';
import { type TrustLimits, trustLimits } from './limits.ts';
import { EmulatorStore } from './store.ts';
import { rejectUpgrade } from './upgrade.ts';

/** Origins an interface accepts: `'*'` any (and none), else exactly these `Origin` headers. */
export type AllowedOrigins = '*' | readonly string[];

export interface AdminLimits {
  /** Largest admin message (ws maxPayload, checked on the frame header before it is read). */
  maxAdminMessageBytes: number;
  /** Admin websockets open at once; more get HTTP 503. */
  maxAdminConnections: number;
}

export const DEFAULT_ADMIN_LIMITS: Readonly<AdminLimits> = Object.freeze({
  // install_app with a path, a grant, a token request: each well under 1 KiB.
  maxAdminMessageBytes: 64 * 1024,
  maxAdminConnections: 16,
});

export interface ConductorInterfacesConfig {
  /** Interface both listen on; 127.0.0.1 unless the operator knows better (no authentication on admin). */
  host: string;
  /** 0 asks the OS for a free port. */
  adminPort: number;
  appPort: number;
  /** Holds `hc-emulator.sqlite`, as a doorway's data dir does. */
  dataDir: string;
  adminOrigins: AllowedOrigins;
  appOrigins: AllowedOrigins;
  limits?: Partial<TrustLimits & AdminLimits>;
}

export interface ConductorInterfaces {
  readonly host: string;
  readonly adminPort: number;
  readonly appPort: number;
  close(): Promise<void>;
}

/** Whether `req`'s Origin is allowed: a browser page elsewhere must not reach the conductor. */
function originAllowed(req: IncomingMessage, allowed: AllowedOrigins): boolean {
  if (allowed === '*') return true;
  const origin = req.headers.origin;
  return typeof origin === 'string' && allowed.includes(origin);
}

async function listen(server: Server, port: number, host: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return (server.address() as AddressInfo).port;
}

/**
 * An HTTP server for one interface: a client has 10 s to send its upgrade request (Node's
 * defaults give it minutes), and anything but an upgrade is answered 426.
 */
function interfaceServer(): Server {
  const server = createServer({ requestTimeout: 10_000, headersTimeout: 10_000 });
  server.on('request', (_req, res) => {
    res.writeHead(426, { 'Content-Type': 'application/json', Connection: 'close' });
    res.end(
      JSON.stringify({
        error: 'this is a Holochain websocket interface: connect with a websocket',
      }),
    );
  });
  return server;
}

/**
 * The conductor emulator as its own process (`npm run conductor`): an admin interface and an
 * app interface on separate ports, as a Holochain conductor ≥ 0.4 exposes them. The app
 * interface is the same `ConductorEmulator` the doorway runs in process (token required on
 * connect, zome calls need a grant), over the same store.
 */
export async function startConductorInterfaces(
  config: ConductorInterfacesConfig,
  log: Logger,
): Promise<ConductorInterfaces> {
  const limits = { ...trustLimits(config.limits), ...DEFAULT_ADMIN_LIMITS, ...config.limits };
  const store = EmulatorStore.open(config.dataDir);
  const emulator = new ConductorEmulator(store, log, limits);
  const admin = new AdminApi(store, emulator, log, limits.maxDepth);
  const adminWss = new WebSocketServer({
    noServer: true,
    clientTracking: false,
    maxPayload: limits.maxAdminMessageBytes,
    perMessageDeflate: false,
    closeTimeout: limits.closeTimeoutMs,
  });
  const appWss = new WebSocketServer({
    noServer: true,
    clientTracking: false,
    maxPayload: limits.maxMessageBytes,
    perMessageDeflate: false,
    closeTimeout: limits.closeTimeoutMs,
  });

  /** Open admin sockets, counted from the upgrade so a burst of handshakes is bounded too. */
  const adminSockets = new Set<Duplex>();
  const adminServer = interfaceServer();
  adminServer.on('upgrade', (req, socket: Duplex, head) => {
    if (!originAllowed(req, config.adminOrigins)) {
      log.debug(`hc admin: refused a websocket from Origin ${req.headers.origin ?? '(none)'}`);
      rejectUpgrade(socket, 403, 'this Origin may not use the admin interface');
      return;
    }
    if (adminSockets.size >= limits.maxAdminConnections) {
      rejectUpgrade(socket, 503, `${limits.maxAdminConnections} admin websockets are open already`);
      return;
    }
    adminSockets.add(socket);
    socket.once('close', () => adminSockets.delete(socket));
    adminWss.handleUpgrade(req, socket, head, (ws) => admin.serve(ws));
  });

  const appServer = interfaceServer();
  appServer.on('upgrade', (req, socket: Duplex, head) => {
    if (!originAllowed(req, config.appOrigins)) {
      rejectUpgrade(socket, 403, 'this Origin may not use the app interface');
      return;
    }
    if (!emulator.acceptsMore) {
      rejectUpgrade(
        socket,
        503,
        `${limits.maxUnauthenticated} app websockets are waiting to authenticate: retry in a few seconds`,
      );
      return;
    }
    // Any app's token opens its app: the conductor does not know the doorway's sessions.
    appWss.handleUpgrade(req, socket, head, (ws) => emulator.serve(ws, socket, undefined));
  });

  const close = async () => {
    emulator.close();
    for (const socket of adminSockets) socket.destroy();
    await Promise.all(
      [adminServer, appServer].map(
        (server) =>
          new Promise<void>((resolve) => {
            if (!server.listening) return resolve();
            server.close(() => resolve());
            server.closeAllConnections();
          }),
      ),
    );
    store.close();
  };
  try {
    const adminPort = await listen(adminServer, config.adminPort, config.host);
    const appPort = await listen(appServer, config.appPort, config.host);
    log.info(
      `hc conductor EMULATOR: admin interface on ${config.host}:${adminPort} (origins ${config.adminOrigins === '*' ? 'any' : config.adminOrigins.join(', ')}), app interface on ${config.host}:${appPort}`,
    );
    return { host: config.host, adminPort, appPort, close };
  } catch (error) {
    await close();
    throw error;
  }
}
