//! The WGSL trigonometric functions: the builtins reduce their argument with a few bits of pi
//! and are wrong past ~1e5 (llvmpipe gives sin(1e10) = -0.49 against 0.49), and Vulkan has no
//! float64 sin/cos at all, so large arguments get an exact Payne-Hanek reduction and float64
//! gets software polynomials.

/// sin/cos/tan for float32 with an exact argument reduction above 2^13 (Payne-Hanek: the
/// 24-bit mantissa times 224 bits of 2/pi in 32-bit words, 16-bit halves for the wide
/// products, as WGSL has no 64-bit integers). The builtins reduce with a few bits of pi and
/// are wrong past ~1e5 (llvmpipe gives sin(1e10) = -0.49 against 0.49).
pub(super) const TRIG_F32: &str = r#"
fn rg_mul_wide(a: u32, b: u32) -> vec2<u32> {
  let a0 = a & 0xffffu; let a1 = a >> 16u; let b0 = b & 0xffffu; let b1 = b >> 16u;
  let p00 = a0 * b0; let p01 = a0 * b1; let p10 = a1 * b0; let p11 = a1 * b1;
  let mid = (p00 >> 16u) + (p01 & 0xffffu) + (p10 & 0xffffu);
  return vec2<u32>((p00 & 0xffffu) | (mid << 16u), p11 + (p01 >> 16u) + (p10 >> 16u) + (mid >> 16u));
}
// |x| (finite, >= 2^13) = q pi/2 + r with |r| <= pi/4: returns (r, q mod 4).
fn rg_trig_reduce(x: f32) -> vec2<f32> {
  let bits = bitcast<u32>(x) & 0x7fffffffu;
  let e = i32(bits >> 23u) - 150;
  let m = (bits & 0x7fffffu) | 0x800000u;
  // 2/pi = 0.a2f9836e 4e441529 ... in hex; least significant word first.
  var w = array<u32, 7>(0xfe5163abu, 0x3c439041u, 0xdb629599u, 0xf534ddc0u, 0xfc2757d1u, 0x4e441529u, 0xa2f9836eu);
  var p: array<u32, 8>;
  var carry = 0u;
  for (var i = 0; i < 7; i = i + 1) {
    let t = rg_mul_wide(m, w[i]);
    let lo = t.x + carry;
    carry = t.y + select(0u, 1u, lo < t.x);
    p[i] = lo;
  }
  p[7] = carry;
  // x 2/pi in 2.62 fixed point is bits [162 - e, 226 - e) of the product.
  let s = u32(162 - e);
  let a = s >> 5u;
  let b = s & 31u;
  var tlo = p[a];
  var thi = p[a + 1u];
  if (b != 0u) {
    tlo = (p[a] >> b) | (p[a + 1u] << (32u - b));
    thi = (p[a + 1u] >> b) | (p[a + 2u] << (32u - b));
  }
  var q = thi >> 30u;
  var fhi = thi & 0x3fffffffu;
  // A fraction of a half or more rounds to the next quadrant (r negative), negated exactly.
  let neg = fhi >= 0x20000000u;
  if (neg) {
    q = (q + 1u) & 3u;
    tlo = ~tlo + 1u;
    fhi = (~fhi & 0x3fffffffu) + select(0u, 1u, tlo == 0u);
  }
  var f = f32(fhi) * 9.313225746154785e-10 + f32(tlo) * 2.168404344971009e-19;
  if (neg) { f = -f; }
  return vec2<f32>(f * 1.5707963267948966, f32(q));
}
fn rg_trig_big(x: f32) -> bool { return abs(x) >= 8192.0; }
fn rg_trig_nan(x: f32) -> bool { return (bitcast<u32>(x) & 0x7f800000u) == 0x7f800000u; }
fn rg_sinf(x: f32) -> f32 {
  if (rg_trig_nan(x)) { return bitcast<f32>(0x7fc00000u); }
  if (!rg_trig_big(x)) { return sin(x); }
  let rq = rg_trig_reduce(x);
  let q = u32(rq.y);
  var v = select(sin(rq.x), cos(rq.x), (q & 1u) == 1u);
  if (q >= 2u) { v = -v; }
  return select(v, -v, x < 0.0);
}
fn rg_cosf(x: f32) -> f32 {
  if (rg_trig_nan(x)) { return bitcast<f32>(0x7fc00000u); }
  if (!rg_trig_big(x)) { return cos(x); }
  let rq = rg_trig_reduce(x);
  let q = u32(rq.y);
  var v = select(cos(rq.x), -sin(rq.x), (q & 1u) == 1u);
  if (q >= 2u) { v = -v; }
  return v;
}
fn rg_tanf(x: f32) -> f32 {
  if (rg_trig_nan(x)) { return bitcast<f32>(0x7fc00000u); }
  if (!rg_trig_big(x)) { return tan(x); }
  return rg_sinf(x) / rg_cosf(x);
}
"#;

