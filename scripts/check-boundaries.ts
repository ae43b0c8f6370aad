/**
 * Folder boundaries: a folder of src/ with an `index.ts` is a unit, and the only way into a
 * unit from outside it is that `index.ts` (or a second entry listed in `ENTRIES`, e.g. a
 * Node-only `node.ts`). A subfolder with its own `index.ts` is a unit of its own, so
 * `src/net/replicator.ts` reaches `src/net/shard/` through `src/net/shard/index.ts` too.
 * Files inside a unit (its tests included) may import anything of that unit, and of the units
 * that contain it (`src/net/shard/x.ts` may import `src/net/errors.ts`: the parent's index
 * re-exports the child, so going through it would be a cycle). A unit's `test-support.ts`
 * (fakes and fixtures for other folders' tests) is a third entry, for test code only: files
 * named `*.test.ts`, other `test-support.ts` files, and e2e/ and bench/. Imports of non-code
 * assets (a stylesheet) are not checked.
 *
 *   npx tsx scripts/check-boundaries.ts     # prints each violation as file:line  import
 *
 * Exits 1 when it finds any. Only relative imports are checked (static, `export … from`,
 * `import type` and dynamic `import()`), read with TypeScript's own pre-processor so comments
 * and strings never count.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

/** Folders whose files are checked (relative to the root). */
export const SCANNED = ['src', 'worker', 'doorway', 'e2e', 'bench'];
/** Where units live: every folder under it that has an `index.ts`. */
export const UNITS_UNDER = 'src';
/** Second public entries (besides each unit's `index.ts`), relative to the root. */
/**
 * Second entries: Node-only ones (`node:` modules must stay out of browser bundles) and the
 * page-only sync setup (Automerge's WASM by URL, loaded on demand).
 */
export const ENTRIES = [
  'src/content/node.ts',
  'src/identity/node.ts',
  'src/peer/node.ts',
  // Installs a WebSocket client on Node 20 for libp2p dials (side effect only).
  'src/peer/node-websocket.ts',
  'src/sync/node.ts',
  'src/sync/browser.ts',
];
/** A unit's entry for test code (see above). */
export const TEST_ENTRY = 'test-support.ts';
/** Folders whose every file is test code. */
export const TEST_FOLDERS = ['e2e', 'bench'];

export interface Violation {
  /** The importing file, relative to the root, with `/` separators. */
  file: string;
  /** The line of the specifier (a multi-line import's `from` line). */
  line: number;
  /** The import specifier as written. */
  specifier: string;
  /** The unit entered, relative to the root. */
  unit: string;
}

export interface CheckOptions {
  scanned?: readonly string[];
  unitsUnder?: string;
  entries?: readonly string[];
  testFolders?: readonly string[];
}

const SOURCE = /\.(?:ts|tsx|mts|cts|js|mjs|jsx)$/;

function walk(dir: string, out: string[]): string[] {
  if (!existsSync(dir)) return out;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name.startsWith('.')) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) walk(path, out);
    else if (SOURCE.test(entry.name)) out.push(path);
  }
  return out;
}

/** `a/b/c.ts` → `a/b/c.ts` with `/`, whatever the platform. */
const posix = (path: string) => path.split(sep).join('/');

/** The file a relative specifier names: itself, or a folder's `index.ts`. */
function target(from: string, specifier: string): string {
  const path = resolve(dirname(from), specifier.replace(/[?#].*$/, ''));
  if (existsSync(path) && statSync(path).isDirectory()) return join(path, 'index.ts');
  return path;
}

/** Every relative import in `root`'s scanned folders that enters a unit other than by its entries. */
export function findViolations(root: string, options: CheckOptions = {}): Violation[] {
  const scanned = options.scanned ?? SCANNED;
  const unitsRoot = resolve(root, options.unitsUnder ?? UNITS_UNDER);
  const entries = new Set((options.entries ?? ENTRIES).map((entry) => resolve(root, entry)));
  const units = walk(unitsRoot, [])
    .filter((file) => file.endsWith(`${sep}index.ts`))
    .map((index) => dirname(index))
    // Innermost first, so the first unit containing a path is its own.
    .sort((a, b) => b.length - a.length);
  const unitOf = (path: string) => units.find((unit) => path.startsWith(unit + sep));
  const testFolders = (options.testFolders ?? TEST_FOLDERS).map((folder) => resolve(root, folder));
  const isTestCode = (file: string) =>
    /\.test\.tsx?$/.test(file) ||
    file.endsWith(sep + TEST_ENTRY) ||
    testFolders.some((folder) => file.startsWith(folder + sep));
  const violations: Violation[] = [];
  for (const folder of scanned) {
    for (const file of walk(resolve(root, folder), [])) {
      const text = readFileSync(file, 'utf8');
      const { importedFiles } = ts.preProcessFile(text, true, true);
      for (const imported of importedFiles) {
        if (!imported.fileName.startsWith('.')) continue;
        const to = target(file, imported.fileName);
        const unit = unitOf(to);
        if (!unit || file.startsWith(unit + sep) || !SOURCE.test(to)) continue;
        if (to === join(unit, 'index.ts') || entries.has(to)) continue;
        if (to === join(unit, TEST_ENTRY) && isTestCode(file)) continue;
        violations.push({
          file: posix(relative(root, file)),
          line: text.slice(0, imported.pos).split('\n').length,
          specifier: imported.fileName,
          unit: posix(relative(root, unit)),
        });
      }
    }
  }
  return violations.sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
  const violations = findViolations(root);
  for (const v of violations) {
    process.stdout.write(`${v.file}:${v.line}  ${v.specifier}  (enters ${v.unit}/)\n`);
  }
  process.stdout.write(
    violations.length === 0
      ? 'no imports cross a folder boundary except through its index.ts\n'
      : `${violations.length} imports enter a folder other than through its index.ts\n`,
  );
  process.exitCode = violations.length === 0 ? 0 : 1;
}
