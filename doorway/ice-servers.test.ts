import type { ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.ts';
import { MAX_ICE_SERVERS, parseIceServers } from './ice-servers.ts';
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
