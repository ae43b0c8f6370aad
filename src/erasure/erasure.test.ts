import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { ReedSolomonErasure } from '@digitaldefiance/reed-solomon-erasure.wasm';
import { describe, expect, it } from 'vitest';
import { pseudoRandomBytes } from '../test-support/bytes.ts';
import {
  availableKernels,
  createCodec,
  DATA_SHARDS,
  ErasureArgumentError,
  ErasureError,
  type ErasureKernel,
  encode,
  encodeParity,
  encodingMatrix,
  erasureKernel,
  erasureSelfTest,
  InsufficientShardsError,
  KernelUnavailableError,
  PARITY_SHARDS,
  reconstruct,
  reconstructShards,
  ShardSizeMismatchError,
  StripeEncoder,
  StripeReconstructor,
  shardSize,
  TOTAL_SHARDS,
} from './index.ts';

const randomBytes = pseudoRandomBytes;

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** Every way of choosing `k` of 0..6. */
function combinations(k: number, from = 0): number[][] {
  if (k === 0) return [[]];
  const out: number[][] = [];
  for (let i = from; i < TOTAL_SHARDS; i++) {
    for (const rest of combinations(k - 1, i + 1)) out.push([i, ...rest]);
  }
  return out;
}

const LOSSES = combinations(3);
const KERNELS = availableKernels();
const RANDOM_SIZE = 1000 + Math.floor(Math.random() * 200_000);
const SIZES = [1, 3, 15, 16, 17, 4097, 1024 * 1024 + 1, RANDOM_SIZE];

function loadOracle(): ReedSolomonErasure {
  const req = createRequire(import.meta.url);
  const dir = dirname(req.resolve('@digitaldefiance/reed-solomon-erasure.wasm'));
  return ReedSolomonErasure.fromBytes(readFileSync(join(dir, 'reed_solomon_erasure_bg.wasm')));
}

describe('constants and geometry', () => {
  it('is a 4+3 code with ceil(n/4) byte shards', () => {
    expect([DATA_SHARDS, PARITY_SHARDS, TOTAL_SHARDS]).toEqual([4, 3, 7]);
    expect([0, 1, 4, 5, 16, 17].map(shardSize)).toEqual([0, 1, 1, 2, 4, 5]);
    expect(() => shardSize(-1)).toThrow(ErasureArgumentError);
  });

  it('selects a kernel the engine validates, scalar always available', () => {
    expect(KERNELS).toContain('scalar');
    expect(KERNELS[0]).toBe(erasureKernel());
    expect(KERNELS).toContain('simd'); // Node 20 has SIMD128
  });

  it('has the documented encoding matrix', () => {
    expect(encodingMatrix()).toEqual([
      [1, 0, 0, 0],
      [0, 1, 0, 0],
      [0, 0, 1, 0],
      [0, 0, 0, 1],
      [27, 28, 18, 20],
      [28, 27, 20, 18],
      [18, 20, 27, 28],
    ]);
  });
});

