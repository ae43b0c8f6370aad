/**
 * The trust layer's files hold capability secrets, app tokens, the emulator's signing seed and
 * the session-token key: the data dir is 0700 and they are 0600, whatever the umask and
 * whatever an older version left.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sharedTempDir } from '../test-support.ts';
import { DB_FILE } from './store.ts';
import { devToken, newKey, startTrustServer } from './test-support.ts';

const SECRET_FILES = [DB_FILE, `${DB_FILE}-wal`, `${DB_FILE}-shm`, 'hc-jwt.key'];

async function modeOf(path: string): Promise<string> {
  return ((await stat(path)).mode & 0o777).toString(8);
}

/** Starts the trust layer on `dataDir`, uses it (so the WAL exists), checks the modes, stops. */
async function expectPrivate(dataDir: string): Promise<void> {
  const server = await startTrustServer({ dataDir, hcConductor: undefined, hcDevTokens: true });
  try {
    await devToken(server.url, newKey());
    expect(await modeOf(dataDir)).toBe('700');
    for (const file of SECRET_FILES) {
      expect(await modeOf(join(dataDir, file)), file).toBe('600');
    }
  } finally {
    await server.close();
  }
}

describe('data dir and file modes', () => {
  const root = sharedTempDir('hc-files-');

  it('makes a new data dir 0700 and every secret file 0600, even with umask 0', async () => {
    const umask = process.umask(0);
    try {
      await expectPrivate(join(root(), 'fresh'));
    } finally {
      process.umask(umask);
    }
  });

  it('closes a data dir and files an older version left open to others, keeping them', async () => {
    const dataDir = join(root(), 'older');
    await mkdir(dataDir, { mode: 0o755 });
    await chmod(dataDir, 0o755);
    const key = randomBytes(32);
    await writeFile(join(dataDir, 'hc-jwt.key'), key, { mode: 0o644 });
    await writeFile(join(dataDir, DB_FILE), '', { mode: 0o644 });
    // WAL files left behind by a doorway that did not close cleanly.
    await writeFile(join(dataDir, `${DB_FILE}-wal`), '', { mode: 0o644 });
    await writeFile(join(dataDir, `${DB_FILE}-shm`), '', { mode: 0o644 });
    await expectPrivate(dataDir);
    expect((await readFile(join(dataDir, 'hc-jwt.key'))).equals(key)).toBe(true);
  });
});
