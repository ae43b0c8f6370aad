;; Reed-Solomon 4+3 kernel over GF(2^8) (poly 0x11D), hand-written WAT.
;;
;; One job only: out[j][k] = XOR_i  c[j][i] * in[i][k]   for j in 0..3, i in 0..4
;; i.e. multiply 4 input shards by a 3x4 coefficient matrix. Encoding uses the three
;; parity rows of the encoding matrix; reconstruction uses rows of the inverted
;; surviving 4x4 submatrix. All GF arithmetic beyond table lookups (matrix inversion,
;; table construction) lives in TypeScript: it runs once per stripe geometry, the
;; kernel runs once per byte.
;;
;; Fewer than 3 outputs: the caller duplicates a row and aliases its output pointer to
;; an earlier one; the same bytes are then stored twice, which is correct and keeps the
;; hot loop free of branches.
;;
;; This file is a template: scripts/build-wasm.mjs builds three modules from it.
;;   ;;@simd ... ;;@end     kept for the `simd` and `relaxed` variants only
;;   ;;@scalar ... ;;@end   kept for the `scalar` variant only
;;   SWIZZLE               -> i8x16.swizzle (simd) or i8x16.relaxed_swizzle (relaxed)
;; Everything else is shared by all three.
;;
;; Memory layout (fixed, so table addresses are load immediates, not adds):
;;   [0, 384)       nibble tables: for output j, input i at (j*4+i)*32:
;;                  16 bytes lo[n] = c*n, then 16 bytes hi[n] = c*(n<<4)
;;                  (c*x = lo[x & 15] ^ hi[x >> 4] because multiplication by c is
;;                  linear over XOR -- the ISA-L / klauspost "split table" trick)
;;   [512, 3584)    full tables for the byte-at-a-time path: output j, input i at
;;                  512 + (j*4+i)*256, entry x = c*x
;;   [4096, ...)    shard buffers, placed by the caller (memory grown from JS)
(module
  (memory (export "memory") 1)

  ;; Byte-at-a-time over [$k, $end): the whole job for the scalar module, and the
  ;; tail (< 16 bytes) for the SIMD modules. One lookup per (input, output) pair in
  ;; a 256-entry table; the table base is folded into the load's offset immediate.
  (func $bytes
    (param $in0 i32) (param $in1 i32) (param $in2 i32) (param $in3 i32)
    (param $out0 i32) (param $out1 i32) (param $out2 i32)
    (param $k i32) (param $end i32)
    (local $b0 i32) (local $b1 i32) (local $b2 i32) (local $b3 i32)
    (block $done
      (br_if $done (i32.ge_u (local.get $k) (local.get $end)))
      (loop $next
        (local.set $b0 (i32.load8_u (i32.add (local.get $in0) (local.get $k))))
        (local.set $b1 (i32.load8_u (i32.add (local.get $in1) (local.get $k))))
        (local.set $b2 (i32.load8_u (i32.add (local.get $in2) (local.get $k))))
        (local.set $b3 (i32.load8_u (i32.add (local.get $in3) (local.get $k))))
        (i32.store8 (i32.add (local.get $out0) (local.get $k))
          (i32.xor
            (i32.xor (i32.load8_u offset=512 (local.get $b0))
                     (i32.load8_u offset=768 (local.get $b1)))
            (i32.xor (i32.load8_u offset=1024 (local.get $b2))
                     (i32.load8_u offset=1280 (local.get $b3)))))
        (i32.store8 (i32.add (local.get $out1) (local.get $k))
          (i32.xor
            (i32.xor (i32.load8_u offset=1536 (local.get $b0))
                     (i32.load8_u offset=1792 (local.get $b1)))
            (i32.xor (i32.load8_u offset=2048 (local.get $b2))
                     (i32.load8_u offset=2304 (local.get $b3)))))
        (i32.store8 (i32.add (local.get $out2) (local.get $k))
          (i32.xor
            (i32.xor (i32.load8_u offset=2560 (local.get $b0))
                     (i32.load8_u offset=2816 (local.get $b1)))
            (i32.xor (i32.load8_u offset=3072 (local.get $b2))
                     (i32.load8_u offset=3328 (local.get $b3)))))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br_if $next (i32.lt_u (local.get $k) (local.get $end))))))

