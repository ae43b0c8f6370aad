import { type AddressInfo, connect, createServer, type Socket } from 'node:net';

/**
 * A loopback origin that stays put while the doorway behind it stops and starts again on
 * whatever port it gets: the browser's origin (its service worker, IndexedDB) must not change
 * across a restart, and no port can be counted on to stay free meanwhile. It forwards raw TCP,
 * so HTTP and the /hc websockets pass unchanged, as through a reverse proxy.
 */
export interface FrontDoor {
  /** `http://127.0.0.1:<port>/`, the same for the front door's whole life. */
  readonly url: string;
  /**
   * The doorway's HTTP port to forward to; undefined: connections are dropped as they arrive,
   * and open ones are cut, as when nothing listens.
   */
  forwardTo(port: number | undefined): void;
  close(): Promise<void>;
}

export async function openFrontDoor(): Promise<FrontDoor> {
  let target: number | undefined;
  const open = new Set<Socket>();
  const server = createServer((client) => {
    if (target === undefined) {
      client.destroy();
      return;
    }
    const upstream = connect(target, '127.0.0.1');
    for (const socket of [client, upstream]) {
      open.add(socket);
      socket.on('error', () => {}); // either side going away closes both, below
      socket.on('close', () => {
        open.delete(socket);
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const cutAll = () => {
    for (const socket of open) socket.destroy();
  };
  return {
    url: `http://127.0.0.1:${port}/`,
    forwardTo(next) {
      target = next;
      if (next === undefined) cutAll();
    },
    close() {
      target = undefined;
      cutAll();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
