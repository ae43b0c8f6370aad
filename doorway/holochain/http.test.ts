import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppWebsocket, encodeHashToBase64 } from '@holochain/client';
import { decode, encode } from '@msgpack/msgpack';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sharedTempDir } from '../test-support.ts';
import { DNA_HASHES, ROLES } from './store.ts';
import {
  authorizeCells,
  challengeOf,
  devToken,
  devTokenRequest,
  expectTokenRefused,
  hcConnect,
  newKey,
  postJson,
  rawSocket,
  sharedTrustServer,
  startTrustServer,
  upgradeStatus,
} from './test-support.ts';

type Server = Awaited<ReturnType<typeof startTrustServer>>;

describe('/hc HTTP endpoints', () => {
  const server = sharedTrustServer('hc-http-');
  const scratch = sharedTempDir('hc-http-off-');

  const signedTokenRequest = async (key = newKey(), url = server().url) =>
    devTokenRequest(await challengeOf(url), key);

  it('issues a dev token to whoever proves the agent key', async () => {
    const key = newKey();
    const { status, body } = await postJson(
      `${server().url}/hc/dev/token`,
      await signedTokenRequest(key),
    );
    expect(status).toBe(200);
    expect(body).toMatchObject({ agentPubKey: encodeHashToBase64(key.agent) });
    expect(body.token).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
    expect(body.expiresAt).toBeGreaterThan(Date.now());
  });

  it('refuses dev tokens for a bad signature, a missing nonce, or a malformed key', async () => {
    const key = newKey();
    type Request = Awaited<ReturnType<typeof signedTokenRequest>>;
    const cases: [(request: Request) => Promise<unknown>, number, RegExp][] = [
      [
        async (request) => ({ ...request, signature: (await signedTokenRequest()).signature }),
        401,
        /does not verify/,
      ],
      [async ({ nonce, ...request }) => request, 400, /nonce must be/],
      [async (request) => ({ ...request, agentPubKey: 'not-a-key' }), 400, /agentPubKey/],
      [
        async (request) => ({ ...request, agentPubKey: encodeHashToBase64(DNA_HASHES.lamad) }),
        400,
        /84 20 24/,
      ],
      [
        async (request) => ({
          ...request,
          agentPubKey: encodeHashToBase64(
            new Uint8Array([...key.agent.subarray(0, 35), 0, 0, 0, 0]),
          ),
        }),
        400,
        /location bytes/,
      ],
      [async (request) => ({ ...request, signature: 'AAAA' }), 400, /64 bytes/],
    ];
    for (const [change, status, error] of cases) {
      const body = await change(await signedTokenRequest(key));
      const answer = await postJson(`${server().url}/hc/dev/token`, body);
      expect(answer.status, JSON.stringify(answer.body)).toBe(status);
      expect(answer.body.error).toMatch(error);
    }
  });

  it('answers /hc/connect in the Rust doorway shape, granting the signing key on every cell', async () => {
    const agent = newKey();
    const jwt = await devToken(server().url, agent);
    const secret = new Uint8Array(randomBytes(64));
    const { status, body } = await postJson(
      `${server().url}/hc/connect`,
      {
        signingKey: Buffer.from(agent.agent).toString('base64'),
        capSecret: Buffer.from(secret).toString('base64'),
      },
      { Authorization: `Bearer ${jwt}` },
    );
    expect(status).toBe(200);
    expect(Object.keys(body).sort()).toEqual(
      [
        'agentPubKey',
        'appPort',
        'appToken',
        'cellIds',
        'conductorId',
        'installedAppId',
        'token',
      ].sort(),
    );
    expect(body.agentPubKey).toBe(Buffer.from(agent.agent).toString('base64'));
    expect(body.appPort).toBe(server().port);
    expect(body.cellIds).toEqual(
      Object.fromEntries(
        ROLES.map((role) => [
          role,
          [Buffer.from(DNA_HASHES[role]).toString('base64'), body.agentPubKey],
        ]),
      ),
    );
    // Connecting twice with the same key does not pile up grants.
    const again = await hcConnect(server().url, jwt, agent.agent, secret);
    expect(again.installedAppId).toBe(body.installedAppId);
  });

  it('refuses /hc/connect without a valid session or with malformed keys', async () => {
    const jwt = await devToken(server().url, newKey());
    const good = {
      signingKey: Buffer.from(newKey().agent).toString('base64'),
      capSecret: Buffer.from(randomBytes(64)).toString('base64'),
    };
    expect((await postJson(`${server().url}/hc/connect`, good)).status).toBe(401);
    expect(
      (await postJson(`${server().url}/hc/connect`, good, { Authorization: 'Bearer x.y.z' }))
        .status,
    ).toBe(401);
    const auth = { Authorization: `Bearer ${jwt}` };
    const short = await postJson(
      `${server().url}/hc/connect`,
      { ...good, signingKey: 'AAAA' },
      auth,
    );
    expect(short).toMatchObject({
      status: 400,
      body: { error: expect.stringMatching(/39 bytes/) },
    });
    const secret = await postJson(
      `${server().url}/hc/connect`,
      { ...good, capSecret: 'AAAA' },
      auth,
    );
    expect(secret).toMatchObject({
      status: 400,
      body: { error: expect.stringMatching(/64 bytes/) },
    });
  });

  it('answers CORS preflights for the POST endpoints', async () => {
    for (const path of ['/hc/challenge', '/hc/dev/token', '/hc/connect']) {
      const response = await fetch(`${server().url}${path}`, { method: 'OPTIONS' });
      expect(response.status).toBe(204);
      expect(response.headers.get('access-control-allow-headers')).toMatch(/Authorization/);
    }
  });

  it('refuses app websockets without a session token or on another port', async () => {
    const jwt = await devToken(server().url, newKey());
    const base = `ws://127.0.0.1:${server().port}/hc/app`;
    expect(await upgradeStatus(`${base}/${server().port}`)).toBe(401);
    expect(await upgradeStatus(`${base}/${server().port}?token=bad`)).toBe(401);
    expect(await upgradeStatus(`${base}/1?token=${jwt}`)).toBe(404);
  });

  it('closes a socket that sends a request before authenticating', async () => {
    const jwt = await devToken(server().url, newKey());
    const socket = await rawSocket(
      `ws://127.0.0.1:${server().port}/hc/app/${server().port}?token=${jwt}`,
    );
    socket.ws.send(
      encode({ type: 'request', id: 0, data: encode({ type: 'app_info', value: null }) }),
    );
    expect(await socket.closed).toBe(1008);
    expect(socket.received).toEqual([]);
  });

  it('refuses dev tokens when they are off', async () => {
    const off = await startTrustServer({
      dataDir: join(scratch(), 'off'),
      hcConductor: undefined,
      hcDevTokens: false,
    });
    try {
      const answer = await postJson(
        `${off.url}/hc/dev/token`,
        await signedTokenRequest(newKey(), off.url),
      );
      expect(answer).toMatchObject({
        status: 403,
        body: { error: expect.stringMatching(/--hc-dev-tokens on/) },
      });
    } finally {
      await off.close();
    }
  });

  it("with dev tokens off, gives one only to the doorway's own agent, proven by its own key", async () => {
    const doorwayKey = newKey();
    const self = encodeHashToBase64(doorwayKey.agent);
    const off = await startTrustServer({
      dataDir: join(scratch(), 'self'),
      hcConductor: undefined,
      hcDevTokens: false,
      selfAgent: self,
    });
    try {
      const own = await postJson(
        `${off.url}/hc/dev/token`,
        await signedTokenRequest(doorwayKey, off.url),
      );
      expect(own).toMatchObject({ status: 200, body: { agentPubKey: self } });
      // Anyone else: refused. Claiming the doorway's agent with another key: the signature fails.
      const other = await postJson(
        `${off.url}/hc/dev/token`,
        await signedTokenRequest(newKey(), off.url),
      );
      expect(other.status).toBe(403);
      const forged = {
        ...(await signedTokenRequest(newKey(), off.url)),
        agentPubKey: self,
      };
      expect((await postJson(`${off.url}/hc/dev/token`, forged)).status).toBe(401);
    } finally {
      await off.close();
    }
  });
});

