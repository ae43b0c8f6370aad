import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface NodeHolder {
  /** The items it holds: `pseudoRandomBytes(size, seed + i)`. */
  hashes: string[];
  stop(): Promise<void>;
}

/**
 * Starts `e2e/harness/node-holder.ts` as its own process (a real Node `Peer` on WebSockets to
 * the doorway at `origin`) and waits until the trust layer lists it as the holder of its items.
 */
export async function startNodeHolder(
  origin: string,
  {
    size,
    count = 1,
    seed = 99,
    lie = false,
  }: { size: number; count?: number; seed?: number; lie?: boolean },
  timeoutMs = 120_000,
): Promise<NodeHolder> {
  const dir = await mkdtemp(join(tmpdir(), 'elohim-holder-'));
  const args = [origin.replace(/\/$/, ''), dir, String(size), String(count), String(seed)];
  const child: ChildProcess = spawn(
    process.execPath,
    ['--import', 'tsx', 'e2e/harness/node-holder.ts', ...args, ...(lie ? ['--lie'] : [])],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout?.on('data', (chunk) => {
    output += chunk;
  });
  child.stderr?.on('data', (chunk) => {
    output += chunk;
  });
  const stop = async () => {
    if (child.exitCode === null) {
      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + timeoutMs;
  while (!/^announced$/m.test(output)) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`the Node holder did not get announced:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { hashes: [...output.matchAll(/^hash (\S+)$/gm)].map((m) => m[1] as string), stop };
}
