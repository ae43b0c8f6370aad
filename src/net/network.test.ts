import { describe, expect, it, vi } from 'vitest';

// The page's WebRTC transport: what it is created with, read without a browser.
const webRTC = vi.hoisted(() => vi.fn((_init: unknown) => () => ({})));
vi.mock('@libp2p/webrtc', () => ({ webRTC }));

const { browserNetwork, DEFAULT_MAX_CONNECTIONS, IceServers, turnExpiry } = await import(
  './network.ts'
);

describe('browserNetwork', () => {
  it("hands the doorway's ICE servers to each new WebRTC connection", () => {
    const ice = new IceServers();
    browserNetwork(ice);
    const init = webRTC.mock.lastCall?.[0] as {
      rtcConfiguration: () => RTCConfiguration;
    };
    // None known yet: the browser's defaults.
    expect(init.rtcConfiguration()).toEqual({});
    const servers = [
      { urls: ['stun:stun.example.org:3478'] },
      { urls: ['turn:turn.example.org:3478'], username: 'u', credential: 'c' },
    ];
    ice.set(servers);
    // Read per connection: a later doorway's list applies to the next connection.
    expect(init.rtcConfiguration()).toEqual({ iceServers: servers });
    servers[0] = { urls: ['stun:changed.example'] };
    expect(init.rtcConfiguration().iceServers?.[0]?.urls).toEqual(['stun:stun.example.org:3478']);
  });

  it('keeps only ICE servers a browser would accept, at most 8, from whatever a doorway sends', () => {
    const ice = new IceServers();
    ice.set([
      { urls: 'stun:ok.example' },
      { urls: ['http://not-ice.example'] },
      { urls: 'turn:no-creds.example' },
      { urls: 'turn:t.example', username: 'u', credential: 'c' },
      { urls: [] },
      'junk',
      null,
      ...Array.from({ length: 20 }, (_, i) => ({ urls: `stun:s${i}.example` })),
    ]);
    expect(ice.servers).toHaveLength(8);
    expect(ice.servers.slice(0, 2)).toEqual([
      { urls: ['stun:ok.example'] },
      { urls: ['turn:t.example'], username: 'u', credential: 'c' },
    ]);
    ice.set({ not: 'a list' });
    expect(ice.servers).toEqual([]);
  });

  it('bounds the connections libp2p keeps', () => {
    expect(browserNetwork().connectionManager?.maxConnections).toBe(DEFAULT_MAX_CONNECTIONS);
  });
});

describe('turnExpiry', () => {
  it('reads the earliest expiry of TURN REST credentials, and nothing from others', () => {
    expect(
      turnExpiry([
        { urls: ['stun:stun.example.org'] },
        { urls: ['turn:a.example.org'], username: '1900000000:elohim', credential: 'x' },
        { urls: ['turns:b.example.org'], username: '1800000000:elohim', credential: 'y' },
      ]),
    ).toBe(1_800_000_000_000);
    expect(turnExpiry([{ urls: ['turn:a.example.org'], username: 'alice', credential: 'x' }])).toBe(
      undefined,
    );
    expect(turnExpiry([{ urls: ['stun:stun.example.org'] }])).toBe(undefined);
    expect(turnExpiry('not a list')).toBe(undefined);
  });
});
