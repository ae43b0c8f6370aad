import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { AdminWebsocket, AppWebsocket } from '@holochain/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../log.ts';
import { sharedTempDir } from '../test-support.ts';
import { AdminChaperone, DOORWAY_ADMIN_ORIGIN } from './admin-client.ts';
import type { ConductorInterfaces } from './index.ts';
import {
  authorizeCells,
  devToken,
  hcConnect,
  newKey,
  postJson,
  startTestConductor,
  startTrustServer,
  type TrustServer,
} from './test-support.ts';

const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');

/**
 * One conductor (the emulator as `npm run conductor` runs it) behind two doorways in proxy mode
 * (`--hc-conductor` + `--hc-admin`): `/hc/connect` grants and issues tokens through the admin
 * interface, and both doorways serve one trust layer.
 */
describe('proxy mode /hc/connect through the conductor admin interface', () => {
  const dir = sharedTempDir('hc-proxy-connect-');
  let conductor: ConductorInterfaces;
  let one: TrustServer;
  let two: TrustServer;
  let silent: Server;
  const doorway = (name: string, admin: string) =>
    startTrustServer({
      dataDir: join(dir(), name),
      hcConductor: `ws://127.0.0.1:${conductor.appPort}`,
      hcAdmin: admin,
      hcDevTokens: true,
    });

  beforeAll(async () => {
    conductor = await startTestConductor(join(dir(), 'conductor'));
    one = await doorway('one', `ws://127.0.0.1:${conductor.adminPort}`);
    two = await doorway('two', `ws://127.0.0.1:${conductor.adminPort}`);
    // Something that accepts connections and hangs up at once: a conductor that is not there.
    silent = createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  });
  afterAll(async () => {
    await one?.close();
    await two?.close();
    await conductor?.close();
    await new Promise((resolve) => silent?.close(resolve));
  });

  /** An agent signed in at `server`, with an app websocket through it. */
  async function signIn(server: TrustServer, key = newKey()) {
    const secret = new Uint8Array(randomBytes(64));
    const conn = await hcConnect(server.url, await devToken(server.url, key), key.agent, secret);
    authorizeCells(Object.values(conn.cellIds), key, secret);
    const ws = await AppWebsocket.connect({
      url: new URL(`ws://127.0.0.1:${conn.appPort}/hc/app/${conn.appPort}?token=${conn.token}`),
      token: conn.appToken,
    });
    return {
      key,
      conn,
      call: <T>(fn: string, payload?: unknown) =>
        ws.callZome<T>({
          role_name: 'infrastructure',
          zome_name: 'infrastructure',
          fn_name: fn,
          payload,
        }),
      close: () => (ws.client as unknown as { close(): Promise<unknown> }).close(),
    };
  }

  it('grants and issues through the admin interface, answering as in emulator mode; one trust layer behind both doorways', async () => {
    const a = await signIn(one);
    try {
      expect(a.conn.appPort).toBe(one.port);
      expect(a.conn.installedAppId).toMatch(/^elohim-uhCAk/);
      expect(Object.keys(a.conn.cellIds).sort()).toEqual(['imagodei', 'infrastructure', 'lamad']);
      const hash = `sha256-${randomBytes(32).toString('hex')}`;
      await a.call('register_content_server', {
        content_hash: hash,
        capability: 'blob',
        endpoints: [{ url: '/p2p/12D3KooWtest', protocol: 'libp2p' }],
      });
      // B signs in at the other doorway and finds A's announcement.
      const b = await signIn(two);
      try {
        const found = await b.call<{ agent: Uint8Array }[]>('find_publishers', {
          content_hash: hash,
        });
        expect(found.map((s) => b64(s.agent))).toEqual([b64(a.key.agent)]);
      } finally {
        await b.close();
      }
      // A again, now at the other doorway: its app is there already, and it gets in.
      const again = await signIn(two, a.key);
      try {
        expect(again.conn.installedAppId).toBe(a.conn.installedAppId);
        expect(await again.call('get_my_content_servers')).toHaveLength(1);
      } finally {
        await again.close();
      }
    } finally {
      await a.close();
    }
  });

  it('names the issuing doorway in session tokens and refuses another doorway’s', async () => {
    const key = newKey();
    const jwt = await devToken(one.url, key);
    const claims = JSON.parse(Buffer.from(jwt.split('.')[1] as string, 'base64url').toString());
    expect(claims.iss).toBe(`elohim-doorway:${one.peerId}`);
    const answer = await postJson(
      `${two.url}/hc/connect`,
      { signingKey: b64(key.agent), capSecret: b64(randomBytes(64)) },
      { Authorization: `Bearer ${jwt}` },
    );
    expect(answer.status).toBe(401);
  });

  it('refuses a missing or invalid session (401) and malformed keys (400)', async () => {
    const key = newKey();
    const body = { signingKey: b64(key.agent), capSecret: b64(randomBytes(64)) };
    expect((await postJson(`${one.url}/hc/connect`, body)).status).toBe(401);
    expect(
      (await postJson(`${one.url}/hc/connect`, body, { Authorization: 'Bearer not.a.jwt' })).status,
    ).toBe(401);
    const jwt = await devToken(one.url, key);
    const auth = { Authorization: `Bearer ${jwt}` };
    for (const bad of [
      { ...body, signingKey: b64(randomBytes(38)) },
      { ...body, signingKey: b64(randomBytes(39)) },
      { ...body, capSecret: b64(randomBytes(63)) },
      { ...body, signingKey: 'not base64!' },
    ]) {
      expect((await postJson(`${one.url}/hc/connect`, bad, auth)).status).toBe(400);
    }
  });

  it('answers 502, naming no internal address, when the admin interface does not answer or refuses the doorway’s Origin', async () => {
    const port = (silent.address() as { port: number }).port;
    const down = await doorway('down', `ws://127.0.0.1:${port}`);
    const strict = await startTestConductor(join(dir(), 'strict'), {
      adminOrigins: ['https://only.example'],
    });
    const refused = await doorway('refused', `ws://127.0.0.1:${strict.adminPort}`);
    try {
      for (const server of [down, refused]) {
        const key = newKey();
        const answer = await postJson(
          `${server.url}/hc/connect`,
          { signingKey: b64(key.agent), capSecret: b64(randomBytes(64)) },
          { Authorization: `Bearer ${await devToken(server.url, key)}` },
        );
        expect(answer.status).toBe(502);
        expect(answer.body.error).toMatch(/admin interface does not answer/);
        expect(answer.body.error).not.toMatch(/127\.0\.0\.1/);
      }
    } finally {
      await down.close();
      await refused.close();
      await strict.close();
    }
  });

  it("stops between the conductor's steps once the one signing in has gone", async () => {
    const chaperone = new AdminChaperone(
      new URL(`ws://127.0.0.1:${conductor.adminPort}`),
      createLogger('silent'),
    );
    const admin = await AdminWebsocket.connect({
      url: new URL(`ws://127.0.0.1:${conductor.adminPort}`),
      wsClientOptions: { origin: DOORWAY_ADMIN_ORIGIN },
    });
    try {
      const key = newKey();
      const gone = new Error('gone');
      await expect(
        chaperone.connect(key.agent, key.agent, new Uint8Array(64), {
          signal: AbortSignal.abort(gone),
        }),
      ).rejects.toBe(gone);
      const apps = await admin.listApps({});
      expect(apps.map((app) => b64(app.agent_pub_key))).not.toContain(b64(key.agent));
    } finally {
      await chaperone.close();
      await (admin.client as unknown as { close(): Promise<unknown> }).close();
    }
  });
});