describe('proxy mode (--hc-conductor)', () => {
  let dir: string;
  let conductor: Server;
  let front: Server;
  let backendAgent: ReturnType<typeof newKey>;
  let connection: Awaited<ReturnType<typeof hcConnect>>;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hc-proxy-'));
    // A second emulator stands in for the real conductor; the front doorway forwards to it.
    conductor = await startTrustServer({
      dataDir: join(dir, 'conductor'),
      hcConductor: undefined,
      hcDevTokens: true,
    });
    backendAgent = newKey();
    const backendJwt = await devToken(conductor.url, backendAgent);
    connection = await hcConnect(
      conductor.url,
      backendJwt,
      backendAgent.agent,
      new Uint8Array(randomBytes(64)),
    );
    const appInterface = `ws://127.0.0.1:${conductor.port}/hc/app/${connection.appPort}?token=${connection.token}`;
    front = await startTrustServer({
      dataDir: join(dir, 'front'),
      hcConductor: appInterface,
      hcDevTokens: true,
    });
  });
  afterAll(async () => {
    await front.close();
    await conductor.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('forwards app websockets byte for byte', async () => {
    const frontJwt = await devToken(front.url, newKey());
    const authenticate = encode({
      type: 'authenticate',
      data: encode({ token: connection.appToken }),
    });
    const appInfo = encode({
      type: 'request',
      id: 7,
      data: encode({ type: 'app_info', value: null }),
    });
    const direct = await rawSocket(
      `ws://127.0.0.1:${conductor.port}/hc/app/${connection.appPort}?token=${connection.token}`,
    );
    const proxied = await rawSocket(`ws://127.0.0.1:${front.port}/hc/app/9999?token=${frontJwt}`);
    for (const { ws } of [direct, proxied]) {
      ws.send(authenticate);
      ws.send(appInfo);
    }
    await expect.poll(() => direct.received.length + proxied.received.length).toBe(2);
    expect(proxied.received[0]?.equals(direct.received[0] as Buffer)).toBe(true);
    expect(decode(proxied.received[0] as Buffer)).toMatchObject({ type: 'response', id: 7 });
    direct.ws.close();
    proxied.ws.close();
  });

  it('serves the real client through the proxy, and refuses a bad app token by closing', async () => {
    const frontJwt = await devToken(front.url, newKey());
    const url = new URL(`ws://127.0.0.1:${front.port}/hc/app/9999?token=${frontJwt}`);
    const ws = await AppWebsocket.connect({ url, token: connection.appToken });
    try {
      const info = await ws.appInfo();
      expect(info.installed_app_id).toBe(connection.installedAppId);
      authorizeCells(Object.values(connection.cellIds), backendAgent, new Uint8Array(64));
      const servers = await ws.callZome({
        role_name: 'infrastructure',
        zome_name: 'infrastructure',
        fn_name: 'get_my_content_servers',
        payload: null,
      });
      expect(servers).toEqual([]);
    } finally {
      await (ws.client as unknown as { close(): Promise<unknown> }).close();
    }
    await expectTokenRefused(url);
  });

  it('answers /hc/connect with 501 and still needs a session token for /hc/app', async () => {
    const jwt = await devToken(front.url, newKey());
    const answer = await postJson(
      `${front.url}/hc/connect`,
      {
        signingKey: Buffer.from(newKey().agent).toString('base64'),
        capSecret: Buffer.from(randomBytes(64)).toString('base64'),
      },
      { Authorization: `Bearer ${jwt}` },
    );
    expect(answer).toMatchObject({
      status: 501,
      body: { error: expect.stringMatching(/admin API/) },
    });
    expect(await upgradeStatus(`ws://127.0.0.1:${front.port}/hc/app/1`)).toBe(401);
  });
});
