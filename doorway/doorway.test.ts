import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.ts';
import { createLogger } from './log.ts';
import { type Doorway, MissingBuildError, startDoorway } from './server.ts';
import { testConfig } from './test-support.ts';

describe('loadConfig', () => {
  it('takes flags before environment before defaults', () => {
    expect(loadConfig([], {})).toEqual({
      host: '127.0.0.1',
      port: 8080,
      staticDir: 'dist',
      logLevel: 'info',
      p2pHost: '127.0.0.1',
      p2pPort: 8081,
      p2pAnnounce: [],
      p2pTcpPort: 8082,
      peers: [],
      dhtPrivateAddrs: true,
      dataDir: '.doorway',
      relayDataLimit: 131072,
      relayDurationLimit: 120,
      relayMaxReservations: 128,
      p2pMaxConnections: 300,
      p2pInboundRate: 5,
      p2pMaxPending: 10,
      p2pTrustLoopback: false,
      httpRequestTimeoutMs: 30_000,
      hcConductor: undefined,
      hcDevTokens: true,
      storeDir: join('.doorway', 'store'),
      storeQuota: 10 * 2 ** 30,
      cacheQuota: 2 * 2 ** 30,
      storePerClient: 32,
    });
    expect(
      loadConfig(['--store-dir', 'kept-here', '--store-quota', '0'], {
        ELOHIM_CACHE_QUOTA: '1024',
      }),
    ).toMatchObject({ storeDir: 'kept-here', storeQuota: 0, cacheQuota: 1024 });
    expect(loadConfig(['--store-per-client', '0'], {})).toMatchObject({ storePerClient: 0 });
    expect(() => loadConfig(['--store-per-client', 'many'], {})).toThrow(ConfigError);
    expect(() => loadConfig(['--store-quota=-1'], {})).toThrow(ConfigError);
    expect(() => loadConfig(['--store-dir', ' '], {})).toThrow(ConfigError);
    expect(loadConfig([], { ELOHIM_PORT: '9000', ELOHIM_HOST: '::1' })).toMatchObject({
      host: '::1',
      port: 9000,
    });
    expect(loadConfig(['--port', '0'], { ELOHIM_PORT: '9000' })).toMatchObject({ port: 0 });
    expect(loadConfig(['--help'], {})).toBe('help');
  });

  it('reads the p2p and relay settings', () => {
    expect(
      loadConfig(
        [
          '--p2p-host',
          '::1',
          '--p2p-port',
          '0',
          '--data-dir',
          '/tmp/d',
          '--relay-data-limit',
          '0',
          '--relay-duration-limit',
          '600',
          '--relay-max-reservations',
          '5',
          '--p2p-announce',
          '/dns4/example.org/tcp/443/wss, /ip4/1.2.3.4/tcp/8081/ws',
        ],
        {},
      ),
    ).toMatchObject({
      p2pHost: '::1',
      p2pPort: 0,
      dataDir: '/tmp/d',
      relayDataLimit: 0,
      relayDurationLimit: 600,
      relayMaxReservations: 5,
      p2pAnnounce: ['/dns4/example.org/tcp/443/wss', '/ip4/1.2.3.4/tcp/8081/ws'],
    });
    expect(
      loadConfig([], {
        ELOHIM_P2P_PORT: '9001',
        ELOHIM_DATA_DIR: 'state',
        ELOHIM_RELAY_DATA_LIMIT: '1048576',
        ELOHIM_RELAY_DURATION_LIMIT: '0',
        ELOHIM_RELAY_MAX_RESERVATIONS: '7',
      }),
    ).toMatchObject({
      p2pPort: 9001,
      dataDir: 'state',
      relayDataLimit: 1048576,
      relayDurationLimit: 0,
      relayMaxReservations: 7,
    });
    // The p2p listener follows --host when it is an IP, and a free HTTP port means a free p2p port.
    expect(loadConfig(['--host', '0.0.0.0', '--port', '0'], {})).toMatchObject({
      p2pHost: '0.0.0.0',
      p2pPort: 0,
    });
    expect(loadConfig(['--host', 'localhost'], {})).toMatchObject({ p2pHost: '127.0.0.1' });
    expect(loadConfig(['--port', '0', '--p2p-port', '9002'], {})).toMatchObject({ p2pPort: 9002 });
  });

  it('reads the connection limits and the HTTP timeout', () => {
    expect(
      loadConfig(
        [
          '--p2p-max-connections',
          '50',
          '--p2p-inbound-rate',
          '20',
          '--p2p-max-pending',
          '30',
          '--p2p-trust-loopback',
          '--http-request-timeout',
          '5',
        ],
        {},
      ),
    ).toMatchObject({
      p2pMaxConnections: 50,
      p2pInboundRate: 20,
      p2pMaxPending: 30,
      p2pTrustLoopback: true,
      httpRequestTimeoutMs: 5000,
    });
    expect(
      loadConfig([], {
        ELOHIM_P2P_MAX_CONNECTIONS: '60',
        ELOHIM_P2P_INBOUND_RATE: '7',
        ELOHIM_P2P_MAX_PENDING: '8',
        ELOHIM_P2P_TRUST_LOOPBACK: 'on',
        ELOHIM_HTTP_REQUEST_TIMEOUT: '90',
      }),
    ).toMatchObject({
      p2pMaxConnections: 60,
      p2pInboundRate: 7,
      p2pMaxPending: 8,
      p2pTrustLoopback: true,
      httpRequestTimeoutMs: 90_000,
    });
    expect(loadConfig([], { ELOHIM_P2P_TRUST_LOOPBACK: 'off' })).toMatchObject({
      p2pTrustLoopback: false,
    });
  });

  it('reads the trust-layer settings: conductor to proxy to, and dev tokens on loopback only', () => {
    expect(
      loadConfig(['--hc-conductor', 'ws://127.0.0.1:4445', '--hc-dev-tokens', 'off'], {}),
    ).toMatchObject({ hcConductor: 'ws://127.0.0.1:4445', hcDevTokens: false });
    expect(
      loadConfig([], {
        ELOHIM_HC_CONDUCTOR: 'wss://conductor.example/app',
        ELOHIM_HC_DEV_TOKENS: 'on',
      }),
    ).toMatchObject({ hcConductor: 'wss://conductor.example/app', hcDevTokens: true });
    expect(loadConfig(['--host', '0.0.0.0'], {})).toMatchObject({ hcDevTokens: false });
    expect(loadConfig(['--host', '::1'], {})).toMatchObject({ hcDevTokens: true });
    expect(loadConfig(['--host', '0.0.0.0', '--hc-dev-tokens', 'on'], {})).toMatchObject({
      hcDevTokens: true,
    });
  });

  it('refuses bad values with a message naming the flag', () => {
    expect(() => loadConfig(['--port', '70000'], {})).toThrow(ConfigError);
    expect(() => loadConfig(['--port', 'abc'], {})).toThrow(/--port/);
    expect(() => loadConfig(['--log-level', 'loud'], {})).toThrow(/--log-level/);
    expect(() => loadConfig(['--nope'], {})).toThrow();
    expect(() => loadConfig(['--p2p-port', '-1'], {})).toThrow(/--p2p-port/);
    expect(() => loadConfig(['--p2p-port', ''], {})).toThrow(/--p2p-port/);
    expect(() => loadConfig(['--p2p-host', 'example.org'], {})).toThrow(/--p2p-host/);
    expect(() => loadConfig(['--relay-data-limit', '1.5'], {})).toThrow(/--relay-data-limit/);
    // Below the floor WebRTC signalling would not fit through the relay.
    expect(() => loadConfig(['--relay-data-limit', '1000'], {})).toThrow(/signalling/);
    expect(() => loadConfig(['--relay-duration-limit', '5'], {})).toThrow(/--relay-duration-limit/);
    expect(() => loadConfig(['--relay-max-reservations', '0'], {})).toThrow(
      /--relay-max-reservations/,
    );
    expect(() => loadConfig(['--p2p-announce', 'example.org:443'], {})).toThrow(/--p2p-announce/);
    expect(() => loadConfig(['--data-dir', ''], {})).toThrow(/--data-dir/);
    expect(() => loadConfig([], { ELOHIM_P2P_PORT: 'x' })).toThrow(/--p2p-port/);
    expect(() => loadConfig(['--hc-conductor', 'http://127.0.0.1:4445'], {})).toThrow(
      /--hc-conductor/,
    );
    expect(() => loadConfig(['--hc-conductor', 'localhost:4445'], {})).toThrow(/--hc-conductor/);
    expect(() => loadConfig(['--hc-dev-tokens', 'yes'], {})).toThrow(/--hc-dev-tokens/);
    expect(() => loadConfig(['--p2p-max-connections', '0'], {})).toThrow(/--p2p-max-connections/);
    expect(() => loadConfig(['--p2p-inbound-rate', 'x'], {})).toThrow(/--p2p-inbound-rate/);
    expect(() => loadConfig(['--p2p-max-pending', '-1'], {})).toThrow(/--p2p-max-pending/);
    expect(() => loadConfig([], { ELOHIM_P2P_TRUST_LOOPBACK: 'yes' })).toThrow(
      /ELOHIM_P2P_TRUST_LOOPBACK must be on or off/,
    );
    expect(() => loadConfig(['--http-request-timeout', '0'], {})).toThrow(/--http-request-timeout/);
  });
});