describe.each(KERNELS)('kernel %s', (kernel: ErasureKernel) => {
  const codec = createCodec(kernel);

  it('matches the known answer for bytes 00..0f', () => {
    const shards = codec.encode(Uint8Array.from({ length: 16 }, (_, i) => i));
    expect(shards.map(hex)).toEqual([
      '00010203',
      '04050607',
      '08090a0b',
      '0c0d0e0f',
      '10111213',
      '14151617',
      '18191a1b',
    ]);
    expect(erasureSelfTest(kernel)).toEqual({ kernel, ok: true });
  });

  it('encodes unit vectors to the parity rows', () => {
    const rows = [
      [27, 28, 18, 20],
      [28, 27, 20, 18],
      [18, 20, 27, 28],
    ];
    for (let i = 0; i < DATA_SHARDS; i++) {
      const data = new Uint8Array(4);
      data[i] = 1;
      const parity = codec.encode(data).slice(DATA_SHARDS);
      expect(parity.map((p) => p[0])).toEqual(rows.map((r) => r[i]));
    }
  });

  it.each(SIZES)('rebuilds every 3-shard loss exactly, %i bytes', (size) => {
    const data = randomBytes(size, size);
    const shards = codec.encode(data);
    const s = shardSize(size);
    expect(shards).toHaveLength(7);
    for (const sh of shards) expect(sh.length).toBe(s);
    expect(LOSSES).toHaveLength(35);
    for (const lost of LOSSES) {
      const damaged = shards.map((sh, i) => (lost.includes(i) ? null : sh));
      const back = codec.reconstruct(damaged, size);
      expect(Buffer.compare(back, data), `lost ${lost}`).toBe(0);
      const all = codec.reconstructShards(damaged);
      for (let i = 0; i < TOTAL_SHARDS; i++) {
        expect(Buffer.compare(all[i] as Uint8Array, shards[i] as Uint8Array), `lost ${lost}`).toBe(
          0,
        );
      }
    }
  });

  it('gives the same bytes as the default kernel', () => {
    for (const size of [1, 15, 31, 32, 33, 100, 65_537, 300_001]) {
      const data = randomBytes(size, size * 7 + 1);
      const mine = codec.encode(data);
      const ref = encode(data);
      expect(encodeParity(data).map(hex)).toEqual(ref.slice(4).map(hex));
      for (let i = 0; i < TOTAL_SHARDS; i++)
        expect(hex(mine[i] as Uint8Array)).toBe(hex(ref[i] as Uint8Array));
    }
  });

  it('encodeParity equals encode, into reused caller arrays', () => {
    const into = [0, 1, 2].map(() => new Uint8Array(shardSize(300_001)));
    for (const seed of [1, 2]) {
      const data = randomBytes(300_001, seed);
      const want = codec.encode(data).slice(DATA_SHARDS);
      expect(codec.encodeParity(data).map(hex)).toEqual(want.map(hex));
      into[1]?.fill(0xaa);
      const got = codec.encodeParity(data, into);
      expect(got[0]).toBe(into[0]);
      expect(got.map(hex)).toEqual(want.map(hex));
    }
    expect(() => codec.encodeParity(new Uint8Array(10), into)).toThrow(ErasureArgumentError);
  });

  it('streaming encoder equals one-shot, odd stripe sizes', () => {
    const size = 1024 * 1024 + 123;
    const data = randomBytes(size, 99);
    const want = codec.encode(data);
    const s = shardSize(size);
    const stripe = 64 * 1024 + 5;
    const enc = new StripeEncoder(stripe, kernel);
    const other = new StripeEncoder(7, kernel); // coexists; must not disturb `enc`
    const parity = [0, 1, 2].map(() => new Uint8Array(s));
    const shard = (i: number, off: number, n: number) =>
      (want[i] as Uint8Array).subarray(off, off + n);
    for (let off = 0; off < s; off += stripe) {
      const n = Math.min(stripe, s - off);
      for (let i = 0; i < 4; i++) enc.data[i]?.set(shard(i, off, n));
      other.data.forEach((d, i) => {
        d.fill(i + 1);
      });
      other.encode();
      enc.encode(n);
      for (let j = 0; j < 3; j++) parity[j]?.set((enc.parity[j] as Uint8Array).subarray(0, n), off);
    }
    for (let j = 0; j < 3; j++)
      expect(hex(parity[j] as Uint8Array)).toBe(hex(want[4 + j] as Uint8Array));
    enc.dispose();
    expect(() => enc.encode(1)).toThrow(ErasureError);
    other.dispose();
  });

  it('streaming reconstructor rebuilds 1, 2 or 3 shards, data or parity', () => {
    const size = 200_003;
    const want = codec.encode(randomBytes(size, 5));
    const s = shardSize(size);
    const stripe = 4099;
    const cases: [number[], number[] | undefined][] = [
      [[1, 2, 3, 5], undefined], // lose 0, 4, 6
      [[0, 1, 2, 3, 4, 5], undefined], // lose 6 only (parity repair)
      [
        [0, 3, 4, 5, 6],
        [1, 2],
      ], // two data shards
      [[2, 3, 4, 5, 6], [0]], // one, explicit target
    ];
    for (const [available, targets] of cases) {
      const rec = new StripeReconstructor(available, stripe, { kernel, targets });
      expect(rec.inputShards).toEqual(available.slice(0, 4));
      const outs = rec.targets.map(() => new Uint8Array(s));
      for (let off = 0; off < s; off += stripe) {
        const n = Math.min(stripe, s - off);
        rec.inputShards.forEach((idx, k) => {
          rec.inputs[k]?.set((want[idx] as Uint8Array).subarray(off, off + n));
        });
        rec.reconstruct(n);
        rec.outputs.forEach((o, k) => {
          outs[k]?.set(o.subarray(0, n), off);
        });
      }
      rec.targets.forEach((t, k) => {
        expect(hex(outs[k] as Uint8Array), `shard ${t} from ${available}`).toBe(
          hex(want[t] as Uint8Array),
        );
      });
      rec.dispose();
    }
  });
});

