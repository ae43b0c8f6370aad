import { AdminWebsocket } from '@holochain/client';
import { describe, expect, it } from 'vitest';
import { startConductorProcess } from '../../e2e/support/conductor-process.ts';
import { loadConfig } from '../config.ts';
import { DOORWAY_ADMIN_ORIGIN } from '../holochain/index.ts';
import { loadConductorConfig } from './config.ts';

describe('npm run conductor', () => {
  it('prints one JSON ready line with the ports it bound, serves the admin interface, stops on SIGTERM', async () => {
    const conductor = await startConductorProcess();
    try {
      expect(conductor.adminUrl).toMatch(/^ws:\/\/127\.0\.0\.1:\d+$/);
      expect(conductor.appUrl).toMatch(/^ws:\/\/127\.0\.0\.1:\d+$/);
      const admin = await AdminWebsocket.connect({
        url: new URL(conductor.adminUrl),
        wsClientOptions: { origin: DOORWAY_ADMIN_ORIGIN },
      });
      expect(await admin.listApps({})).toEqual([]);
      await (admin.client as unknown as { close(): Promise<unknown> }).close();
    } finally {
      await conductor.stop();
    }
    expect(conductor.output()).toMatch(/SIGTERM received, closing/);
  });

  it('reads its flags and environment, and refuses bad ones', () => {
    expect(loadConductorConfig([], {})).toMatchObject({
      host: '127.0.0.1',
      adminPort: 4444,
      appPort: 4445,
      adminOrigins: [DOORWAY_ADMIN_ORIGIN],
      appOrigins: '*',
    });
    expect(
      loadConductorConfig(['--admin-port', '0', '--admin-origins', 'a, b'], {
        ELOHIM_CONDUCTOR_APP_PORT: '0',
        ELOHIM_CONDUCTOR_APP_ORIGINS: 'https://x.example',
      }),
    ).toMatchObject({
      adminPort: 0,
      appPort: 0,
      adminOrigins: ['a', 'b'],
      appOrigins: ['https://x.example'],
    });
    expect(() => loadConductorConfig(['--admin-port', '70000'], {})).toThrow(/--admin-port/);
    expect(() => loadConductorConfig(['--host', 'localhost'], {})).toThrow(/--host/);
    expect(() => loadConductorConfig(['--admin-origins', ' , '], {})).toThrow(/--admin-origins/);
  });

  it('a doorway takes --hc-admin (or ELOHIM_HC_ADMIN) only with --hc-conductor', () => {
    expect(
      loadConfig(
        ['--hc-conductor', 'ws://127.0.0.1:4445', '--hc-admin', 'ws://127.0.0.1:4444'],
        {},
      ),
    ).toMatchObject({ hcConductor: 'ws://127.0.0.1:4445', hcAdmin: 'ws://127.0.0.1:4444' });
    expect(
      loadConfig([], {
        ELOHIM_HC_CONDUCTOR: 'ws://127.0.0.1:4445',
        ELOHIM_HC_ADMIN: 'ws://127.0.0.1:4444',
      }),
    ).toMatchObject({ hcAdmin: 'ws://127.0.0.1:4444' });
    expect(loadConfig([], {})).toMatchObject({ hcAdmin: undefined });
    expect(() => loadConfig(['--hc-admin', 'ws://127.0.0.1:4444'], {})).toThrow(/--hc-conductor/);
    expect(() =>
      loadConfig(['--hc-conductor', 'ws://127.0.0.1:4445', '--hc-admin', 'http://x'], {}),
    ).toThrow(/--hc-admin/);
  });
});
