import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  DoorwayUnreachableError,
  fetchDoorwayInfo,
  fetchFederatedDoorways,
  MAX_DOORWAY_JSON_BYTES,
} from './doorway-client.ts';

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(
    servers.splice(0).map((s) => new Promise<void>((resolve) => s.close(() => resolve()))),
  );
});

/** A stand-in doorway on 127.0.0.1 answering every request with `answer`. */
async function serve(
  answer: (url: string, res: import('node:http').ServerResponse) => void,
): Promise<string> {
  const server = createServer((req, res) => answer(req.url ?? '/', res));
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('fetchFederatedDoorways', () => {
  it('lists the reachable doorways, and none from a doorway without the route', async () => {
    const federated = await serve((_url, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(
        JSON.stringify({
          doorways: [
            { url: 'https://a.example', peer_id: 'x', multiaddrs: [], reachable: true },
            { url: 'https://down.example', reachable: false },
            { url: null, peer_id: 'y', multiaddrs: [], reachable: true },
            { url: 42 },
            'junk',
            { url: 'https://b.example' },
          ],
        }),
      );
    });
    expect(await fetchFederatedDoorways(federated)).toEqual([
      'https://a.example',
      'https://b.example',
    ]);
    const older = await serve((_url, res) => {
      res.writeHead(404, { 'Content-Type': 'application/json' });
      res.end('{"error":"no such route"}');
    });
    expect(await fetchFederatedDoorways(older)).toEqual([]);
  });

  it('stops reading a body past its cap, declared or not (chunked)', async () => {
    const flood = await serve((_url, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      // No Content-Length: chunked, endless as far as the reader knows.
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      let sent = 0;
      const push = () => {
        while (sent < 4 * MAX_DOORWAY_JSON_BYTES) {
          sent += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', push);
        }
        res.end();
      };
      res.on('error', () => {});
      push();
    });
    await expect(fetchFederatedDoorways(flood)).rejects.toThrow(DoorwayUnreachableError);
    await expect(fetchDoorwayInfo(flood)).rejects.toThrow(/more than 262144 bytes/);
  });
});
