/**
 * Reed-Solomon `rs-4-7` erasure coding: 4 data + 3 parity shards, any 4 rebuild the blob.
 *
 * Byte-identical to the Rust crate reed-solomon-erasure 6 (`galois_8`, GF(2^8) mod 0x11D):
 * encoding matrix = Vandermonde(7×4) × inverse of its top 4×4 (systematic; parity rows
 * [27,28,18,20], [28,27,20,18], [18,20,27,28]). n bytes → 7 shards of ceil(n/4) bytes, data
 * zero-padded; rebuild truncates to n. Encode and rebuild are one operation — 4 shards times
 * ≤3 coefficient rows — done by one fused WASM kernel (rs.wat, nibble tables + swizzle).
 * Kernel: best of `relaxed-simd` > `simd` > `scalar` that `WebAssembly.validate` accepts
 * (Node 20 lacks relaxed SIMD without a flag; Chromium has it); `createCodec(kernel)` forces
 * one. Big blobs: `StripeEncoder` / `StripeReconstructor` expose views into WASM memory.
 */

import {
  ErasureArgumentError,
  ErasureError,
  InsufficientShardsError,
  KernelUnavailableError,
  ShardSizeMismatchError,
} from './errors.ts';
import {
  RELAXED_SIMD_WASM_BASE64,
  SCALAR_WASM_BASE64,
  SIMD_WASM_BASE64,
} from './generated/kernels.ts';
import {
  DATA,
  ENCODING_MATRIX,
  PARITY_ROWS,
  type Row,
  reconstructionRows,
  TABLES_END,
  TOTAL,
  writeTables,
} from './gf.ts';

/** The errors this module throws (errors.ts). */
export * from './errors.ts';

export const DATA_SHARDS = 4;
export const PARITY_SHARDS = 3;
export const TOTAL_SHARDS = 7;

export type ErasureKernel = 'relaxed-simd' | 'simd' | 'scalar';

// ---------------------------------------------------------------------------------------
// Kernel selection

