import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openFrontDoor } from './front-door.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const READY = /Elohim doorway ready at (\S+)/;
const RELAY = /Elohim doorway relay at \/ip[46]\/[^/]+\/tcp\/(\d+)\//;

/**
 * What every test doorway is told before the caller's own flags: loopback, free ports for HTTP
 * and libp2p (never the fixed defaults, which another doorway on this machine may hold), and
 * room for a test's burst of Chromium peers, all on 127.0.0.1, connecting at once (libp2p's
 * defaults, which the doorway keeps, take 5 connections a second from one address, 10 being
 * set up at once). The limits still apply to loopback: no --p2p-trust-loopback.
 */
export const TEST_DOORWAY_ARGS = [
  '--host',
  '127.0.0.1',
  '--port',
  '0',
  '--p2p-port',
  '0',
  '--p2p-inbound-rate',
  '50',
  '--p2p-max-pending',
  '50',
];

export interface DoorwayProcess {
  url: string;
  /** The process, for measuring it (its memory in bench/bridge.ts). */
  pid: number;
  /** Everything the process printed so far, for failure messages. */
  output(): string;
  stop(): Promise<void>;
}

/**
 * Starts a real doorway process (see {@link TEST_DOORWAY_ARGS}) and waits until it is ready.
 * Without `--data-dir` it gets a fresh one of its own, removed when it stops: doorways never
 * share a key, a trust database or a content store (one process writes a store).
 */
export async function startDoorwayProcess(
  args: string[] = [],
  timeoutMs = 60_000,
): Promise<DoorwayProcess> {
  if (!args.includes('--data-dir')) {
    const dataDir = await mkdtemp(join(tmpdir(), 'elohim-doorway-'));
    try {
      const doorway = await startDoorwayProcess([...args, '--data-dir', dataDir], timeoutMs);
      return {
        ...doorway,
        async stop() {
          await doorway.stop();
          await rm(dataDir, { recursive: true, force: true });
        },
      };
    } catch (error) {
      await rm(dataDir, { recursive: true, force: true });
      throw error;
    }
  }
  const child: ChildProcess = spawn(
    process.execPath,
    ['--import', 'tsx', 'doorway/main.ts', ...TEST_DOORWAY_ARGS, ...args],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let log = '';
  child.stdout?.on('data', (chunk) => {
    log += chunk;
  });
  child.stderr?.on('data', (chunk) => {
    log += chunk;
  });

  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`doorway did not start within ${timeoutMs} ms:\n${log}`));
    }, timeoutMs);
    const onData = () => {
      const match = READY.exec(log);
      if (match?.[1]) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    };
    child.stdout?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`doorway exited with code ${code} before it was ready:\n${log}`));
    });
  });

  return {
    url,
    pid: child.pid as number,
    output: () => log,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

export interface RestartableDoorway extends DoorwayProcess {
  /** The port the running doorway's libp2p listener got (a restart may get another). */
  relayPort(): number;
  /** Starts the doorway again after `stop()`, behind the same `url`. */
  start(): Promise<void>;
  /** Stops the doorway and gives up the origin. */
  close(): Promise<void>;
}

/**
 * A doorway that can stop and start again behind one origin. Each start takes whatever HTTP
 * and libp2p ports are free then; the front door keeps the origin the browser knows (its
 * service worker and storage belong to it), and the app finds the relay's new address through
 * `/api/v1/p2p/info` when it reconnects. Pass `--data-dir` to keep the doorway's PeerId and
 * trust-layer state across restarts.
 */
export async function startRestartableDoorway(args: string[] = []): Promise<RestartableDoorway> {
  // One data dir for all its lives unless the caller chose one: a restart keeps its PeerId.
  const ownDir = args.includes('--data-dir')
    ? undefined
    : await mkdtemp(join(tmpdir(), 'elohim-doorway-'));
  if (ownDir) args = [...args, '--data-dir', ownDir];
  const front = await openFrontDoor();
  let current: DoorwayProcess | undefined;
  let earlier = '';
  const start = async () => {
    earlier += current?.output() ?? '';
    current = await startDoorwayProcess(args);
    front.forwardTo(Number(new URL(current.url).port));
  };
  const stop = async () => {
    front.forwardTo(undefined);
    await current?.stop();
  };
  try {
    await start();
  } catch (error) {
    await front.close();
    if (ownDir) await rm(ownDir, { recursive: true, force: true });
    throw error;
  }
  return {
    url: front.url,
    get pid() {
      return current?.pid ?? 0;
    },
    output: () => earlier + (current?.output() ?? ''),
    relayPort() {
      const port = RELAY.exec(current?.output() ?? '')?.[1];
      if (port === undefined) throw new Error(`no relay address in:\n${current?.output()}`);
      return Number(port);
    },
    stop,
    start,
    async close() {
      await stop();
      await front.close();
      if (ownDir) await rm(ownDir, { recursive: true, force: true });
    },
  };
}

/** A doorway's PeerId, as its `/api/v1/p2p/info` gives it. */
export async function doorwayPeerId(url: string): Promise<string> {
  const info = (await (await fetch(new URL('/api/v1/p2p/info', url))).json()) as {
    peer_id: string;
  };
  return info.peer_id;
}

/** A doorway's `/health` figures for what it keeps for others. */
export async function keptByDoorway(url: string): Promise<{ items: number; bytes: number }> {
  const response = await fetch(new URL('/health', url));
  if (!response.ok) throw new Error(`GET /health on ${url}: ${response.status}`);
  const body = (await response.json()) as { store: { kept: { items: number; bytes: number } } };
  return body.store.kept;
}
