import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  DoorwayUnreachableError,
  fetchDoorwayInfo,
  fetchFederatedDoorways,
  fetchP2pPeers,
  fetchSignalPeers,
  MAX_DOORWAY_JSON_BYTES,
} from './doorway-client.ts';
import { MAX_P2P_PEERS, readNatStatus } from './p2p-peers.ts';

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

describe('bootstrap from a doorway that offers only /api/v1/federation/p2p-peers (a Rust one)', () => {
  // Ed25519 PeerIds (valid, fixed).
  const STORAGE = '12D3KooWEyoppNCUx8Yx66oV9fJnriXwCcXwDDUA2kj6vnc6iDEp';
  const RELAY = '12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo';
  const OTHER = '12D3KooWJWoaqZhDaoEFshF7Rh1bpY9ohihFhzcW6d69Lr2NASuq';
  const seen: string[] = [];

  /** The Rust doorway's routes: no p2p/info (404), /signal a WebSocket (400 to a plain GET). */
  const rustDoorway = () =>
    serve((url, res) => {
      seen.push(url);
      if (url.startsWith('/signal/')) {
        res.writeHead(400, { 'Content-Type': 'text/plain' });
        return void res.end('Expected a WebSocket upgrade');
      }
      if (url !== '/api/v1/federation/p2p-peers') {
        res.writeHead(404);
        return void res.end();
      }
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(
        JSON.stringify({
          peers: [
            {
              // Raw listen addresses, Rust's nat_status spelling, no relay capability.
              peer_id: STORAGE,
              multiaddrs: ['/ip4/127.0.0.1/tcp/4001', '/ip4/127.0.0.1/udp/4001/quic-v1'],
              capabilities: ['shard', 'sync'],
              nat_status: 'Public',
            },
            {
              peer_id: RELAY,
              multiaddrs: [
                '/ip4/127.0.0.1/tcp/4002/ws',
                `/ip4/127.0.0.1/tcp/4003/p2p/${RELAY}`,
                `/ip4/127.0.0.1/tcp/4004/p2p/${OTHER}`,
                'not a multiaddr',
              ],
              capabilities: ['shard', 'sync', 'relay'],
              nat_status: null,
            },
            { peer_id: OTHER, multiaddrs: ['/ip4/127.0.0.1/tcp/4005/ws'], nat_status: 'private' },
            { peer_id: 'not a peer id', multiaddrs: ['/ip4/127.0.0.1/tcp/1'] },
            'junk',
          ],
          total: 5,
        }),
      );
    });

  it('finds the relaying node, with /p2p/<id> added to its raw addresses', async () => {
    const origin = await rustDoorway();
    expect(await fetchDoorwayInfo(origin)).toEqual({
      peer_id: RELAY,
      multiaddrs: [
        `/ip4/127.0.0.1/tcp/4002/ws/p2p/${RELAY}`,
        `/ip4/127.0.0.1/tcp/4003/p2p/${RELAY}`,
      ],
      protocols: [],
    });
    expect(seen).toContain('/api/v1/p2p/info');
  });

  it('lists the other peers when /signal answers a plain GET with 400', async () => {
    const origin = await rustDoorway();
    expect(await fetchSignalPeers(origin, OTHER)).toEqual([
      {
        peer_id: STORAGE,
        multiaddrs: [
          `/ip4/127.0.0.1/tcp/4001/p2p/${STORAGE}`,
          `/ip4/127.0.0.1/udp/4001/quic-v1/p2p/${STORAGE}`,
        ],
      },
      {
        peer_id: RELAY,
        multiaddrs: [
          `/ip4/127.0.0.1/tcp/4002/ws/p2p/${RELAY}`,
          `/ip4/127.0.0.1/tcp/4003/p2p/${RELAY}`,
        ],
      },
    ]);
  });

  it('reads nat_status as Rust writes it and lowercase; anything else is null', async () => {
    const origin = await rustDoorway();
    const peers = await fetchP2pPeers(origin);
    expect(peers.map((p) => [p.peer_id, p.nat_status])).toEqual([
      [STORAGE, 'Public'],
      [RELAY, null],
      [OTHER, 'Private'],
    ]);
    expect(readNatStatus('Unknown')).toBe('Unknown');
    expect(readNatStatus('unknown')).toBe('Unknown');
    expect(readNatStatus('PUBLIC')).toBe('Public');
    expect(readNatStatus('Symmetric')).toBeNull();
    expect(readNatStatus(7)).toBeNull();
  });

  it('says what is missing when the doorway has no p2p bootstrap at all', async () => {
    const bare = await serve((_url, res) => {
      res.writeHead(404);
      res.end();
    });
    await expect(fetchDoorwayInfo(bare)).rejects.toThrow(DoorwayUnreachableError);
    const empty = await serve((url, res) => {
      res.writeHead(url === '/api/v1/federation/p2p-peers' ? 200 : 404, {
        'Content-Type': 'application/json',
      });
      res.end(JSON.stringify({ peers: [], total: 0 }));
    });
    await expect(fetchDoorwayInfo(empty)).rejects.toThrow(/lists no peer with an address/);
  });

  it('caps what it reads: at most 100 entries, 16 addresses each', async () => {
    const many = await serve((_url, res) => {
      res.writeHead(_url === '/api/v1/federation/p2p-peers' ? 200 : 404, {
        'Content-Type': 'application/json',
      });
      res.end(
        JSON.stringify({
          peers: Array.from({ length: 150 }, () => ({
            peer_id: OTHER,
            multiaddrs: Array.from({ length: 40 }, (_, i) => `/ip4/127.0.0.1/tcp/${5000 + i}/ws`),
          })),
        }),
      );
    });
    const peers = await fetchP2pPeers(many);
    expect(peers).toHaveLength(MAX_P2P_PEERS);
    expect(Math.max(...peers.map((p) => p.multiaddrs.length))).toBe(16);
  });
});
