/**
 * Test helpers: the doorway's trust layer (the conductor EMULATOR) on 127.0.0.1, restartable on
 * the same data dir and port — a doorway going away and coming back.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startTrustLayer } from '../../doorway/holochain/index.ts';
import { createLogger } from '../../doorway/log.ts';
import { dispatch, sendJson } from '../../doorway/routes.ts';

export interface TestDoorway {
  url: string;
  port: number;
  close(): Promise<void>;
}

/** Starts the `/hc` routes and app websocket; `port` 0 picks a free one. */
export async function startTestDoorway(dataDir: string, port = 0): Promise<TestDoorway> {
  const trust = await startTrustLayer(
    { dataDir, hcConductor: undefined, hcDevTokens: true },
    createLogger('silent'),
  );
  const server = createServer((req, res) => {
    dispatch(trust.routes, req, res)
      .then((handled) => {
        if (!handled) sendJson(res, 404, { error: 'not found' });
      })
      .catch(() => res.destroy());
  });
  server.on('upgrade', (req, socket, head) => {
    if (!trust.handleUpgrade(req, socket, head)) socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  const bound = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${bound}`,
    port: bound,
    async close() {
      await trust.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
