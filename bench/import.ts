/**
 * The `import` suite of `npm run bench` (Node, in this process): a 256 MiB blob (rs-4-7 with
 * the default thresholds) imported into a filesystem store, as the doorway commits an item
 * into its cache, its pieces written in the order a fetch asks for them (`session.needed`).
 *
 * - `import_commit_ms`: what `commit()` takes after the last piece is written. The checks run
 *   while the pieces come (src/content/import-check.ts), so this is what they had left. Its
 *   baseline, measured in the same run: one sha256 pass over the same 256 MiB (node:crypto),
 *   the least a second pass at commit would cost before reading a byte from disk;
 * - `import_write_ms`: writing the pieces with the checks running beside them, and the pieces
 *   the checks read back (rs-4-7's stripes need piece j of all 4 data shards, which arrive
 *   one shard after the other).
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { tempDir } from '../e2e/support/files.ts';
import { openFsContentStore, type RemoteManifest } from '../src/content/node.ts';
import type { Metric } from './metrics.ts';
import { randomBytes } from './random.ts';

const MiB = 2 ** 20;
const SIZE = 256 * MiB;

export async function importSuite({ log }: { log: (line: string) => void }): Promise<Metric[]> {
  const dir = await tempDir();
  const src = await openFsContentStore({ dir: join(dir.dir, 'src') });
  const dst = await openFsContentStore({ dir: join(dir.dir, 'dst') });
  try {
    const data = randomBytes(SIZE);
    const started = performance.now();
    createHash('sha256').update(data).digest('hex');
    const shaMs = performance.now() - started;
    log(`putting ${SIZE / MiB} MiB into the source store…`);
    const { storage_key: _key, ...manifest } = await src.put(data);
    const session = await dst.beginImport(manifest as RemoteManifest);
    const writeStart = performance.now();
    for (const { shard, piece } of session.needed) {
      await session.writePiece(shard, piece, await src.readPiece(manifest.blob_hash, shard, piece));
    }
    const commitStart = performance.now();
    await session.commit();
    const commitMs = performance.now() - commitStart;
    const writeMs = commitStart - writeStart;
    const baseline = `baseline: one sha256 pass over the same ${SIZE / MiB} MiB = ${shaMs.toFixed(0)} ms`;
    return [
      {
        metric: 'import_commit_ms',
        value: commitMs,
        unit: 'ms',
        target: `≤ 5% of import_write_ms`,
        note: `${manifest.encoding} ${SIZE / MiB} MiB into a filesystem store, pieces in fetch order; ${baseline}`,
      },
      {
        metric: 'import_commit_baseline_sha256_ms',
        value: shaMs,
        unit: 'ms',
        note: 'node:crypto sha256 of the same bytes, same run',
      },
      {
        metric: 'import_total_ms',
        value: writeMs + commitMs,
        unit: 'ms',
        note: 'first writePiece to the end of commit()',
      },
      {
        metric: 'import_write_ms',
        value: writeMs,
        unit: 'ms',
        note: 'writePiece of every needed piece (read from the source store), the checks running beside',
      },
    ];
  } finally {
    src.close();
    dst.close();
    await dir.remove();
  }
}
