import { existsSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import sirv from 'sirv';
import type { DoorwayConfig } from './config.ts';
import type { Logger } from './log.ts';

export interface Doorway {
  /** The URL people open, e.g. http://127.0.0.1:8080/ */
  readonly url: string;
  close(): Promise<void>;
}

export class MissingBuildError extends Error {
  override name = 'MissingBuildError';
}

/** Starts the doorway's HTTP side: the built PWA and a health route. */
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

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    log.debug(`${req.method} ${req.url}`);
    if (req.url === '/health') {
      res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
      res.end(JSON.stringify({ status: 'ok', uptime_s: (Date.now() - startedAt) / 1000 }));
      return;
    }
    serveApp(req, res);
  });
  server.keepAliveTimeout = 5_000;

  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => resolveListen());
  });
  const { port } = server.address() as AddressInfo;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  return {
    url: `http://${host}:${port}/`,
    close: () =>
      new Promise<void>((resolveClose) => {
        server.close(() => resolveClose());
        server.closeAllConnections();
      }),
  };
}
