/**
 * The test-only `--test-rust-bootstrap` switch: the bootstrap routes answer as a Rust doorway's
 * do (no `/api/v1/p2p/info`, `/signal` a WebSocket endpoint), and `/api/v1/federation/p2p-peers`
 * is unchanged, `nat_status` in Rust's spelling. Off unless asked for.
 */
import type { ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import { loadConfig } from './config.ts';
import type { DoorwayP2p } from './p2p.ts';
import { PeerRegistry } from './peers.ts';
import { p2pRoutes, type RouteContext } from './routes.ts';

const DOORWAY = '12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo';
const p2p = {
  peerId: DOORWAY,
  multiaddrs: () => [`/ip4/127.0.0.1/tcp/1/ws/p2p/${DOORWAY}`],
  protocols: () => ['/libp2p/circuit/relay/0.2.0/hop'],
  peers: new PeerRegistry(),
} as unknown as DoorwayP2p;

/** Calls the route matching `path` and returns its status and JSON body. */
async function get(rustBootstrapOnly: boolean, path: string) {
  const route = p2pRoutes(p2p, { rustBootstrapOnly }).find((r) => r.path.test(path));
  let status = 0;
  let body = '';
  const res = {
    writeHead: (s: number) => {
      status = s;
    },
    end: (b: string) => {
      body = b;
    },
  } as unknown as ServerResponse;
  const url = new URL(path, 'http://doorway.invalid');
  const params = { pubkey: path.split('/').at(-1) ?? '' };
  await route?.handle({ res, url, params } as unknown as RouteContext);
  return { status, body: JSON.parse(body) as Record<string, unknown> };
}

describe('--test-rust-bootstrap', () => {
  it('is off by default, on by flag or ELOHIM_TEST_RUST_BOOTSTRAP=on', () => {
    const off = loadConfig([], {});
    expect(off !== 'help' && off.rustBootstrapOnly).toBeUndefined();
    const flag = loadConfig(['--test-rust-bootstrap'], {});
    expect(flag !== 'help' && flag.rustBootstrapOnly).toBe(true);
    const env = loadConfig([], { ELOHIM_TEST_RUST_BOOTSTRAP: 'on' });
    expect(env !== 'help' && env.rustBootstrapOnly).toBe(true);
    expect(() => loadConfig([], { ELOHIM_TEST_RUST_BOOTSTRAP: 'yes' })).toThrow(/on or off/);
  });

  it('answers p2p/info 404 and /signal 400; p2p-peers lists the doorway, nat_status "Public"', async () => {
    expect((await get(true, '/api/v1/p2p/info')).status).toBe(404);
    expect((await get(true, `/signal/${DOORWAY}`)).status).toBe(400);
    expect((await get(false, '/api/v1/p2p/info')).status).toBe(200);
    expect((await get(false, `/signal/${DOORWAY}`)).status).toBe(200);
    const peers = await get(true, '/api/v1/federation/p2p-peers');
    expect(peers.status).toBe(200);
    expect(peers.body).toEqual({
      peers: [
        {
          peer_id: DOORWAY,
          multiaddrs: [`/ip4/127.0.0.1/tcp/1/ws/p2p/${DOORWAY}`],
          capabilities: ['relay'],
          nat_status: 'Public',
        },
      ],
      total: 1,
    });
  });
});
