/**
 * The app interface's size and time limits (limits.ts): what a socket may send before and
 * after it authenticates, how deep MessagePack may nest, how many sockets may wait and for how
 * long. The attack these replay: one 15.9 MiB frame of nested arrays, sent before any token
 * was checked, froze the doorway (/health) for 20 s and grew it to 2.8 GB.
 */
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AppWebsocket, type CellId } from '@holochain/client';
import { encode } from '@msgpack/msgpack';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../log.ts';
import { startDoorway } from '../server.ts';
import { sharedTempDir, testConfig } from '../test-support.ts';
import { DEFAULT_LIMITS, type TrustLimits } from './limits.ts';
import {
  authorizeCells,
  type Connection,
  devToken,
  hcConnect,
  newKey,
  rawSocket,
  sendSigned,
  signCall,
  startTrustServer,
  type TestKey,
  type TrustServer,
  upgradeStatus,
  within,
} from './test-support.ts';

/** `depth` arrays, each holding the next, around nil. */
const nested = (depth: number): unknown => (depth === 0 ? null : [nested(depth - 1)]);

const authenticate = (token: number[], extra = {}) =>
  encode({ type: 'authenticate', data: encode({ token, ...extra }) });
const appInfoRequest = encode({
  type: 'request',
  id: 1,
  data: encode({ type: 'app_info', value: null }),
});