function fromBase64(b64: string): Uint8Array<ArrayBuffer> {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

const KERNEL_ORDER: readonly ErasureKernel[] = ['relaxed-simd', 'simd', 'scalar'];
const BINARIES: Record<ErasureKernel, string> = {
  'relaxed-simd': RELAXED_SIMD_WASM_BASE64,
  simd: SIMD_WASM_BASE64,
  scalar: SCALAR_WASM_BASE64,
};

// Compiled synchronously: each kernel is under 1 KB (main threads may compile up to 4 KB
// synchronously), and a top-level await would keep this module out of service workers.
const modules = new Map<ErasureKernel, WebAssembly.Module>(
  KERNEL_ORDER.map((k) => [k, fromBase64(BINARIES[k])] as const)
    .filter(([, bytes]) => WebAssembly.validate(bytes))
    .map(([k, bytes]) => [k, new WebAssembly.Module(bytes)] as const),
);

/** Kernels this engine can run, best first (always ends with `scalar`). */
export function availableKernels(): ErasureKernel[] {
  return KERNEL_ORDER.filter((k) => modules.has(k));
}

const BEST: ErasureKernel = availableKernels()[0] ?? 'scalar';

/** The kernel used by the top-level functions: the best one this engine validates. */
export function erasureKernel(): ErasureKernel {
  return BEST;
}

// ---------------------------------------------------------------------------------------
// Engine: one WebAssembly.Instance with 7 shard slots of `stride` bytes

type Mul4x3 = (
  in0: number,
  in1: number,
  in2: number,
  in3: number,
  out0: number,
  out1: number,
  out2: number,
  len: number,
) => void;

/** Slots start on a cache line, so the kernel's 16-byte loads and stores are aligned. */
const ALIGN = 64;
/** Largest per-shard stripe: keeps 7 slots well inside wasm32's address space. */
const MAX_STRIPE = 256 * 1024 * 1024;

class Engine {
  readonly slots: Uint8Array[];
  readonly #ptrs: number[];
  readonly #mem: Uint8Array;
  #mul: Mul4x3 | null;
  #args: [number, number, number, number, number, number, number] = [0, 0, 0, 0, 0, 0, 0];

  constructor(
    readonly kernel: ErasureKernel,
    readonly stripe: number,
  ) {
    if (!Number.isSafeInteger(stripe) || stripe < 1 || stripe > MAX_STRIPE) {
      throw new ErasureArgumentError(
        `stripe size must be an integer in 1..${MAX_STRIPE} bytes per shard, got ${stripe}`,
      );
    }
    const module = modules.get(kernel);
    if (!module) {
      throw new KernelUnavailableError(
        `kernel '${kernel}' is not supported by this engine; use one of: ${availableKernels().join(', ')}`,
      );
    }
    const instance = new WebAssembly.Instance(module, {});
    const memory = instance.exports.memory as WebAssembly.Memory;
    this.#mul = instance.exports.mul4x3 as Mul4x3;
    const stride = Math.ceil(stripe / ALIGN) * ALIGN;
    const bytes = TABLES_END + TOTAL * stride;
    const pages = Math.ceil(bytes / 65536);
    const have = memory.buffer.byteLength / 65536;
    // Grow once, before any view exists: views below stay valid for the Engine's life.
    try {
      if (pages > have) memory.grow(pages - have);
    } catch (cause) {
      throw new ErasureError(
        `could not allocate ${Math.ceil(bytes / 2 ** 20)} MiB of WASM memory for a ${stripe} byte stripe — use a smaller stripe or dispose unused encoders`,
        { cause },
      );
    }
    this.#mem = new Uint8Array(memory.buffer);
    this.#ptrs = Array.from({ length: TOTAL }, (_, i) => TABLES_END + i * stride);
    this.slots = this.#ptrs.map((p) => new Uint8Array(memory.buffer, p, stripe));
  }

  /**
   * Programs the kernel to compute `rows.length` (1..3) outputs from slots 0..3 into
   * slots 4.. . Missing rows are filled by repeating the last row with its output
   * aliased to the same slot (same bytes written twice; keeps the kernel branch-free).
   */
  setRows(rows: readonly Row[]): void {
    const m = rows.length;
    if (m < 1 || m > 3) throw new ErasureArgumentError(`1..3 output rows, got ${m}`);
    const full: Row[] = [];
    const outs: number[] = [];
    for (let j = 0; j < 3; j++) {
      const k = Math.min(j, m - 1);
      const row = rows[k];
      if (!row) throw new ErasureArgumentError('missing coefficient row');
      full.push(row);
      outs.push(this.#ptr(DATA + k));
    }
    writeTables(this.#mem, full);
    this.#args = [
      this.#ptr(0),
      this.#ptr(1),
      this.#ptr(2),
      this.#ptr(3),
      outs[0] ?? 0,
      outs[1] ?? 0,
      outs[2] ?? 0,
    ];
  }

  run(len: number): void {
    const mul = this.#mul;
    if (!mul) throw new ErasureArgumentError('used after dispose()');
    if (!Number.isInteger(len) || len < 0 || len > this.stripe) {
      throw new ErasureArgumentError(`length must be an integer in 0..${this.stripe}, got ${len}`);
    }
    const a = this.#args;
    mul(a[0], a[1], a[2], a[3], a[4], a[5], a[6], len);
  }

  dispose(): void {
    this.#mul = null;
  }

  #ptr(i: number): number {
    const p = this.#ptrs[i];
    if (p === undefined) throw new RangeError(`slot ${i}`);
    return p;
  }
}

// ---------------------------------------------------------------------------------------
// Streaming API

/**
 * Encodes a big blob stripe by stripe. Fill `data[i].subarray(0, len)` with the next
 * `len` bytes of data shard i (e.g. read straight from a File slice), call `encode(len)`,
 * then read `parity[j].subarray(0, len)`. The views point into this encoder's own WASM
 * memory and stay valid until `dispose()`; several encoders can coexist.
 */
export class StripeEncoder {
  /** 4 views (data shards 0..3), each `stripeBytesPerShard` long. */
  readonly data: readonly Uint8Array[];
  /** 3 views (parity shards 4..6), each `stripeBytesPerShard` long. */
  readonly parity: readonly Uint8Array[];
  readonly #engine: Engine;

  constructor(
    readonly stripeBytesPerShard: number,
    readonly kernel: ErasureKernel = BEST,
  ) {
    this.#engine = new Engine(kernel, stripeBytesPerShard);
    this.#engine.setRows(PARITY_ROWS);
    this.data = this.#engine.slots.slice(0, DATA);
    this.parity = this.#engine.slots.slice(DATA);
  }

  /** Computes parity for the first `len` bytes of each data view. */
  encode(len: number = this.stripeBytesPerShard): void {
    this.#engine.run(len);
  }

  /** Releases the kernel; the views must not be used afterwards. */
  dispose(): void {
    this.#engine.dispose();
  }
}

/** Options for {@link StripeReconstructor}. */
export interface StripeReconstructorOptions {
  /** Shard indices to rebuild (≤ 3). Default: every shard not in `available`. */
  targets?: readonly number[];
  kernel?: ErasureKernel;
}

/**
 * Rebuilds missing shards of a big blob stripe by stripe. Construct with the indices of
 * the shards you have (≥ 4; the lowest 4 are used). Then per stripe fill
 * `inputs[k].subarray(0, len)` with shard `inputShards[k]`'s bytes, call
 * `reconstruct(len)`, and read `outputs[k].subarray(0, len)` for shard `targets[k]`.
 * Data and parity shards can both be targets (repair). Views stay valid until dispose().
 */
export class StripeReconstructor {
  /** The 4 shard indices read, ascending; `inputs[k]` holds shard `inputShards[k]`. */
  readonly inputShards: readonly number[];
  /** Shard indices rebuilt; `outputs[k]` receives shard `targets[k]`. */
  readonly targets: readonly number[];
  readonly inputs: readonly Uint8Array[];
  readonly outputs: readonly Uint8Array[];
  readonly kernel: ErasureKernel;
  readonly #engine: Engine;

  constructor(
    available: readonly number[],
    readonly stripeBytesPerShard: number,
    options: StripeReconstructorOptions = {},
  ) {
    const have = normalizeIndices(available, 'available');
    if (have.length < DATA) throw new InsufficientShardsError(have.length);
    this.inputShards = have.slice(0, DATA);
    const targets =
      options.targets !== undefined
        ? normalizeIndices(options.targets, 'targets')
        : ALL_INDICES.filter((i) => !have.includes(i));
    if (targets.length > TOTAL_SHARDS - DATA_SHARDS) {
      throw new ErasureArgumentError(`at most 3 targets per reconstructor, got ${targets.length}`);
    }
    this.targets = targets;
    this.kernel = options.kernel ?? BEST;
    this.#engine = new Engine(this.kernel, stripeBytesPerShard);
    if (targets.length > 0) this.#engine.setRows(reconstructionRows(this.inputShards, targets));
    this.inputs = this.#engine.slots.slice(0, DATA);
    this.outputs = this.#engine.slots.slice(DATA, DATA + targets.length);
  }

  /** Rebuilds the first `len` bytes of each target from the first `len` bytes of inputs. */
  reconstruct(len: number = this.stripeBytesPerShard): void {
    if (this.targets.length > 0) this.#engine.run(len);
  }

  dispose(): void {
    this.#engine.dispose();
  }
}

const ALL_INDICES: readonly number[] = [0, 1, 2, 3, 4, 5, 6];

function normalizeIndices(list: readonly number[], what: string): number[] {
  for (const i of list) {
    if (!Number.isInteger(i) || i < 0 || i >= TOTAL_SHARDS) {
      throw new ErasureArgumentError(`${what}: shard index ${i} is not in 0..6`);
    }
  }
  return [...new Set(list)].sort((a, b) => a - b);
}

// ---------------------------------------------------------------------------------------
// One-shot API

/** Bytes per shard for a blob of `totalSize` bytes: ceil(totalSize / 4). */
export function shardSize(totalSize: number): number {
  if (!Number.isSafeInteger(totalSize) || totalSize < 0) {
    throw new ErasureArgumentError(`total size must be a non-negative integer, got ${totalSize}`);
  }
  return Math.ceil(totalSize / DATA_SHARDS);
}

/** One-shot operations bound to one kernel. */
export interface ErasureCodec {
  readonly kernel: ErasureKernel;
  /** The 7 shards (4 padded data + 3 parity), each `shardSize(data.length)` bytes. */
  encode(data: Uint8Array): Uint8Array[];
  /**
   * Only the 3 parity shards, read straight from `data` (data shard i is
   * `data[i*s, (i+1)*s)` zero-padded to s = shardSize). Written into `into` (3 arrays of
   * s bytes, reusable across calls — this avoids allocating) or into new arrays.
   */
  encodeParity(data: Uint8Array, into?: readonly Uint8Array[]): Uint8Array[];
  /** The original `totalSize` bytes from any 4 of the 7 shards (`null` = missing). */
  reconstruct(shards: readonly (Uint8Array | null | undefined)[], totalSize: number): Uint8Array;
  /** All 7 shards, missing data and parity rebuilt; present ones returned as given. */
  reconstructShards(shards: readonly (Uint8Array | null | undefined)[]): Uint8Array[];
}

/** Per-call work window per shard: bounds WASM memory for arbitrarily large inputs. */
const WINDOW = 256 * 1024;

/** A codec using `kernel` (default: the best available). Throws KernelUnavailableError. */
export function createCodec(kernel: ErasureKernel = BEST): ErasureCodec {
  if (!modules.has(kernel)) {
    throw new KernelUnavailableError(
      `kernel '${kernel}' is not supported by this engine; use one of: ${availableKernels().join(', ')}`,
    );
  }
  let engine: Engine | null = null;
  const getEngine = (): Engine => {
    engine ??= new Engine(kernel, WINDOW);
    return engine;
  };

  /**
   * Runs the kernel over `size` bytes per shard in WINDOW-sized pieces: `load(k, off, dst)`
   * fills input slot k with bytes [off, off + dst.length) of the k-th input shard;
   * `store(j, off, src)` takes the matching piece of output row j.
   */
  const mulInto = (
    rows: readonly Row[],
    size: number,
    load: (k: number, off: number, dst: Uint8Array) => void,
    store: (j: number, off: number, src: Uint8Array) => void,
  ): void => {
    if (rows.length === 0 || size === 0) return;
    const e = getEngine();
    e.setRows(rows);
    for (let off = 0; off < size; off += WINDOW) {
      const n = Math.min(WINDOW, size - off);
      for (let k = 0; k < DATA; k++) load(k, off, (e.slots[k] as Uint8Array).subarray(0, n));
      e.run(n);
      for (let j = 0; j < rows.length; j++) {
        store(j, off, (e.slots[DATA + j] as Uint8Array).subarray(0, n));
      }
    }
  };

  const encodeParity = (data: Uint8Array, into?: readonly Uint8Array[]): Uint8Array[] => {
    const s = shardSize(data.length);
    const parity = into ? [...into] : [0, 1, 2].map(() => new Uint8Array(s));
    if (parity.length !== PARITY_SHARDS || parity.some((p) => p.length !== s)) {
      throw new ErasureArgumentError(
        `encodeParity needs ${PARITY_SHARDS} output arrays of shardSize(${data.length}) = ${s} bytes`,
      );
    }
    mulInto(
      PARITY_ROWS,
      s,
      (k, off, dst) => {
        // Data shard k is data[k*s, (k+1)*s), zero-padded past the end of `data`.
        const start = Math.min(k * s + off, data.length);
        const end = Math.min(start + dst.length, data.length);
        dst.set(data.subarray(start, end));
        dst.fill(0, end - start);
      },
      (j, off, src) => parity[j]?.set(src, off),
    );
    return parity;
  };

  const encode = (data: Uint8Array): Uint8Array[] => {
    const s = shardSize(data.length);
    const shards = [0, 1, 2, 3].map((i) => {
      const shard = new Uint8Array(s);
      shard.set(data.subarray(Math.min(i * s, data.length), Math.min((i + 1) * s, data.length)));
      return shard;
    });
    return [...shards, ...encodeParity(data)];
  };

  /** Validates and returns [present indices, shard length]. */
  const check = (shards: readonly (Uint8Array | null | undefined)[]): [number[], number] => {
    if (shards.length !== TOTAL_SHARDS) {
      throw new ErasureArgumentError(
        `expected an array of ${TOTAL_SHARDS} entries (null for missing shards), got ${shards.length}`,
      );
    }
    const present: number[] = [];
    let len = -1;
    for (const [i, s] of shards.entries()) {
      if (!s) continue;
      if (len >= 0 && s.length !== len) {
        throw new ShardSizeMismatchError(
          `shard ${i} is ${s.length} bytes but shard ${present[0]} is ${len}; all shards of a blob have the same length — drop the odd one and fetch it again`,
        );
      }
      len = s.length;
      present.push(i);
    }
    if (present.length < DATA) throw new InsufficientShardsError(present.length);
    return [present, len];
  };

  /**
   * Rebuilds shards `targets` (all absent from `shards`) from the first 4 present ones,
   * handing each output piece to `store(j, off, src)` for target j.
   */
  const rebuild = (
    shards: readonly (Uint8Array | null | undefined)[],
    present: readonly number[],
    targets: readonly number[],
    len: number,
    store: (j: number, off: number, src: Uint8Array) => void,
  ): void => {
    if (targets.length === 0) return;
    const inputs = present.slice(0, DATA);
    const src = inputs.map((i) => shards[i] as Uint8Array);
    mulInto(
      reconstructionRows(inputs, targets),
      len,
      (k, off, dst) => dst.set((src[k] as Uint8Array).subarray(off, off + dst.length)),
      store,
    );
  };

  /** Copies as much of `src` as fits into `out` at `pos`. */
  const putTruncated = (out: Uint8Array, src: Uint8Array, pos: number): void => {
    if (pos < out.length) out.set(src.subarray(0, Math.min(src.length, out.length - pos)), pos);
  };

  return {
    kernel,
    encode,
    encodeParity,
    reconstructShards(shards) {
      const [present, len] = check(shards);
      const targets = ALL_INDICES.filter((i) => !shards[i]);
      const out = targets.map(() => new Uint8Array(len));
      rebuild(shards, present, targets, len, (j, off, src) => out[j]?.set(src, off));
      const all = shards.slice();
      for (const [j, t] of targets.entries()) all[t] = out[j];
      return all as Uint8Array[];
    },
    reconstruct(shards, totalSize) {
      const [present, len] = check(shards);
      if (shardSize(totalSize) !== len) {
        throw new ShardSizeMismatchError(
          `shards are ${len} bytes but a ${totalSize} byte blob has ${shardSize(totalSize)} byte shards — check the manifest's total_size`,
        );
      }
      // Present data shards are copied, missing ones rebuilt, straight into the result.
      const out = new Uint8Array(totalSize);
      const targets = [0, 1, 2, 3].filter((i) => !shards[i]);
      for (let i = 0; i < DATA; i++) {
        const shard = shards[i];
        if (shard) putTruncated(out, shard, i * len);
      }
      rebuild(shards, present, targets, len, (j, off, src) =>
        putTruncated(out, src, (targets[j] ?? 0) * len + off),
      );
      return out;
    },
  };
}

const defaultCodec = createCodec(BEST);

/** The 7 shards of `data` (4 zero-padded data shards, then 3 parity), best kernel. */
export function encode(data: Uint8Array): Uint8Array[] {
  return defaultCodec.encode(data);
}

/** The 3 parity shards of `data`, optionally into caller-owned arrays; see ErasureCodec. */
export function encodeParity(data: Uint8Array, into?: readonly Uint8Array[]): Uint8Array[] {
  return defaultCodec.encodeParity(data, into);
}

/**
 * The original `totalSize` bytes from any 4 of the 7 shards (`null` for missing ones).
 * Throws InsufficientShardsError / ShardSizeMismatchError / ErasureArgumentError.
 */
export function reconstruct(
  shards: readonly (Uint8Array | null | undefined)[],
  totalSize: number,
): Uint8Array {
  return defaultCodec.reconstruct(shards, totalSize);
}

/** All 7 shards with missing data AND parity rebuilt (repair). Same errors as reconstruct. */
export function reconstructShards(
  shards: readonly (Uint8Array | null | undefined)[],
): Uint8Array[] {
  return defaultCodec.reconstructShards(shards);
}

/** The 7×4 encoding matrix as plain numbers (rows 4..6 are the parity rows). */
export function encodingMatrix(): number[][] {
  return ENCODING_MATRIX.map((r) => Array.from(r));
}

/**
 * Known-answer self test, cheap and side-effect free (e.g. for a browser test): encodes
 * bytes 00..0f and checks the parity against the Rust crate's, then rebuilds from parity.
 */
export function erasureSelfTest(kernel: ErasureKernel = BEST): {
  kernel: ErasureKernel;
  ok: boolean;
} {
  const codec = createCodec(kernel);
  const data = Uint8Array.from({ length: 16 }, (_, i) => i);
  const shards = codec.encode(data);
  const hex = shards.map((s) => Array.from(s, (b) => b.toString(16).padStart(2, '0')).join(''));
  let ok = hex.slice(DATA).join(',') === '10111213,14151617,18191a1b';
  const back = codec.reconstruct([null, null, null, ...shards.slice(3)], 16);
  ok &&= back.every((b, i) => b === i);
  return { kernel, ok };
}
