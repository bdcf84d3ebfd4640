;; The box filter of `mmcurate download` (src/image/box.ts): area weights in fixed point (2^14 per output pixel),
;; one RGBX pixel per 128-bit lane group, two separable passes. WebAssembly and not JavaScript because V8's scalar
;; loops on typed arrays cost several times more per multiply-add than these i32x4 ones (measured: a 640x480 frame
;; to 256x192 took 4.8 ms in JS, 1.3 ms here), and not @napi-rs/image because each of its calls copies and
;; zero-fills the frame. Assembled by scripts/build-wasm.mjs into box-wasm.ts.
(module
  (memory (export "memory") 1)
  ;; horizontal: src RGBX rows (sw x sh) -> tmp i32x4 per pixel (dw x sh), value x 2^8 (the 6 bits shifted off keep
  ;; the vertical pass's sums, up to 255 x 2^8 x 2^14, inside 31 bits)
  ;; hstart/hcount: i32 per output column; hw: i32 weights, hmax per column (stride)
  (func (export "hpass") (param $src i32) (param $sw i32) (param $sh i32) (param $tmp i32) (param $dw i32)
        (param $hstart i32) (param $hcount i32) (param $hw i32) (param $hmax i32)
    (local $y i32) (local $dx i32) (local $k i32) (local $n i32) (local $p i32) (local $wp i32) (local $t i32) (local $row i32)
    (local $acc v128)
    (local.set $t (local.get $tmp))
    (block $yend (loop $yl
      (br_if $yend (i32.ge_u (local.get $y) (local.get $sh)))
      (local.set $row (i32.add (local.get $src) (i32.shl (i32.mul (local.get $y) (local.get $sw)) (i32.const 2))))
      (local.set $dx (i32.const 0))
      (block $xend (loop $xl
        (br_if $xend (i32.ge_u (local.get $dx) (local.get $dw)))
        (local.set $n (i32.load (i32.add (local.get $hcount) (i32.shl (local.get $dx) (i32.const 2)))))
        (local.set $p (i32.add (local.get $row) (i32.shl (i32.load (i32.add (local.get $hstart) (i32.shl (local.get $dx) (i32.const 2)))) (i32.const 2))))
        (local.set $wp (i32.add (local.get $hw) (i32.shl (i32.mul (local.get $dx) (local.get $hmax)) (i32.const 2))))
        (local.set $acc (v128.const i32x4 0 0 0 0))
        (local.set $k (i32.const 0))
        (block $kend (loop $kl
          (br_if $kend (i32.ge_u (local.get $k) (local.get $n)))
          (local.set $acc (i32x4.add (local.get $acc)
            (i32x4.mul (i32x4.extend_low_i16x8_u (i16x8.extend_low_i8x16_u (v128.load32_zero (local.get $p))))
                       (i32x4.splat (i32.load (local.get $wp))))))
          (local.set $p (i32.add (local.get $p) (i32.const 4)))
          (local.set $wp (i32.add (local.get $wp) (i32.const 4)))
          (local.set $k (i32.add (local.get $k) (i32.const 1)))
          (br $kl)))
        (v128.store (local.get $t) (i32x4.shr_u (i32x4.add (local.get $acc) (v128.const i32x4 32 32 32 32)) (i32.const 6)))
        (local.set $t (i32.add (local.get $t) (i32.const 16)))
        (local.set $dx (i32.add (local.get $dx) (i32.const 1)))
        (br $xl)))
      (local.set $y (i32.add (local.get $y) (i32.const 1)))
      (br $yl)))
  )
  ;; vertical: tmp (dw x sh, i32x4) -> dst RGBX at dst with row stride dstride bytes, dh rows; rounds half up
  ;; (+2^21 before the shift by 22) and saturates to 0-255
  (func (export "vpass") (param $tmp i32) (param $dw i32) (param $dst i32) (param $dstride i32) (param $dh i32)
        (param $vstart i32) (param $vcount i32) (param $vw i32) (param $vmax i32)
    (local $dy i32) (local $x i32) (local $k i32) (local $n i32) (local $p i32) (local $wp i32) (local $o i32) (local $rowb i32) (local $base i32) (local $w0 i32)
    (local $acc v128)
    (local.set $rowb (i32.shl (local.get $dw) (i32.const 4)))
    (block $yend (loop $yl
      (br_if $yend (i32.ge_u (local.get $dy) (local.get $dh)))
      (local.set $n (i32.load (i32.add (local.get $vcount) (i32.shl (local.get $dy) (i32.const 2)))))
      (local.set $base (i32.add (local.get $tmp) (i32.mul (i32.load (i32.add (local.get $vstart) (i32.shl (local.get $dy) (i32.const 2)))) (local.get $rowb))))
      (local.set $w0 (i32.add (local.get $vw) (i32.shl (i32.mul (local.get $dy) (local.get $vmax)) (i32.const 2))))
      (local.set $o (i32.add (local.get $dst) (i32.mul (local.get $dy) (local.get $dstride))))
      (local.set $x (i32.const 0))
      (block $xend (loop $xl
        (br_if $xend (i32.ge_u (local.get $x) (local.get $dw)))
        (local.set $acc (v128.const i32x4 0x200000 0x200000 0x200000 0x200000))
        (local.set $p (i32.add (local.get $base) (i32.shl (local.get $x) (i32.const 4))))
        (local.set $wp (local.get $w0))
        (local.set $k (i32.const 0))
        (block $kend (loop $kl
          (br_if $kend (i32.ge_u (local.get $k) (local.get $n)))
          (local.set $acc (i32x4.add (local.get $acc) (i32x4.mul (v128.load (local.get $p)) (i32x4.splat (i32.load (local.get $wp))))))
          (local.set $p (i32.add (local.get $p) (local.get $rowb)))
          (local.set $wp (i32.add (local.get $wp) (i32.const 4)))
          (local.set $k (i32.add (local.get $k) (i32.const 1)))
          (br $kl)))
        (local.set $acc (i32x4.shr_u (local.get $acc) (i32.const 22)))
        (local.set $acc (i8x16.narrow_i16x8_u (i16x8.narrow_i32x4_u (local.get $acc) (local.get $acc)) (i16x8.narrow_i32x4_u (local.get $acc) (local.get $acc))))
        (v128.store32_lane 0 (local.get $o) (local.get $acc))
        (local.set $o (i32.add (local.get $o) (i32.const 4)))
        (local.set $x (i32.add (local.get $x) (i32.const 1)))
        (br $xl)))
      (local.set $dy (i32.add (local.get $dy) (i32.const 1)))
      (br $yl)))
  )
)
