/**
 * Runs the Reed-Solomon checks inside Chromium (bundled by e2e/erasure.spec.ts): the same
 * module the app ships, on each kernel this engine validates, against the crate's WASM build.
 */
import ReedSolomonErasure from '@digitaldefiance/reed-solomon-erasure.wasm/browser';
import oracleWasmUrl from '@digitaldefiance/reed-solomon-erasure.wasm/wasm?url';
import {
  availableKernels,
  createCodec,
  type ErasureKernel,
  erasureSelfTest,
  shardSize,
} from '../../src/erasure/index.ts';

const SIZES = [1, 3, 15, 16, 17, 4097, 1024 * 1024 + 1, 123_457];

function lossPatterns(): number[][] {
  const patterns: number[][] = [];
  for (let a = 0; a < 7; a++)
    for (let b = a + 1; b < 7; b++) for (let c = b + 1; c < 7; c++) patterns.push([a, b, c]);
  return patterns;
}

function random(size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let o = 0; o < size; o += 65536)
    crypto.getRandomValues(bytes.subarray(o, Math.min(size, o + 65536)));
  return bytes;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

interface KernelReport {
  kernel: ErasureKernel;
  selfTest: boolean;
  rebuilds: number;
  failures: string[];
}

async function run(): Promise<{ kernels: ErasureKernel[]; reports: KernelReport[] }> {
  const oracle = await ReedSolomonErasure.fromUrl(oracleWasmUrl);
  const kernels = availableKernels();
  const reports: KernelReport[] = [];
  for (const kernel of kernels) {
    const codec = createCodec(kernel);
    const report: KernelReport = {
      kernel,
      selfTest: erasureSelfTest(kernel).ok,
      rebuilds: 0,
      failures: [],
    };
    for (const size of SIZES) {
      const data = random(size);
      const shards = codec.encode(data);
      // The crate's own build, on the same bytes, must give the same parity.
      const s = shardSize(size);
      const buffer = new Uint8Array(7 * s);
      buffer.set(data);
      oracle.encode(buffer, 4, 3);
      for (let p = 4; p < 7; p++) {
        if (!sameBytes(shards[p] ?? new Uint8Array(), buffer.subarray(p * s, (p + 1) * s))) {
          report.failures.push(`size ${size}: parity shard ${p} differs from the crate's`);
        }
      }
      for (const lost of lossPatterns()) {
        const survivors = shards.map((shard, i) => (lost.includes(i) ? null : shard));
        if (sameBytes(codec.reconstruct(survivors, size), data)) report.rebuilds++;
        else
          report.failures.push(`size ${size}: losing shards ${lost.join(',')} rebuilt wrong bytes`);
      }
    }
    reports.push(report);
  }
  return { kernels, reports };
}

Object.assign(window, { erasureCheck: { run } });
