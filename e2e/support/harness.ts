import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';
import { type DoorwayProcess, startDoorwayProcess } from './doorway-process.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/**
 * Bundles a module of ours (and everything it imports, workers and WASM included) into a
 * folder with a blank page that loads it, so the doorway can serve it on a real origin:
 * browser tests and benchmarks reach the same code the app ships, without the app's UI.
 */
export async function buildHarness(entry: string, outDir: string): Promise<void> {
  await build({
    configFile: false,
    root: ROOT,
    logLevel: 'warn',
    build: {
      outDir,
      emptyOutDir: true,
      target: 'es2022',
      minify: false,
      lib: { entry: join(ROOT, entry), formats: ['es'], fileName: () => 'harness.js' },
    },
    worker: { format: 'es' },
  });
  await writeFile(
    join(outDir, 'index.html'),
    '<!doctype html><meta charset="utf-8"><title>harness</title><script type="module" src="./harness.js"></script>\n',
  );
}

/**
 * Bundles `entry` (see {@link buildHarness}) into `.tmp/<name>` and serves it from a silent
 * doorway of its own, started with `args` besides (e.g. its `--data-dir`).
 */
export async function serveHarness(
  entry: string,
  name: string,
  args: string[] = [],
): Promise<DoorwayProcess> {
  const outDir = join(ROOT, '.tmp', name);
  await buildHarness(entry, outDir);
  return startDoorwayProcess(['--static', outDir, '--log-level', 'silent', ...args]);
}
