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
;;   ;;@define NAME ... ;;@enddefine   a WAT snippet; each later line ";;@NAME offset=N"
;;                         is replaced by the snippet with OFFSET -> offset=N (this is
;;                         how the main loop is unrolled x2 without writing it twice)
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
;;@define column
;; One 16-byte column: load each input once, split into nibble indices, then form all
;; three outputs as balanced XOR trees of 8 table lookups each (a tree rather than a
;; chain so the lookups are independent and can issue in parallel).
(local.set $v (v128.load OFFSET (i32.add (local.get $in0) (local.get $k))))
(local.set $l0 (v128.and (local.get $v) (local.get $mask)))
(local.set $h0 (v128.and (i16x8.shr_u (local.get $v) (i32.const 4)) (local.get $mask)))
(local.set $v (v128.load OFFSET (i32.add (local.get $in1) (local.get $k))))
(local.set $l1 (v128.and (local.get $v) (local.get $mask)))
(local.set $h1 (v128.and (i16x8.shr_u (local.get $v) (i32.const 4)) (local.get $mask)))
(local.set $v (v128.load OFFSET (i32.add (local.get $in2) (local.get $k))))
(local.set $l2 (v128.and (local.get $v) (local.get $mask)))
(local.set $h2 (v128.and (i16x8.shr_u (local.get $v) (i32.const 4)) (local.get $mask)))
(local.set $v (v128.load OFFSET (i32.add (local.get $in3) (local.get $k))))
(local.set $l3 (v128.and (local.get $v) (local.get $mask)))
(local.set $h3 (v128.and (i16x8.shr_u (local.get $v) (i32.const 4)) (local.get $mask)))
(v128.store OFFSET (i32.add (local.get $out0) (local.get $k))
  (v128.xor
    (v128.xor
      (v128.xor (SWIZZLE (local.get $t00l) (local.get $l0)) (SWIZZLE (local.get $t00h) (local.get $h0)))
      (v128.xor (SWIZZLE (local.get $t01l) (local.get $l1)) (SWIZZLE (local.get $t01h) (local.get $h1))))
    (v128.xor
      (v128.xor (SWIZZLE (local.get $t02l) (local.get $l2)) (SWIZZLE (local.get $t02h) (local.get $h2)))
      (v128.xor (SWIZZLE (local.get $t03l) (local.get $l3)) (SWIZZLE (local.get $t03h) (local.get $h3))))))
(v128.store OFFSET (i32.add (local.get $out1) (local.get $k))
  (v128.xor
    (v128.xor
      (v128.xor (SWIZZLE (local.get $t10l) (local.get $l0)) (SWIZZLE (local.get $t10h) (local.get $h0)))
      (v128.xor (SWIZZLE (local.get $t11l) (local.get $l1)) (SWIZZLE (local.get $t11h) (local.get $h1))))
    (v128.xor
      (v128.xor (SWIZZLE (local.get $t12l) (local.get $l2)) (SWIZZLE (local.get $t12h) (local.get $h2)))
      (v128.xor (SWIZZLE (local.get $t13l) (local.get $l3)) (SWIZZLE (local.get $t13h) (local.get $h3))))))
(v128.store OFFSET (i32.add (local.get $out2) (local.get $k))
  (v128.xor
    (v128.xor
      (v128.xor (SWIZZLE (local.get $t20l) (local.get $l0)) (SWIZZLE (local.get $t20h) (local.get $h0)))
      (v128.xor (SWIZZLE (local.get $t21l) (local.get $l1)) (SWIZZLE (local.get $t21h) (local.get $h1))))
    (v128.xor
      (v128.xor (SWIZZLE (local.get $t22l) (local.get $l2)) (SWIZZLE (local.get $t22h) (local.get $h2)))
      (v128.xor (SWIZZLE (local.get $t23l) (local.get $l3)) (SWIZZLE (local.get $t23h) (local.get $h3))))))
