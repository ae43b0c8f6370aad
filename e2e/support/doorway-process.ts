import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const READY = /Elohim doorway ready at (\S+)/;

export interface DoorwayProcess {
  url: string;
  /** Everything the process printed so far, for failure messages. */
  output(): string;
  stop(): Promise<void>;
}

/** Starts a real doorway process on a free loopback port and waits until it says it's ready. */
export async function startDoorwayProcess(
  args: string[] = [],
  timeoutMs = 20_000,
): Promise<DoorwayProcess> {
  const child: ChildProcess = spawn(
    process.execPath,
    ['--import', 'tsx', 'doorway/main.ts', '--host', '127.0.0.1', '--port', '0', ...args],
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
