import { spawn } from 'node:child_process';
import { once } from 'node:events';

/**
 * Makes another process listen on a loopback port until `release()`: what a restarting doorway
 * must survive when someone else took its old port meanwhile.
 */
export async function occupyPort(port: number): Promise<{ release(): Promise<void> }> {
  const child = spawn(
    process.execPath,
    [
      '-e',
      // Already taken by someone else is as good for the purpose: say so and keep running.
      `require('node:net').createServer().on('error', (e) => console.log('taken', e.code))` +
        `.listen(${port}, '127.0.0.1', () => console.log('listening'))`,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout.on('data', (chunk) => {
    output += chunk;
  });
  child.stderr.on('data', (chunk) => {
    output += chunk;
  });
  const exited = once(child, 'exit');
  const deadline = Date.now() + 10_000;
  while (!/listening|taken EADDRINUSE/.test(output)) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`could not occupy port ${port}:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return {
    async release() {
      if (child.exitCode === null) {
        child.kill('SIGKILL');
        await exited;
      }
    },
  };
}
