/**
 * GF(2^8) arithmetic and the 4+3 coefficient matrices, matching the Rust crate
 * reed-solomon-erasure 6 (`galois_8`: polynomial 0x11D, generator 2). Pure and small:
 * it runs once per stripe geometry; the per-byte work is in the WASM kernel (rs.wat).
 */

export const DATA = 4;
export const TOTAL = 7;

const EXP = new Uint8Array(510);
const LOG = new Uint8Array(256);
{
  let x = 1;
  for (let i = 0; i < 255; i++) {
    EXP[i] = x;
    EXP[i + 255] = x;
    LOG[x] = i;
    x <<= 1;
    if (x & 0x100) x ^= 0x11d;
  }
}

const exp = (i: number): number => EXP[i] ?? 0;
const log = (a: number): number => LOG[a] ?? 0;

/** a·b in GF(2^8). */
export function gfMul(a: number, b: number): number {
  return a === 0 || b === 0 ? 0 : exp(log(a) + log(b));
}

/** a^n with the crate's conventions (x^0 = 1, including 0^0). */
export function gfPow(a: number, n: number): number {
  if (n === 0) return 1;
  if (a === 0) return 0;
  return exp((log(a) * n) % 255);
}

function gfInv(a: number): number {
  if (a === 0) throw new RangeError('GF(2^8): 0 has no inverse');
  return exp(255 - log(a));
}

/** A 4-wide row of coefficients. */
export type Row = Uint8Array; // length DATA

/** Inverts a 4×4 matrix (rows) by Gauss–Jordan elimination; throws if singular. */
export function invert4(rows: readonly Row[]): Row[] {
  const n = DATA;
  const a: Row[] = rows.map((r) => Uint8Array.from(r));
  const b: Row[] = Array.from({ length: n }, (_, i) => {
    const r = new Uint8Array(n);
    r[i] = 1;
    return r;
  });
  const at = (m: Row[], r: number): Row => {
    const row = m[r];
    if (!row) throw new RangeError('matrix row out of range');
    return row;
  };
  for (let c = 0; c < n; c++) {
    let p = c;
    while (p < n && (at(a, p)[c] ?? 0) === 0) p++;
    if (p === n) throw new RangeError('matrix is singular');
    if (p !== c) {
      [a[c], a[p]] = [at(a, p), at(a, c)];
      [b[c], b[p]] = [at(b, p), at(b, c)];
    }
    const ac = at(a, c);
    const bc = at(b, c);
    const s = gfInv(ac[c] ?? 0);
    for (let k = 0; k < n; k++) {
      ac[k] = gfMul(ac[k] ?? 0, s);
      bc[k] = gfMul(bc[k] ?? 0, s);
    }
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const ar = at(a, r);
      const br = at(b, r);
      const f = ar[c] ?? 0;
      if (f === 0) continue;
      for (let k = 0; k < n; k++) {
        ar[k] = (ar[k] ?? 0) ^ gfMul(f, ac[k] ?? 0);
        br[k] = (br[k] ?? 0) ^ gfMul(f, bc[k] ?? 0);
      }
    }
  }
  return b;
}

/** row × M for a 1×4 row and a 4×4 matrix. */
function rowTimes(row: Row, m: readonly Row[]): Row {
  const out = new Uint8Array(DATA);
  for (let i = 0; i < DATA; i++) {
    const c = row[i] ?? 0;
    const mi = m[i];
    if (c === 0 || !mi) continue;
    for (let k = 0; k < DATA; k++) out[k] = (out[k] ?? 0) ^ gfMul(c, mi[k] ?? 0);
  }
  return out;
}

/**
 * The 7×4 encoding matrix: Vandermonde(7×4, entry r^c) × inverse of its top 4×4
 * block, so the top is the identity (systematic code) and rows 4..6 are the parity
 * rows [27,28,18,20], [28,27,20,18], [18,20,27,28].
 */
export const ENCODING_MATRIX: readonly Row[] = (() => {
  const v = Array.from({ length: TOTAL }, (_, r) =>
    Uint8Array.from({ length: DATA }, (_, c) => gfPow(r, c)),
  );
  const topInv = invert4(v.slice(0, DATA));
  return v.map((row) => rowTimes(row, topInv));
})();

function encodingRow(i: number): Row {
  const row = ENCODING_MATRIX[i];
  if (!row) throw new RangeError(`shard index ${i} out of range`);
  return row;
}

/**
 * Coefficient rows that rebuild shards `targets` from the four shards `inputs`
 * (shard indices): row_t = E[t] × (E[inputs])⁻¹. Works uniformly for data targets
 * (E[t] is a unit vector) and parity targets.
 */
export function reconstructionRows(inputs: readonly number[], targets: readonly number[]): Row[] {
  const inv = invert4(inputs.map(encodingRow));
  return targets.map((t) => rowTimes(encodingRow(t), inv));
}

/** Parity rows (E[4..6]). */
export const PARITY_ROWS: readonly Row[] = ENCODING_MATRIX.slice(DATA);

/** Offsets of the kernel's tables in WASM memory (see rs.wat). */
export const NIBBLE_TABLES = 0;
export const FULL_TABLES = 512;
export const TABLES_END = 4096;

/**
 * Writes the kernel tables for exactly three output rows into `mem` (WASM memory):
 * per (output j, input i) a 16+16 byte nibble table pair and a 256 byte full table.
 */
export function writeTables(mem: Uint8Array, rows: readonly Row[]): void {
  if (rows.length !== 3) throw new RangeError('kernel takes exactly 3 rows');
  for (let j = 0; j < 3; j++) {
    const row = rows[j] ?? new Uint8Array(DATA);
    for (let i = 0; i < DATA; i++) {
      const c = row[i] ?? 0;
      const t = j * DATA + i;
      const nib = NIBBLE_TABLES + t * 32;
      for (let n = 0; n < 16; n++) {
        mem[nib + n] = gfMul(c, n);
        mem[nib + 16 + n] = gfMul(c, n << 4);
      }
      const full = FULL_TABLES + t * 256;
      for (let x = 0; x < 256; x++) mem[full + x] = gfMul(c, x);
    }
  }
}