;;@scalar
  ;; Scalar module: no SIMD anywhere, so it validates on every engine.
  (func (export "mul4x3")
    (param $in0 i32) (param $in1 i32) (param $in2 i32) (param $in3 i32)
    (param $out0 i32) (param $out1 i32) (param $out2 i32) (param $len i32)
    (call $bytes
      (local.get $in0) (local.get $in1) (local.get $in2) (local.get $in3)
      (local.get $out0) (local.get $out1) (local.get $out2)
      (i32.const 0) (local.get $len)))
;;@end

;;@simd
  ;; Fused one-pass SIMD kernel: each 16-byte input vector is loaded once and feeds all
  ;; three outputs, so memory traffic is 4 loads + 3 stores per column instead of
  ;; re-reading the inputs for every output row.
  ;;
  ;; Choices below were measured (x86-64 AVX2, 16 MiB shards; Node 20 figures, in
  ;; Chromium 156 the variants were within noise of each other):
  ;; - The 24 nibble tables are read from the fixed table page with constant
  ;;   addresses rather than hoisted into 24 v128 locals. Only 16 xmm registers exist,
  ;;   so the locals spill anyway, and V8's spill code was slower than plain
  ;;   L1-resident loads: simd 3.4 -> 4.9 GB/s, relaxed 6.5 -> 7.5 GB/s.
  ;; - No unrolling: x2 and x4 unrolls measured equal or slower (more register
  ;;   pressure for no fewer swizzles).
  ;; - Lo nibble = v & 15; hi nibble = (v >> 4) & 15 done as a 16-bit lane shift plus
  ;;   mask, because x86 has no per-byte shift. Both are < 16, where swizzle and
  ;;   relaxed_swizzle agree (relaxed only differs for indices >= 16), so the relaxed
  ;;   build gives identical bytes while lowering to a bare pshufb/tbl; plain swizzle
  ;;   needs an extra saturating add per lookup to zero out-of-range lanes.
  ;; - Each output is a balanced XOR tree of its 8 lookups, not a chain, so the
  ;;   lookups are independent and can issue in parallel.
  (func (export "mul4x3")
    (param $in0 i32) (param $in1 i32) (param $in2 i32) (param $in3 i32)
    (param $out0 i32) (param $out1 i32) (param $out2 i32) (param $len i32)
    (local $k i32) (local $end16 i32)
    (local $mask v128) (local $v v128)
    (local $l0 v128) (local $l1 v128) (local $l2 v128) (local $l3 v128)
    (local $h0 v128) (local $h1 v128) (local $h2 v128) (local $h3 v128)
    (local.set $mask (v128.const i8x16 15 15 15 15 15 15 15 15 15 15 15 15 15 15 15 15))
    (local.set $end16 (i32.and (local.get $len) (i32.const -16)))
    (block $done
      (br_if $done (i32.ge_u (local.get $k) (local.get $end16)))
      (loop $column
        ;; nibble indices of the 4 inputs
        (local.set $v (v128.load (i32.add (local.get $in0) (local.get $k))))
        (local.set $l0 (v128.and (local.get $v) (local.get $mask)))
        (local.set $h0 (v128.and (i16x8.shr_u (local.get $v) (i32.const 4)) (local.get $mask)))
        (local.set $v (v128.load (i32.add (local.get $in1) (local.get $k))))
        (local.set $l1 (v128.and (local.get $v) (local.get $mask)))
        (local.set $h1 (v128.and (i16x8.shr_u (local.get $v) (i32.const 4)) (local.get $mask)))
        (local.set $v (v128.load (i32.add (local.get $in2) (local.get $k))))
        (local.set $l2 (v128.and (local.get $v) (local.get $mask)))
        (local.set $h2 (v128.and (i16x8.shr_u (local.get $v) (i32.const 4)) (local.get $mask)))
        (local.set $v (v128.load (i32.add (local.get $in3) (local.get $k))))
        (local.set $l3 (v128.and (local.get $v) (local.get $mask)))
        (local.set $h3 (v128.and (i16x8.shr_u (local.get $v) (i32.const 4)) (local.get $mask)))
        ;; the 3 outputs; table (j, i) lo at (j*4+i)*32, hi 16 bytes later
        (v128.store (i32.add (local.get $out0) (local.get $k))
          (v128.xor
            (v128.xor (v128.xor (SWIZZLE (v128.load offset=0 (i32.const 0)) (local.get $l0))
                         (SWIZZLE (v128.load offset=16 (i32.const 0)) (local.get $h0)))
                      (v128.xor (SWIZZLE (v128.load offset=32 (i32.const 0)) (local.get $l1))
                         (SWIZZLE (v128.load offset=48 (i32.const 0)) (local.get $h1))))
            (v128.xor (v128.xor (SWIZZLE (v128.load offset=64 (i32.const 0)) (local.get $l2))
                         (SWIZZLE (v128.load offset=80 (i32.const 0)) (local.get $h2)))
                      (v128.xor (SWIZZLE (v128.load offset=96 (i32.const 0)) (local.get $l3))
                         (SWIZZLE (v128.load offset=112 (i32.const 0)) (local.get $h3))))))
        (v128.store (i32.add (local.get $out1) (local.get $k))
          (v128.xor
            (v128.xor (v128.xor (SWIZZLE (v128.load offset=128 (i32.const 0)) (local.get $l0))
                         (SWIZZLE (v128.load offset=144 (i32.const 0)) (local.get $h0)))
                      (v128.xor (SWIZZLE (v128.load offset=160 (i32.const 0)) (local.get $l1))
                         (SWIZZLE (v128.load offset=176 (i32.const 0)) (local.get $h1))))
            (v128.xor (v128.xor (SWIZZLE (v128.load offset=192 (i32.const 0)) (local.get $l2))
                         (SWIZZLE (v128.load offset=208 (i32.const 0)) (local.get $h2)))
                      (v128.xor (SWIZZLE (v128.load offset=224 (i32.const 0)) (local.get $l3))
                         (SWIZZLE (v128.load offset=240 (i32.const 0)) (local.get $h3))))))
        (v128.store (i32.add (local.get $out2) (local.get $k))
          (v128.xor
            (v128.xor (v128.xor (SWIZZLE (v128.load offset=256 (i32.const 0)) (local.get $l0))
                         (SWIZZLE (v128.load offset=272 (i32.const 0)) (local.get $h0)))
                      (v128.xor (SWIZZLE (v128.load offset=288 (i32.const 0)) (local.get $l1))
                         (SWIZZLE (v128.load offset=304 (i32.const 0)) (local.get $h1))))
            (v128.xor (v128.xor (SWIZZLE (v128.load offset=320 (i32.const 0)) (local.get $l2))
                         (SWIZZLE (v128.load offset=336 (i32.const 0)) (local.get $h2)))
                      (v128.xor (SWIZZLE (v128.load offset=352 (i32.const 0)) (local.get $l3))
                         (SWIZZLE (v128.load offset=368 (i32.const 0)) (local.get $h3))))))
        (local.set $k (i32.add (local.get $k) (i32.const 16)))
        (br_if $column (i32.lt_u (local.get $k) (local.get $end16)))))

    ;; Tail (< 16 bytes): byte at a time, so buffers need no 16-byte padding and
    ;; bytes past $len are never read or written.
    (call $bytes
      (local.get $in0) (local.get $in1) (local.get $in2) (local.get $in3)
      (local.get $out0) (local.get $out1) (local.get $out2)
      (local.get $k) (local.get $len)))
;;@end
)
