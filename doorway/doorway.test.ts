import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.ts';
import { createLogger } from './log.ts';
import { type Doorway, MissingBuildError, startDoorway } from './server.ts';

describe('loadConfig', () => {
  it('takes flags before environment before defaults', () => {
    expect(loadConfig([], {})).toEqual({
      host: '127.0.0.1',
      port: 8080,
      staticDir: 'dist',
      logLevel: 'info',
    });
    expect(loadConfig([], { ELOHIM_PORT: '9000', ELOHIM_HOST: '::1' })).toMatchObject({
      host: '::1',
      port: 9000,
    });
    expect(loadConfig(['--port', '0'], { ELOHIM_PORT: '9000' })).toMatchObject({ port: 0 });
    expect(loadConfig(['--help'], {})).toBe('help');
  });

  it('refuses bad values with a message naming the flag', () => {
    expect(() => loadConfig(['--port', '70000'], {})).toThrow(ConfigError);
    expect(() => loadConfig(['--port', 'abc'], {})).toThrow(/--port/);
    expect(() => loadConfig(['--log-level', 'loud'], {})).toThrow(/--log-level/);
    expect(() => loadConfig(['--nope'], {})).toThrow();
  });
});

describe('startDoorway', () => {
  let dir: string;
  let doorway: Doorway;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'doorway-test-'));
    await writeFile(join(dir, 'index.html'), '<!doctype html><title>app</title>');
    doorway = await startDoorway(
      { host: '127.0.0.1', port: 0, staticDir: dir, logLevel: 'silent' },
      createLogger('silent'),
    );
  });

  afterAll(async () => {
    await doorway.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('listens on loopback and answers the health route', async () => {
    expect(doorway.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    const response = await fetch(new URL('/health', doorway.url));
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ status: 'ok' });
  });

  it('serves the app, and the app for unknown paths (client-side routes)', async () => {
    for (const path of ['/', '/some/route']) {
      const response = await fetch(new URL(path, doorway.url));
      expect(response.status).toBe(200);
      expect(await response.text()).toContain('<title>app</title>');
    }
  });

  it('refuses to start without a build, saying how to make one', async () => {
    await expect(
      startDoorway(
        { host: '127.0.0.1', port: 0, staticDir: join(dir, 'missing'), logLevel: 'silent' },
        createLogger('silent'),
      ),
    ).rejects.toThrow(MissingBuildError);
  });
});
