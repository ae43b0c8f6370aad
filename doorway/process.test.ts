import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Runs `body` in a fresh Node process that called surviveStrayAborts; its exit code and output. */
function run(body: string): Promise<{ code: number | null; output: string }> {
  const script = `
    import { surviveStrayAborts } from './doorway/process.ts';
    import { createLogger } from './doorway/log.ts';
    surviveStrayAborts(createLogger('info'));
    ${body}
    // After everything the body queued (ticks, rejections, then immediates in order): no clock.
    setImmediate(() => setImmediate(() => { console.log('still running'); process.exit(0); }));
  `;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk) => {
    output += chunk;
  });
  child.stderr.on('data', (chunk) => {
    output += chunk;
  });
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, output })));
}

describe('surviveStrayAborts', () => {
  it('logs an AbortError thrown by an abort listener (or left unhandled) and keeps running', async () => {
    const { code, output } = await run(`
      const controller = new AbortController();
      controller.signal.addEventListener('abort', () => {
        throw new DOMException('query aborted', 'AbortError');
      });
      controller.abort();
      Promise.reject(new DOMException('lookup aborted', 'AbortError'));
    `);
    expect(output).toContain('query aborted');
    expect(output).toContain('lookup aborted');
    expect(output).toContain('still running');
    expect(code).toBe(0);
  });

  it('ends the process on any other uncaught error', async () => {
    const { code, output } = await run(
      `setImmediate(() => { throw new TypeError('a real bug'); });`,
    );
    expect(output).toContain('a real bug');
    expect(output).not.toContain('still running');
    expect(code).toBe(1);
  });
});
