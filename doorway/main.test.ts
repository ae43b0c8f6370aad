import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { APP_FILES, sharedTempDir } from './test-support.ts';

/** Runs `doorway/main.ts` as `npm start` does (through tsx), collecting its output. */
function run(args: string[]) {
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

describe('doorway main', () => {
  const dir = sharedTempDir('doorway-main-', APP_FILES);

  it('says where it is once HTTP and libp2p listen, and stops cleanly on SIGTERM', async () => {
    const doorway = run([
      '--port',
      '0',
      '--static',
      dir(),
      '--data-dir',
      join(dir(), 'state'),
      '--log-level',
      'info',
    ]);
    try {
      const [, url] = await doorway.waitFor(/Elohim doorway ready at (\S+)\n/);
      const relay = doorway.output().match(/Elohim doorway relay at (\S+)\n/)?.[1];
      expect(relay).toMatch(/^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/ws\/p2p\/12D3KooW/);
      const info = (await (await fetch(new URL('/api/v1/p2p/info', url))).json()) as {
        multiaddrs: string[];
      };
      expect(info.multiaddrs).toContain(relay);
      doorway.child.kill('SIGTERM');
      expect(await doorway.exited).toBe(0);
      expect(doorway.output()).toMatch(/SIGTERM received, closing[\s\S]*closed/);
    } finally {
      doorway.child.kill('SIGKILL');
    }
  });

  it('exits with a message for a bad flag', async () => {
    const doorway = run(['--relay-data-limit', '10']);
    expect(await doorway.exited).toBe(1);
    expect(doorway.output()).toMatch(/doorway: --relay-data-limit must be 0/);
  });
});