describe('cross-check against the Rust crate (reed-solomon-erasure.wasm oracle)', () => {
  const oracle = loadOracle();

  it.each([1, 2, 17, 1000, 65_537, 1024 * 1024 + 3])(
    'parity identical, %i random bytes',
    (size) => {
      const data = randomBytes(size, size ^ 0x5eed);
      const s = shardSize(size);
      const buf = new Uint8Array(7 * s);
      buf.set(data);
      expect(oracle.encode(buf, 4, 3)).toBe(ReedSolomonErasure.RESULT_OK);
      for (const kernel of KERNELS) {
        const shards = createCodec(kernel).encode(data);
        for (let i = 0; i < TOTAL_SHARDS; i++) {
          expect(hex(shards[i] as Uint8Array), `${kernel} shard ${i}`).toBe(
            hex(buf.subarray(i * s, (i + 1) * s)),
          );
        }
      }
    },
  );

  it('rebuilds data the crate rebuilds', () => {
    const size = 12_345;
    const data = randomBytes(size, 3);
    const s = shardSize(size);
    const buf = new Uint8Array(7 * s);
    buf.set(data);
    oracle.encode(buf, 4, 3);
    const lost = [0, 2, 5];
    for (const i of lost) buf.fill(0, i * s, (i + 1) * s);
    const avail = Array.from({ length: 7 }, (_, i) => !lost.includes(i));
    expect(oracle.reconstruct(buf, 4, 3, avail)).toBe(ReedSolomonErasure.RESULT_OK);
    const mine = encode(data).map((sh, i) => (lost.includes(i) ? null : sh));
    expect(hex(reconstruct(mine, size))).toBe(hex(buf.subarray(0, size)));
  });
});

describe('errors', () => {
  const shards = encode(randomBytes(100, 1));

  it('fewer than 4 shards -> InsufficientShardsError', () => {
    const three = [shards[0], null, null, shards[3], null, null, shards[6]];
    for (const fn of [() => reconstruct(three, 100), () => reconstructShards(three)]) {
      expect(fn).toThrow(InsufficientShardsError);
      expect(fn).toThrow(ErasureError);
      expect(fn).toThrow(/fetch more shards/);
    }
    expect(() => new StripeReconstructor([0, 1, 6], 16)).toThrow(InsufficientShardsError);
  });

  it('mismatched lengths -> ShardSizeMismatchError', () => {
    const bad = shards.slice() as (Uint8Array | null)[];
    bad[2] = new Uint8Array(24);
    bad[0] = null;
    expect(() => reconstruct(bad, 100)).toThrow(ShardSizeMismatchError);
    expect(() => reconstructShards(bad)).toThrow(ShardSizeMismatchError);
    expect(() => reconstruct(shards, 101)).toThrow(ShardSizeMismatchError);
  });

  it('bad arguments -> ErasureArgumentError / KernelUnavailableError', () => {
    expect(() => reconstruct(shards.slice(0, 6), 100)).toThrow(ErasureArgumentError);
    expect(() => new StripeEncoder(0)).toThrow(ErasureArgumentError);
    const enc = new StripeEncoder(16);
    expect(() => enc.encode(17)).toThrow(ErasureArgumentError);
    expect(() => new StripeReconstructor([0, 1, 2, 9], 16)).toThrow(ErasureArgumentError);
    expect(() => createCodec('bogus' as ErasureKernel)).toThrow(KernelUnavailableError);
    if (!KERNELS.includes('relaxed-simd')) {
      expect(() => createCodec('relaxed-simd')).toThrow(KernelUnavailableError);
    }
  });

  it('empty blob round-trips', () => {
    const empty = encode(new Uint8Array(0));
    expect(empty.map((s) => s.length)).toEqual([0, 0, 0, 0, 0, 0, 0]);
    expect(reconstruct([null, null, null, ...empty.slice(3)], 0)).toHaveLength(0);
  });
});