describe('the app interface under hostile frames', () => {
  const dir = sharedTempDir('hc-limits-');

  /** A trust server with `limits`, an agent connected to it, and its app websocket URL. */
  async function serverWithAgent(name: string, limits: Partial<TrustLimits> = {}) {
    const server = await startTrustServer({
      dataDir: join(dir(), name),
      hcConductor: undefined,
      hcDevTokens: true,
      limits,
    });
    const agent = newKey();
    const secret = new Uint8Array(randomBytes(64));
    const conn = await hcConnect(
      server.url,
      await devToken(server.url, agent),
      agent.agent,
      secret,
    );
    authorizeCells(Object.values(conn.cellIds), agent, secret);
    const appUrl = `ws://127.0.0.1:${server.port}/hc/app/${server.port}?token=${conn.token}`;
    return { server, agent, conn, appUrl };
  }

  it('refuses a 15.9 MiB frame of nested arrays at once, and /health answers meanwhile', async () => {
    const root = join(dir(), 'doorway');
    await writeFile(join(dir(), 'index.html'), '<!doctype html><title>app</title>');
    const doorway = await startDoorway(
      testConfig(dir(), { dataDir: root }),
      createLogger('silent'),
    );
    try {
      const base = new URL(doorway.url).origin;
      const port = new URL(doorway.url).port;
      const socket = await rawSocket(
        `ws://127.0.0.1:${port}/hc/app/${port}?token=${await devToken(base, newKey())}`,
      );
      const frame = new Uint8Array(15.9 * 1024 * 1024).fill(0x91);
      frame[frame.length - 1] = 0xc0;
      let closedAt: number | undefined;
      void socket.closed.then(() => {
        closedAt = performance.now();
      });
      const started = performance.now();
      socket.ws.send(frame);
      // /health, again and again until the socket is gone, and once more after: the old doorway
      // decoded the whole frame first, and a /health asked meanwhile waited 20 s.
      const healthMs: number[] = [];
      let last = false;
      while (!last) {
        last = closedAt !== undefined || performance.now() - started > 30_000;
        const asked = performance.now();
        const health = await within(fetch(`${base}/health`), 30_000, '/health');
        expect(health.status).toBe(200);
        healthMs.push(performance.now() - asked);
      }
      await within(socket.closed, 30_000, 'closing the socket');
      expect(Math.max(...healthMs), '/health answered all along').toBeLessThan(2_000);
      expect(
        (closedAt as number) - started,
        'the socket was cut before the frame was whole',
      ).toBeLessThan(5_000);
      expect(socket.received).toEqual([]);
    } finally {
      await doorway.close();
    }
  });

  it('cuts a socket whose first message is larger than preAuthBytes, valid token or not', async () => {
    const { server, conn, appUrl } = await serverWithAgent('pre-auth');
    try {
      const socket = await rawSocket(appUrl);
      // A real token, padded past the limit: the doorway must not read that far to decide.
      const padding = new Uint8Array(DEFAULT_LIMITS.preAuthBytes * 4);
      socket.ws.send(authenticate(conn.appToken, { padding }));
      socket.ws.send(appInfoRequest);
      expect([1006, 1009]).toContain(await within(socket.closed, 5_000, 'closing the socket'));
      expect(socket.received).toEqual([]);
      // The same token, unpadded, still opens the app: the limit refused a size, not the token.
      const fine = await rawSocket(appUrl);
      fine.ws.send(authenticate(conn.appToken));
      fine.ws.send(appInfoRequest);
      await expect.poll(() => fine.received.length).toBe(1);
      fine.ws.close();
    } finally {
      await server.close();
    }
  });

  it('closes a socket that stays unauthenticated past authTimeoutMs', async () => {
    const { server, appUrl } = await serverWithAgent('idle', { authTimeoutMs: 200 });
    try {
      const socket = await rawSocket(appUrl);
      const started = performance.now();
      expect(await within(socket.closed, 5_000, 'closing the idle socket')).toBe(1008);
      expect(performance.now() - started).toBeGreaterThanOrEqual(150);
    } finally {
      await server.close();
    }
  });

  it('lets at most maxUnauthenticated sockets wait; more get 503 until one authenticates', async () => {
    const { server, conn, appUrl } = await serverWithAgent('crowd', { maxUnauthenticated: 2 });
    try {
      const first = await rawSocket(appUrl);
      const second = await rawSocket(appUrl);
      expect(await upgradeStatus(appUrl)).toBe(503);
      first.ws.send(authenticate(conn.appToken));
      first.ws.send(appInfoRequest);
      await expect.poll(() => first.received.length).toBe(1);
      const third = await rawSocket(appUrl);
      for (const { ws } of [first, second, third]) ws.close();
    } finally {
      await server.close();
    }
  });

  describe('after authenticating', () => {
    let server: TrustServer;
    let agent: TestKey;
    let conn: Connection;
    let appUrl: string;
    let ws: AppWebsocket;

    beforeAll(async () => {
      ({ server, agent, conn, appUrl } = await serverWithAgent('authenticated', {
        maxMessageBytes: 64 * 1024,
      }));
      ws = await AppWebsocket.connect({ url: new URL(appUrl), token: conn.appToken });
    });
    afterAll(async () => {
      await (ws.client as unknown as { close(): Promise<unknown> }).close();
      await server.close();
    });

    it('refuses a zome payload nested deeper than maxDepth, saying so', async () => {
      await expect(
        ws.callZome({
          role_name: 'infrastructure',
          zome_name: 'infrastructure',
          fn_name: 'find_publishers',
          payload: nested(60),
        }),
      ).rejects.toMatchObject({
        name: 'ribosome_error',
        message: expect.stringMatching(/Deserialize\(.*nested deeper than 32 levels/),
      });
    });

    it('refuses call_zome bytes nested deeper than maxDepth before decoding them', async () => {
      const infra = conn.cellIds.infrastructure as CellId;
      const call = {
        cell_id: infra,
        zome_name: 'infrastructure',
        fn_name: 'get_my_content_servers',
        payload: null,
      };
      // The params reader ignores fields it does not know: only the depth check refuses this.
      await expect(
        sendSigned(ws, infra, signCall({ ...call, extra: { deep: nested(60) } }, agent)),
      ).rejects.toMatchObject({
        name: 'internal_error',
        message: expect.stringMatching(/SerializationError: nested deeper than 32 levels/),
      });
      await expect(sendSigned(ws, infra, signCall(call, agent))).resolves.toEqual([]);
    });

    it('closes a socket that sends a message over maxMessageBytes (1009)', async () => {
      const socket = await rawSocket(appUrl);
      socket.ws.send(authenticate(conn.appToken));
      socket.ws.send(appInfoRequest);
      await expect.poll(() => socket.received.length).toBe(1);
      socket.ws.send(new Uint8Array(64 * 1024 + 1));
      expect(await within(socket.closed, 5_000, 'closing the socket')).toBe(1009);
    });
  });
});