describe('startDoorway', () => {
  let dir: string;
  let doorway: Doorway;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'doorway-test-'));
    await writeFile(join(dir, 'index.html'), '<!doctype html><title>app</title>');
    doorway = await startDoorway(testConfig(dir), createLogger('silent'));
  });

  afterAll(async () => {
    await doorway.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('listens on loopback and answers the health route', async () => {
    expect(doorway.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    const response = await fetch(new URL('/health', doorway.url));
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({
      status: 'ok',
      p2p: { peer_id: doorway.p2p.peerId, peers: 0 },
      store: { kept: { items: 0, bytes: 0, quota: 64 * 2 ** 20 } },
      bridge: { pulled_bytes: 0, pieces_pulled_through: 0 },
    });
  });

  it('serves the app, and the app for unknown paths (client-side routes)', async () => {
    for (const path of ['/', '/some/route']) {
      const response = await fetch(new URL(path, doorway.url));
      expect(response.status).toBe(200);
      expect(await response.text()).toContain('<title>app</title>');
    }
  });

  it('answers /content/ URLs that reach it (no service worker yet) with a 404 that explains', async () => {
    const response = await fetch(new URL(`/content/sha256-${'ab'.repeat(32)}`, doorway.url));
    expect(response.status).toBe(404);
    expect((await response.json()).error).toMatch(/open the app/);
  });

  it('carries the trust layer: the conductor emulator behind /hc', async () => {
    expect(doorway.trust.mode).toBe('emulator');
    const response = await fetch(new URL('/hc/dev/token', doorway.url), {
      method: 'POST',
      body: '{}',
    });
    expect(response.status).toBe(400);
    expect((await response.json()).error).toMatch(/agentPubKey/);
  });

  it('refuses to start without a build, saying how to make one', async () => {
    await expect(
      startDoorway(testConfig(join(dir, 'missing')), createLogger('silent')),
    ).rejects.toThrow(MissingBuildError);
  });
});
