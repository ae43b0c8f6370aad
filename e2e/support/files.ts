import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestFile {
  path: string;
  name: string;
  size: number;
  /** `sha256-<hex>`, computed independently of the app. */
  hash: string;
}

/** Random bytes (incompressible, as Chromium compresses IndexedDB values) written in slices. */
export async function writeRandomFile(dir: string, name: string, size: number): Promise<TestFile> {
  const path = join(dir, name);
  const file = await open(path, 'w');
  const hash = createHash('sha256');
  const slice = 4 * 1024 * 1024;
  try {
    for (let written = 0; written < size; written += slice) {
      const bytes = randomBytes(Math.min(slice, size - written));
      hash.update(bytes);
      await file.write(bytes);
    }
  } finally {
    await file.close();
  }
  return { path, name, size, hash: `sha256-${hash.digest('hex')}` };
}

export async function hashFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return `sha256-${hash.digest('hex')}`;
}

export async function tempDir(): Promise<{ dir: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'elohim-files-'));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}