;;@enddefine

  ;; Fused one-pass SIMD kernel: each input vector is loaded once and feeds all three
  ;; outputs, so memory traffic is 4 loads + 3 stores per 16 byte column (instead of
  ;; re-reading the inputs per output row). The 24 nibble tables are hoisted into
  ;; v128 locals; the engine keeps what fits in registers and spills the rest to the
  ;; stack, which still beats re-deriving them.
  (func (export "mul4x3")
    (param $in0 i32) (param $in1 i32) (param $in2 i32) (param $in3 i32)
    (param $out0 i32) (param $out1 i32) (param $out2 i32) (param $len i32)
    (local $k i32) (local $end32 i32) (local $end16 i32)
    (local $mask v128) (local $v v128)
    (local $l0 v128) (local $l1 v128) (local $l2 v128) (local $l3 v128)
    (local $h0 v128) (local $h1 v128) (local $h2 v128) (local $h3 v128)
    (local $t00l v128) (local $t00h v128) (local $t01l v128) (local $t01h v128)
    (local $t02l v128) (local $t02h v128) (local $t03l v128) (local $t03h v128)
    (local $t10l v128) (local $t10h v128) (local $t11l v128) (local $t11h v128)
    (local $t12l v128) (local $t12h v128) (local $t13l v128) (local $t13h v128)
    (local $t20l v128) (local $t20h v128) (local $t21l v128) (local $t21h v128)
    (local $t22l v128) (local $t22h v128) (local $t23l v128) (local $t23h v128)

    (local.set $mask (v128.const i8x16 15 15 15 15 15 15 15 15 15 15 15 15 15 15 15 15))
    (local.set $t00l (v128.load offset=0 (i32.const 0)))
    (local.set $t00h (v128.load offset=16 (i32.const 0)))
    (local.set $t01l (v128.load offset=32 (i32.const 0)))
    (local.set $t01h (v128.load offset=48 (i32.const 0)))
    (local.set $t02l (v128.load offset=64 (i32.const 0)))
    (local.set $t02h (v128.load offset=80 (i32.const 0)))
    (local.set $t03l (v128.load offset=96 (i32.const 0)))
    (local.set $t03h (v128.load offset=112 (i32.const 0)))
    (local.set $t10l (v128.load offset=128 (i32.const 0)))
    (local.set $t10h (v128.load offset=144 (i32.const 0)))
    (local.set $t11l (v128.load offset=160 (i32.const 0)))
    (local.set $t11h (v128.load offset=176 (i32.const 0)))
    (local.set $t12l (v128.load offset=192 (i32.const 0)))
    (local.set $t12h (v128.load offset=208 (i32.const 0)))
    (local.set $t13l (v128.load offset=224 (i32.const 0)))
    (local.set $t13h (v128.load offset=240 (i32.const 0)))
    (local.set $t20l (v128.load offset=256 (i32.const 0)))
    (local.set $t20h (v128.load offset=272 (i32.const 0)))
    (local.set $t21l (v128.load offset=288 (i32.const 0)))
    (local.set $t21h (v128.load offset=304 (i32.const 0)))
    (local.set $t22l (v128.load offset=320 (i32.const 0)))
    (local.set $t22h (v128.load offset=336 (i32.const 0)))
    (local.set $t23l (v128.load offset=352 (i32.const 0)))
    (local.set $t23h (v128.load offset=368 (i32.const 0)))

    (local.set $end16 (i32.and (local.get $len) (i32.const -16)))
    (local.set $end32 (i32.and (local.get $len) (i32.const -32)))

    ;; Main loop, 32 bytes per input per iteration (two 16-byte columns; the second
    ;; uses offset=16 immediates so the loop pays one index increment per 32 bytes).
    ;; Lo nibble = v & 15; hi nibble = (v >> 4) & 15 done as a 16-bit lane shift plus
    ;; mask because x86 has no per-byte shift. Both are < 16, so swizzle and
    ;; relaxed_swizzle agree (relaxed only differs for indices >= 16) and the relaxed
    ;; build can lower to a bare pshufb/tbl.
    (block $done32
      (br_if $done32 (i32.ge_u (local.get $k) (local.get $end32)))
      (loop $col32
        ;;@column offset=0
        ;;@column offset=16
        (local.set $k (i32.add (local.get $k) (i32.const 32)))
        (br_if $col32 (i32.lt_u (local.get $k) (local.get $end32)))))

    ;; At most one leftover full 16-byte column.
    (if (i32.lt_u (local.get $k) (local.get $end16))
      (then
        ;;@column offset=0
        (local.set $k (i32.add (local.get $k) (i32.const 16)))))

    ;; Tail (< 16 bytes): byte at a time, so buffers need no 16-byte padding and
    ;; bytes past $len are never read or written.
    (call $bytes
      (local.get $in0) (local.get $in1) (local.get $in2) (local.get $in3)
      (local.get $out0) (local.get $out1) (local.get $out2)
      (local.get $k) (local.get $len)))
;;@end
)
