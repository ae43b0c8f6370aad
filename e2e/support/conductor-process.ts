import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface ConductorProcess {
  /** The admin interface, for a doorway's `--hc-admin`. */
  adminUrl: string;
  /** The app interface, for a doorway's `--hc-conductor`. */
  appUrl: string;
  pid: number;
  /** Everything the process printed so far, for failure messages. */
  output(): string;
  /** Stops it (SIGTERM, then SIGKILL after 5 s) and removes its data dir. */
  stop(): Promise<void>;
}

/** The flags a doorway needs to stand in front of `conductor` (proxy mode). */
export function proxyArgs(conductor: ConductorProcess): string[] {
  return ['--hc-conductor', conductor.appUrl, '--hc-admin', conductor.adminUrl];
}

/**
 * Starts the conductor emulator as its own process (`npm run conductor`) on loopback, on ports
 * the OS picks, in a fresh data dir, and waits for its ready line (JSON with the ports bound).
 */
export async function startConductorProcess(
  args: string[] = [],
  timeoutMs = 60_000,
): Promise<ConductorProcess> {
  const dataDir = await mkdtemp(join(tmpdir(), 'elohim-conductor-'));
  const child: ChildProcess = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'doorway/conductor/main.ts',
      '--host',
      '127.0.0.1',
      '--admin-port',
      '0',
      '--app-port',
      '0',
      '--data-dir',
      dataDir,
      ...args,
    ],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let log = '';
  child.stdout?.on('data', (chunk) => {
    log += chunk;
  });
  child.stderr?.on('data', (chunk) => {
    log += chunk;
  });
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    }
    await rm(dataDir, { recursive: true, force: true });
  };
  try {
    const ready = await new Promise<{ host: string; admin_port: number; app_port: number }>(
      (resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`conductor did not start within ${timeoutMs} ms:\n${log}`)),
          timeoutMs,
        );
        child.stdout?.on('data', () => {
          const line = /^\{"conductor":"ready".*\}$/m.exec(log)?.[0];
          if (!line) return;
          clearTimeout(timer);
          resolve(JSON.parse(line));
        });
        child.once('exit', (code) => {
          clearTimeout(timer);
          reject(new Error(`conductor exited with code ${code} before it was ready:\n${log}`));
        });
      },
    );
    return {
      adminUrl: `ws://${ready.host}:${ready.admin_port}`,
      appUrl: `ws://${ready.host}:${ready.app_port}`,
      pid: child.pid as number,
      output: () => log,
      stop,
    };
  } catch (error) {
    child.kill('SIGKILL');
    await stop();
    throw error;
  }
}
