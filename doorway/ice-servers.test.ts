import type { ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.ts';
import { iceServersAt, MAX_ICE_SERVERS, parseIceServers } from './ice-servers.ts';
import type { DoorwayP2p } from './p2p.ts';
import { p2pRoutes, type RouteContext } from './routes.ts';

describe('parseIceServers', () => {
  it('takes comma-separated urls, with TURN credentials taken out of the url', () => {
    expect(
      parseIceServers([
        'stun:stun.example.org:3478, turn:ana:s3cr%3At@turn.example.org:3478?transport=udp',
      ]),
    ).toEqual([
      { urls: ['stun:stun.example.org:3478'] },
      {
        urls: ['turn:turn.example.org:3478?transport=udp'],
        username: 'ana',
        credential: 's3cr:t',
      },
    ]);
  });

  it('takes RTCIceServer JSON, one or a list, and repeated values', () => {
    expect(
      parseIceServers([
        '{"urls":"stun:a.example:3478"}',
        '[{"urls":["turns:b.example:5349"],"username":"u","credential":"c"}]',
      ]),
    ).toEqual([
      { urls: ['stun:a.example:3478'] },
      { urls: ['turns:b.example:5349'], username: 'u', credential: 'c' },
    ]);
    expect(parseIceServers(['', '  '])).toEqual([]);
  });

  it('refuses what browsers would refuse, and oversized lists, saying what to fix', () => {
    expect(() => parseIceServers(['http://stun.example'])).toThrow(/stun:, stuns:, turn:/);
    expect(() => parseIceServers(['turn:turn.example:3478'])).toThrow(/username and a credential/);
    expect(() => parseIceServers(['[{"urls":[]}]'])).toThrow(/1 to 4 urls/);
    expect(() => parseIceServers(['{"urls":"stun:x",'])).toThrow(/not valid JSON/);
    expect(() => parseIceServers(['[1]'])).toThrow(/object/);
    expect(() => parseIceServers([`{"urls":"stun:${'x'.repeat(600)}"}`])).toThrow(/at most 512/);
    const many = Array.from({ length: MAX_ICE_SERVERS + 1 }, (_, i) => `stun:s${i}.example`);
    expect(() => parseIceServers([many.join(',')])).toThrow(/at most 8/);
    expect(() => parseIceServers([`stun:${'x,'.repeat(5000)}`])).toThrow(/over 8192/);
  });
});

describe('--ice-servers', () => {
  it('comes from repeated flags, else ELOHIM_ICE_SERVERS, else none', () => {
    const fromFlags = loadConfig(
      ['--ice-servers', 'stun:a.example', '--ice-servers', 'turn:u:c@b.example'],
      { ELOHIM_ICE_SERVERS: 'stun:ignored.example' },
    );
    expect(fromFlags !== 'help' && fromFlags.iceServers).toEqual([
      { urls: ['stun:a.example'] },
      { urls: ['turn:b.example'], username: 'u', credential: 'c' },
    ]);
    const fromEnv = loadConfig([], { ELOHIM_ICE_SERVERS: '[{"urls":"stun:e.example"}]' });
    expect(fromEnv !== 'help' && fromEnv.iceServers).toEqual([{ urls: ['stun:e.example'] }]);
    const none = loadConfig([], {});
    expect(none !== 'help' && none.iceServers).toBeUndefined();
    expect(() => loadConfig(['--ice-servers', 'turn:nocreds.example'], {})).toThrow(ConfigError);
  });

  it('is handed to browsers in /api/v1/p2p/info', () => {
    const p2p = {
      peerId: '12D3KooWdoorway',
      multiaddrs: () => ['/ip4/127.0.0.1/tcp/1/ws'],
      protocols: () => [],
    } as unknown as DoorwayP2p;
    const iceServers = [{ urls: ['stun:a.example'] }];
    const info = p2pRoutes(p2p, { iceServers }).find((r) => r.path.test('/api/v1/p2p/info'));
    let body = '';
    const res = { writeHead: () => res, end: (text: string) => (body = text) };
    info?.handle({ res: res as unknown as ServerResponse } as RouteContext);
    expect(JSON.parse(body)).toMatchObject({ peer_id: '12D3KooWdoorway', ice_servers: iceServers });
  });
});

describe('short-lived TURN credentials (--turn-secret)', () => {
  /** The TURN server's side, computed with Web Crypto: HMAC-SHA1 of the username, base64. */
  async function expected(secret: string, username: string): Promise<string> {
    const enc = new TextEncoder();
    const key = await crypto.subtle.importKey(
      'raw',
      enc.encode(secret),
      { name: 'HMAC', hash: 'SHA-1' },
      false,
      ['sign'],
    );
    const mac = await crypto.subtle.sign('HMAC', key, enc.encode(username));
    return Buffer.from(mac).toString('base64');
  }

  it('lets TURN servers come without credentials only with a secret', () => {
    expect(() => parseIceServers(['turn:t.example:3478'])).toThrow(/or --turn-secret/);
    expect(parseIceServers(['turn:t.example:3478'], { turnSecret: true })).toEqual([
      { urls: ['turn:t.example:3478'] },
    ]);
    // Half a pair is a mistake whatever the secret.
    expect(() =>
      parseIceServers(['{"urls":"turn:t.example","username":"u"}'], { turnSecret: true }),
    ).toThrow(/username and a credential/);
  });

  it('issues credentials that expire after the TTL and that the TURN server can check', async () => {
    const servers = parseIceServers(['stun:s.example, turn:t.example:3478, turn:u:c@v.example'], {
      turnSecret: true,
    });
    const now = Date.UTC(2026, 11, 6, 12, 0, 0);
    const [stun, turn, fixed] = iceServersAt(servers, { secret: 'sh4red', ttlSeconds: 600 }, now);
    expect(stun).toEqual({ urls: ['stun:s.example'] });
    expect(fixed).toEqual({ urls: ['turn:v.example'], username: 'u', credential: 'c' });
    expect(turn?.username).toBe(`${now / 1000 + 600}:elohim`);
    expect(turn?.credential).toBe(await expected('sh4red', turn?.username as string));
    // A later ask gets a later expiry; another secret, another credential.
    const later = iceServersAt(servers, { secret: 'sh4red', ttlSeconds: 600 }, now + 5_000)[1];
    expect(later?.username).toBe(`${now / 1000 + 605}:elohim`);
    const other = iceServersAt(servers, { secret: 'other', ttlSeconds: 600 }, now)[1];
    expect(other?.credential).not.toBe(turn?.credential);
    // Without a secret nothing is made up.
    expect(iceServersAt(servers, undefined, now)).toEqual(servers);
  });

  it('is configured by --turn-secret and --turn-ttl (or the environment), checked at start', () => {
    const config = loadConfig(
      ['--ice-servers', 'turn:t.example:3478', '--turn-secret', 's', '--turn-ttl', '120'],
      {},
    );
    expect(config !== 'help' && config.turn).toEqual({ secret: 's', ttlSeconds: 120 });
    const fromEnv = loadConfig([], {
      ELOHIM_ICE_SERVERS: 'turn:t.example',
      ELOHIM_TURN_SECRET: 'e',
    });
    expect(fromEnv !== 'help' && fromEnv.turn).toEqual({ secret: 'e', ttlSeconds: 86_400 });
    expect(() => loadConfig(['--turn-secret', 's'], {})).toThrow(/needs a TURN server/);
    expect(() =>
      loadConfig(['--ice-servers', 'turn:t.example', '--turn-secret', 's', '--turn-ttl', '5'], {}),
    ).toThrow(/--turn-ttl must be an integer from 60/);
  });

  it('hands each asker fresh credentials in /api/v1/p2p/info, never the secret', () => {
    const p2p = {
      peerId: '12D3KooWdoorway',
      multiaddrs: () => [],
      protocols: () => [],
    } as unknown as DoorwayP2p;
    const routes = p2pRoutes(p2p, {
      iceServers: [{ urls: ['turn:t.example:3478'] }],
      turn: { secret: 'sh4red-secret', ttlSeconds: 300 },
    });
    const info = routes.find((r) => r.path.test('/api/v1/p2p/info'));
    let body = '';
    const res = { writeHead: () => res, end: (text: string) => (body = text) };
    const before = Math.floor(Date.now() / 1000);
    info?.handle({ res: res as unknown as ServerResponse } as RouteContext);
    expect(body).not.toContain('sh4red-secret');
    const [server] = JSON.parse(body).ice_servers as { username: string; credential: string }[];
    const expiry = Number(server?.username.split(':')[0]);
    expect(expiry).toBeGreaterThanOrEqual(before + 300);
    expect(expiry).toBeLessThanOrEqual(Math.floor(Date.now() / 1000) + 300);
    expect(server?.credential).toMatch(/^[A-Za-z0-9+/]{27}=$/);
  });
});