/// In float64 kernels the names go to the software versions (see [`TRIG_F64_SOFT`]).
pub(super) const TRIG_F64: &str = r#"
fn rg_sinf(x: f64) -> f64 { return sin(x); }
fn rg_cosf(x: f64) -> f64 { return cos(x); }
fn rg_tanf(x: f64) -> f64 { return tan(x); }
"#;

/// Software float64 sin/cos/tan (Vulkan's GLSL.std.450 Sin/Cos are 32-bit only): a two-part
/// Cody-Waite reduction below 2^19, where `k * pi/2` is exact enough, and above it Payne-Hanek
/// over 1280 bits of 2/pi (the whole float64 exponent range) in 32-bit words, as WGSL has no
/// 64-bit integers; then degree-17/16 polynomials on |r| <= pi/4.
pub(super) const TRIG_F64_SOFT: &str = r#"
var<private> RG_TWO_OVER_PI: array<u32, 40> = array<u32, 40>(
  0xa2f9836eu, 0x4e441529u, 0xfc2757d1u, 0xf534ddc0u, 0xdb629599u, 0x3c439041u, 0xfe5163abu, 0xdebbc561u,
  0xb7246e3au, 0x424dd2e0u, 0x06492eeau, 0x09d1921cu, 0xfe1deb1cu, 0xb129a73eu, 0xe88235f5u, 0x2ebb4484u,
  0xe99c7026u, 0xb45f7e41u, 0x3991d639u, 0x835339f4u, 0x9c845f8bu, 0xbdf9283bu, 0x1ff897ffu, 0xde05980fu,
  0xef2f118bu, 0x5a0a6d1fu, 0x6d367ecfu, 0x27cb09b7u, 0x4f463f66u, 0x9e5fea2du, 0x7527bac7u, 0xebe5f17bu,
  0x3d0739f7u, 0x8a5292eau, 0x6bfb5fb1u, 0x1f8d5d08u, 0x56033046u, 0xfc7b6babu, 0xf0cfbc20u, 0x9af4361du,
);
fn rg_mulw64(a: u32, b: u32) -> vec2<u32> {
  let a0 = a & 0xffffu; let a1 = a >> 16u; let b0 = b & 0xffffu; let b1 = b >> 16u;
  let p00 = a0 * b0; let p01 = a0 * b1; let p10 = a1 * b0; let p11 = a1 * b1;
  let mid = (p00 >> 16u) + (p01 & 0xffffu) + (p10 & 0xffffu);
  return vec2<u32>((p00 & 0xffffu) | (mid << 16u), p11 + (p01 >> 16u) + (p10 >> 16u) + (mid >> 16u));
}
fn rg_bits_at(words: array<u32, 10>, pos: u32) -> u32 {
  var c = words;
  let w = pos >> 5u;
  let b = pos & 31u;
  if (b == 0u) { return c[w]; }
  return (c[w] >> b) | (c[w + 1u] << (32u - b));
}
// ax (finite, >= 2^19) = q pi/2 + r with |r| <= pi/4: returns (r, q mod 4). ax = M 2^e with
// M a 53-bit integer; the words of 2/pi before j0 only add multiples of 4 to ax 2/pi, so 7
// words from j0 give the quadrant and 96 fraction bits.
fn rg_trig_reduce64(ax: f64) -> vec2<f64> {
  let fr = frexp(ax);
  let mf = fr.fract * 9007199254740992.0;
  let mh = u32(floor(mf / 4294967296.0));
  let ml = u32(mf - f64(mh) * 4294967296.0);
  let e = i32(fr.exp) - 53;
  var j0 = 0;
  if (e >= 2) { j0 = (e - 2) / 32; }
  var p: array<u32, 10>;
  var carry = 0u;
  for (var l = 0; l < 7; l = l + 1) {
    let t = rg_mulw64(ml, RG_TWO_OVER_PI[j0 + 6 - l]);
    let lo = t.x + carry;
    carry = t.y + select(0u, 1u, lo < t.x);
    p[l] = lo;
  }
  p[7] = carry;
  carry = 0u;
  for (var l = 0; l < 7; l = l + 1) {
    let t = rg_mulw64(mh, RG_TWO_OVER_PI[j0 + 6 - l]);
    let lo = t.x + carry;
    let hi = t.y + select(0u, 1u, lo < t.x);
    let sum = p[l + 1] + lo;
    carry = hi + select(0u, 1u, sum < lo);
    p[l + 1] = sum;
  }
  p[8] = p[8] + carry;
  // The binary point of ax 2/pi sits s bits above the product's lowest bit.
  let s = u32(32 * (j0 + 7) - e);
  var q = rg_bits_at(p, s) & 3u;
  var f1 = rg_bits_at(p, s - 32u);
  var f2 = rg_bits_at(p, s - 64u);
  var f3 = rg_bits_at(p, s - 96u);
  // A fraction of a half or more rounds to the next quadrant (r negative), negated exactly.
  let neg = f1 >= 0x80000000u;
  if (neg) {
    q = (q + 1u) & 3u;
    f3 = ~f3 + 1u;
    let c3 = select(0u, 1u, f3 == 0u);
    f2 = ~f2 + c3;
    let c2 = select(0u, 1u, c3 == 1u && f2 == 0u);
    f1 = ~f1 + c2;
  }
  var f = f64(f1) * 2.3283064365386963e-10 + f64(f2) * 5.421010862427522e-20
    + f64(f3) * 1.2621774483536189e-29;
  if (neg) { f = -f; }
  return vec2<f64>(f * 1.5707963267948966 + f * 6.123233995736766e-17, f64(q));
}
fn rg_trig_big64(ax: f64) -> bool { return ax >= 524288.0 && ax <= 1.7976931348623157e308; }
fn rg_sin_poly(r: f64) -> f64 {
  let z = r * r;
  return r * (1.0 + z * (-1.6666666666666666e-1 + z * (8.3333333333333332e-3 + z * (-1.9841269841269841e-4
    + z * (2.7557319223985893e-6 + z * (-2.5052108385441720e-8 + z * (1.6059043836821613e-10
    + z * (-7.6471637318198164e-13 + z * 2.8114572543455206e-15))))))));
}
fn rg_cos_poly(r: f64) -> f64 {
  let z = r * r;
  return 1.0 + z * (-0.5 + z * (4.1666666666666664e-2 + z * (-1.3888888888888889e-3 + z * (2.4801587301587302e-5
    + z * (-2.7557319223985888e-7 + z * (2.0876756987868100e-9 + z * (-1.1470745597729725e-11
    + z * 4.7794773323873853e-14)))))));
}
fn rg_sin(x: f64) -> f64 {
  let ax = abs(x);
  var r: f64;
  var q: u32;
  if (rg_trig_big64(ax)) {
    let rq = rg_trig_reduce64(ax);
    r = rq.x;
    q = u32(rq.y);
  } else {
    let k = round(ax * 6.36619772367581382433e-01);
    r = (ax - k * 1.57079632673412561417e+00) - k * 6.07710050650619224932e-11;
    q = u32(i32(k) & 3);
  }
  var v = select(rg_sin_poly(r), rg_cos_poly(r), (q & 1u) == 1u);
  if (q >= 2u) { v = -v; }
  return select(v, -v, x < 0.0);
}
fn rg_cos(x: f64) -> f64 {
  let ax = abs(x);
  var r: f64;
  var q: u32;
  if (rg_trig_big64(ax)) {
    let rq = rg_trig_reduce64(ax);
    r = rq.x;
    q = u32(rq.y);
  } else {
    let k = round(ax * 6.36619772367581382433e-01);
    r = (ax - k * 1.57079632673412561417e+00) - k * 6.07710050650619224932e-11;
    q = u32(i32(k) & 3);
  }
  var v = select(rg_cos_poly(r), -rg_sin_poly(r), (q & 1u) == 1u);
  if (q >= 2u) { v = -v; }
  return v;
}
fn rg_tan(x: f64) -> f64 { return rg_sin(x) / rg_cos(x); }
"#;
