import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { AdminWebsocket, AppWebsocket, type CellId } from '@holochain/client';
import { encode } from '@msgpack/msgpack';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { sharedTempDir } from '../test-support.ts';
import type { ConductorInterfaces } from './index.ts';
import { DOORWAY_ADMIN_ORIGIN } from './index.ts';
import {
  authorizeCells,
  expectTokenRefused,
  newKey,
  rawSocket,
  sendSigned,
  signCall,
  startTestConductor,
  within,
} from './test-support.ts';

/** The emulator as `npm run conductor` runs it: admin and app interfaces on their own ports. */
describe('conductor emulator process: admin interface', () => {
  const dir = sharedTempDir('hc-admin-');
  let conductor: ConductorInterfaces;
  let admin: AdminWebsocket;
  const adminUrl = () => new URL(`ws://127.0.0.1:${conductor.adminPort}`);
  const appUrl = () => new URL(`ws://127.0.0.1:${conductor.appPort}`);

  beforeAll(async () => {
    conductor = await startTestConductor(join(dir(), 'conductor'), {
      limits: { maxAdminConnections: 3, maxAdminMessageBytes: 8 * 1024 },
    });
    admin = await AdminWebsocket.connect({
      url: adminUrl(),
      wsClientOptions: { origin: DOORWAY_ADMIN_ORIGIN },
    });
  });
  afterAll(async () => {
    await (admin?.client as unknown as { close(): Promise<unknown> } | undefined)?.close();
    await conductor?.close();
  });

  /** Installs a new agent's app; returns its key and cells. */
  async function install() {
    const key = newKey();
    const app = await admin.installApp({
      source: { type: 'path', value: 'elohim.happ' },
      agent_key: key.agent,
    });
    const cells = Object.fromEntries(
      Object.entries(app.cell_info).map(([role, [info]]) => [
        role,
        (info as { value: { cell_id: CellId } }).value.cell_id,
      ]),
    );
    return { key, app, cells };
  }

  it('installs an agent once, enables, lists apps and cells', async () => {
    const { key, app, cells } = await install();
    expect(app.installed_app_id).toMatch(/^elohim-uhCAk/);
    expect(Object.keys(cells).sort()).toEqual(['imagodei', 'infrastructure', 'lamad']);
    for (const cell of Object.values(cells)) {
      expect(Buffer.from(cell[1]).equals(Buffer.from(key.agent))).toBe(true);
    }
    await expect(
      admin.installApp({ source: { type: 'path', value: 'elohim.happ' }, agent_key: key.agent }),
    ).rejects.toMatchObject({ name: 'internal_error', message: /AppAlreadyInstalled/ });
    const enabled = await admin.enableApp({ installed_app_id: app.installed_app_id });
    expect(enabled).toMatchObject({
      installed_app_id: app.installed_app_id,
      status: { type: 'enabled' },
    });
    const apps = await admin.listApps({});
    expect(apps.map((a) => a.installed_app_id)).toContain(app.installed_app_id);
    const cellIds = await admin.listCellIds();
    expect(cellIds.filter((c) => Buffer.from(c[1]).equals(Buffer.from(key.agent)))).toHaveLength(3);
  });

  it('grants a signing key, issues a token, and the app interface takes both — a key without a grant is refused', async () => {
    const { app, cells } = await install();
    const signer = newKey();
    const secret = new Uint8Array(randomBytes(64));
    const infra = cells.infrastructure as CellId;
    const actionHash = await admin.grantZomeCallCapability({
      cell_id: infra,
      cap_grant: {
        tag: 'test',
        functions: { type: 'all' },
        access: { type: 'assigned', value: { secret, assignees: [signer.agent] } },
      },
    });
    expect(actionHash).toBeInstanceOf(Uint8Array);
    expect(actionHash.length).toBe(39);
    const { token, expires_at } = await admin.issueAppAuthenticationToken({
      installed_app_id: app.installed_app_id,
      expiry_seconds: 60,
      single_use: false,
    });
    expect(token).toHaveLength(32);
    expect(expires_at).toBeGreaterThan(Date.now() * 1000);

    const ws = await AppWebsocket.connect({ url: appUrl(), token });
    try {
      expect((await ws.appInfo())?.installed_app_id).toBe(app.installed_app_id);
      authorizeCells([infra], signer, secret);
      expect(
        await ws.callZome({
          cell_id: infra,
          zome_name: 'infrastructure',
          fn_name: 'get_my_content_servers',
          payload: null,
        }),
      ).toEqual([]);
      // Another key, never granted: the capability check refuses it.
      const stranger = newKey();
      const call = signCall(
        {
          cell_id: infra,
          zome_name: 'infrastructure',
          fn_name: 'get_my_content_servers',
          cap_secret: secret,
        },
        stranger,
      );
      await expect(sendSigned(ws, infra, call)).rejects.toMatchObject({
        name: 'zome_call_unauthorized',
        message: /BadCapGrant/,
      });
    } finally {
      await (ws.client as unknown as { close(): Promise<unknown> }).close();
    }
  });

  it('needs a token on the app interface, and a single-use token (the default) opens one socket', async () => {
    const { app } = await install();
    await expectTokenRefused(appUrl());
    const { token } = await admin.issueAppAuthenticationToken({
      installed_app_id: app.installed_app_id,
    });
    const first = await AppWebsocket.connect({ url: appUrl(), token });
    expect((await first.appInfo())?.installed_app_id).toBe(app.installed_app_id);
    await (first.client as unknown as { close(): Promise<unknown> }).close();
    const again = await rawSocket(appUrl().href);
    again.ws.send(encode({ type: 'authenticate', data: encode({ token }) }));
    expect(await within(again.closed, 10_000, 'closing after a spent token')).toBe(1008);
  });

  it('refuses what it does not carry out, with a reason', async () => {
    const { app, cells } = await install();
    await expect(
      admin.installApp({ source: { type: 'path', value: 'elohim.happ' } }),
    ).rejects.toMatchObject({ name: 'internal_error', message: /no keystore/ });
    await expect(
      admin.grantZomeCallCapability({
        cell_id: cells.imagodei as CellId,
        cap_grant: { tag: 't', functions: { type: 'all' }, access: { type: 'unrestricted' } },
      }),
    ).rejects.toMatchObject({ message: /assigned capabilities only/ });
    await expect(
      admin.grantZomeCallCapability({
        cell_id: [(cells.imagodei as CellId)[0], newKey().agent],
        cap_grant: {
          tag: 't',
          functions: { type: 'all' },
          access: {
            type: 'assigned',
            value: { secret: new Uint8Array(64), assignees: [newKey().agent] },
          },
        },
      }),
    ).rejects.toMatchObject({ message: /CellMissing/ });
    await expect(
      admin.issueAppAuthenticationToken({
        installed_app_id: app.installed_app_id,
        expiry_seconds: 0,
      }),
    ).rejects.toMatchObject({ message: /expiry_seconds/ });
    await expect(
      admin.issueAppAuthenticationToken({ installed_app_id: 'elohim-nobody' }),
    ).rejects.toMatchObject({ message: /AppNotInstalled/ });
    await expect(admin.generateAgentPubKey()).rejects.toMatchObject({
      name: 'internal_error',
      message: /not available on the Elohim conductor emulator/,
    });
  });

  /** A raw admin websocket: open (with its close code to come), or the HTTP status refusing it. */
  function openAdmin(origin: string | null = DOORWAY_ADMIN_ORIGIN) {
    const ws = new WebSocket(adminUrl(), origin ? { headers: { Origin: origin } } : {});
    const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
    const opened = new Promise<{ ws: WebSocket; closed: Promise<number> } | number>((resolve) => {
      ws.on('open', () => resolve({ ws, closed }));
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    });
    ws.on('error', () => {});
    return within(opened, 10_000, 'the admin upgrade');
  }

  async function openedAdmin() {
    const socket = await openAdmin();
    if (typeof socket === 'number') throw new Error(`admin upgrade refused: ${socket}`);
    return socket;
  }

  it('refuses a websocket from another Origin, or none', async () => {
    expect(await openAdmin(null)).toBe(403);
    expect(await openAdmin('https://evil.example')).toBe(403);
  });

  it('cuts an admin frame over the size cap before reading it, and a frame nested too deep', async () => {
    const big = await openedAdmin();
    big.ws.send(Buffer.alloc(16 * 1024));
    expect(await within(big.closed, 10_000, 'closing on a big frame')).toBe(1009);
    // 100 arrays in arrays (0x91: an array of one), then 1.
    const deep = await openedAdmin();
    deep.ws.send(Buffer.from([...Array(100).fill(0x91), 0x01]));
    expect(await within(deep.closed, 10_000, 'closing on a deep frame')).toBe(1003);
  });

  it('holds a bounded number of admin websockets', async () => {
    // The suite's own client holds one of the 3; sockets of earlier tests may still be closing.
    const open: WebSocket[] = [];
    let refused: number | undefined;
    try {
      for (let i = 0; i < 3 && refused === undefined; i++) {
        const socket = await openAdmin();
        if (typeof socket === 'number') refused = socket;
        else open.push(socket.ws);
      }
      expect(refused).toBe(503);
      expect(open.length).toBeLessThanOrEqual(2);
    } finally {
      for (const ws of open) ws.terminate();
    }
  });

  it('answers plain HTTP with 426', async () => {
    const response = await fetch(`http://127.0.0.1:${conductor.adminPort}/`);
    expect(response.status).toBe(426);
  });
});
