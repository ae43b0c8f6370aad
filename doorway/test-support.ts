import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2';
import { identify, identifyPush } from '@libp2p/identify';
import type { Libp2p } from '@libp2p/interface';
import { type Ping, ping } from '@libp2p/ping';
import { webSockets } from '@libp2p/websockets';
import { createLibp2p } from 'libp2p';
import { afterAll, beforeAll } from 'vitest';
import type { DoorwayConfig } from './config.ts';
import { createLogger } from './log.ts';
import { type Doorway, startDoorway } from './server.ts';

/**
 * A doorway config for tests: loopback, free ports, state kept in `<dir>/state`. The connection
 * limits are libp2p's except the inbound rate and pending count, raised so a test's burst of
 * loopback clients gets in (tests of the limits pass their own).
 */
export function testConfig(dir: string, overrides: Partial<DoorwayConfig> = {}): DoorwayConfig {
  return {
    host: '127.0.0.1',
    port: 0,
    staticDir: dir,
    logLevel: 'silent',
    p2pHost: '127.0.0.1',
    p2pPort: 0,
    p2pAnnounce: [],
    p2pTcpPort: 0,
    peers: [],
    dhtPrivateAddrs: true,
    dataDir: join(dir, 'state'),
    relayDataLimit: 128 * 1024,
    relayDurationLimit: 120,
    relayMaxReservations: 16,
    p2pMaxConnections: 300,
    p2pInboundRate: 100,
    p2pMaxPending: 100,
    p2pTrustLoopback: false,
    httpRequestTimeoutMs: 30_000,
    hcConductor: undefined,
    hcDevTokens: true,
    storeDir: join(dir, 'state', 'store'),
    storeQuota: 64 * 2 ** 20,
    cacheQuota: 64 * 2 ** 20,
    ...overrides,
  };
}

/** The stand-in app a test doorway serves. */
export const APP_FILES: Readonly<Record<string, string>> = {
  'index.html': '<!doctype html><title>app</title>',
};

/** Writes `files` (path → text) below `dir`, making the folders they need. */
async function writeFiles(dir: string, files: Record<string, string>): Promise<void> {
  for (const [path, text] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), text);
  }
}

/**
 * A temporary dir (named after `prefix`, holding `files`) for the tests of the file or describe
 * block this is called in: made before all of them, removed after all of them (after the hooks
 * registered later, which vitest runs first). The getter gives it to the tests and hooks.
 */
export function sharedTempDir(prefix: string, files: Record<string, string> = {}): () => string {
  let dir: string | undefined;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), prefix));
    await writeFiles(dir, files);
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });
  return () => {
    if (!dir) throw new Error('the temporary dir is made in beforeAll: read it in a test or hook');
    return dir;
  };
}

/**
 * A silent doorway over a throwaway folder with a stand-in app and `files` (path → text) beside
 * it; `stop` removes both.
 */
export async function startTestDoorway(
  overrides: Partial<DoorwayConfig> = {},
  files: Record<string, string> = {},
): Promise<{ doorway: Doorway; dir: string; stop(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'doorway-'));
  await writeFiles(dir, { ...APP_FILES, ...files });
  const doorway = await startDoorway(testConfig(dir, overrides), createLogger('silent'));
  return {
    doorway,
    dir,
    async stop() {
      await doorway.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Polls `check` until it returns a value, or fails after `timeoutMs`. */
export async function until<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A Node peer shaped like the browser one: WebSockets to the doorway, a relay reservation. */
export async function newClient(): Promise<Libp2p<{ ping: Ping }>> {
  return createLibp2p({
    addresses: { listen: ['/p2p-circuit'] },
    transports: [webSockets(), circuitRelayTransport()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    // Node's default gater allows ws:// and loopback; browsers must allow them explicitly.
    connectionGater: { denyDialMultiaddr: () => false },
    services: { identify: identify(), identifyPush: identifyPush(), ping: ping() },
  });
}

/** Runs `doorway/main.ts` as `npm start` does (through tsx), collecting its output. */
export function runDoorway(args: string[]) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'doorway/main.ts', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => {
    output += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    output += d.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const waitFor = async (pattern: RegExp, timeoutMs = 20_000): Promise<RegExpMatchArray> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const match = output.match(pattern);
      if (match) return match;
      if (child.exitCode != null || Date.now() > deadline) {
        throw new Error(`no ${pattern} in doorway output:\n${output}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  return { child, exited, waitFor, output: () => output };
}
