import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { findViolations } from '../scripts/check-boundaries.ts';

/** The boundary checker (scripts/check-boundaries.ts) on a tiny tree of its own. */
describe('check-boundaries', () => {
  let root: string | undefined;
  afterEach(() => {
    if (root) rmSync(root, { recursive: true, force: true });
    root = undefined;
  });

  /** The units below, and `files`, written to a new temporary root. */
  function tree(files: Record<string, string>): string {
    root = mkdtempSync(join(tmpdir(), 'elohim-boundaries-'));
    for (const [path, text] of Object.entries({ ...units, ...files })) {
      mkdirSync(dirname(join(root, path)), { recursive: true });
      writeFileSync(join(root, path), text);
    }
    return root;
  }

  const units = {
    'src/a/index.ts': "export { x } from './x.ts';\n",
    'src/a/x.ts': 'export const x = 1;\n',
    'src/a/node.ts': 'export const n = 1;\n',
    'src/a/test-support.ts': 'export const fake = 1;\n',
    'src/a/sub/index.ts': "export { y } from './y.ts';\n",
    'src/a/sub/y.ts': "import { x } from '../x.ts';\nexport const y = x;\n",
  };

  it('reports an import of another folder’s internals, with its file and line', () => {
    const dir = tree({
      'src/b/index.ts': "// import { x } from '../a/x.ts' in a comment does not count\n",
      'src/b/uses.ts':
        "import { y } from '../a/index.ts';\n\nimport {\n  x,\n} from '../a/x.ts';\n",
      'worker/sw.ts': "const lazy = () => import('../src/a/x.ts');\n",
    });
    expect(findViolations(dir)).toEqual([
      { file: 'src/b/uses.ts', line: 5, specifier: '../a/x.ts', unit: 'src/a' },
      { file: 'worker/sw.ts', line: 1, specifier: '../src/a/x.ts', unit: 'src/a' },
    ]);
  });

  it('allows index.ts (named or as the folder), a listed entry, and a folder’s own internals', () => {
    const dir = tree({
      'src/b/index.ts': "import { x } from '../a/index.ts';\nimport { y } from '../a/sub';\n",
      'src/b/node-only.ts': "export { n } from '../a/node.ts';\n",
      'src/a/x.test.ts': "import { x } from './x.ts';\nimport { y } from './sub/y.ts';\n",
      'src/main.ts': "import './a/styles.css';\n",
    });
    const violations = findViolations(dir, { entries: ['src/a/node.ts'] });
    // A parent's file entering its child's internals is the one violation here.
    expect(violations).toEqual([
      { file: 'src/a/x.test.ts', line: 2, specifier: './sub/y.ts', unit: 'src/a/sub' },
    ]);
    expect(findViolations(dir, { entries: [] }).map((v) => v.file)).toContain('src/b/node-only.ts');
  });

  it('lets test code, and only test code, use a folder’s test-support.ts', () => {
    const dir = tree({
      'src/b/b.test.ts': "import { fake } from '../a/test-support.ts';\n",
      'e2e/spec.ts': "import { fake } from '../src/a/test-support.ts';\n",
      'src/b/b.ts': "import { fake } from '../a/test-support.ts';\n",
    });
    expect(findViolations(dir).map((v) => v.file)).toEqual(['src/b/b.ts']);
  });
});
