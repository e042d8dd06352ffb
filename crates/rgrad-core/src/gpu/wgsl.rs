//! WGSL source generation. Every kernel walks strided views through a parameter block of
//! `u32` words: `[n, ndim, shape.., then per tensor: offset, strides..]`, so one compiled
//! pipeline serves every shape and layout of a given op and dtype combination.

use self::Access::{Read, ReadWrite};
use super::wgsl_trig::{TRIG_F32, TRIG_F64, TRIG_F64_SOFT};
use crate::DType;
use std::fmt::Write;

pub const WORKGROUP: u32 = 256;

/// How a dtype is stored in a GPU buffer (bool is a `u32` word: WGSL has no host-shareable
/// bool).
pub fn storage_type(dt: DType) -> &'static str {
    match dt {
        DType::F32 => "f32",
        DType::F64 => "f64",
        DType::I32 => "i32",
        DType::I64 => "i64",
        DType::Bool => "u32",
        // Never stored on the device (`gpu::supports` refuses them before a buffer exists).
        DType::U8 | DType::I8 | DType::I16 | DType::F16 | DType::BF16 => "u32",
    }
}

/// How a dtype is computed with in WGSL expressions.
pub fn value_type(dt: DType) -> &'static str {
    match dt {
        DType::Bool => "bool",
        other => storage_type(other),
    }
}

pub fn elem_bytes(dt: DType) -> u64 {
    match dt {
        DType::F64 | DType::I64 => 8,
        _ => 4,
    }
}

/// Converts `expr` (a value stored as `from`) to the value type of `to`.
pub fn load(expr: &str, from: DType, to: DType) -> String {
    match (from, to) {
        (a, b) if a == b && a != DType::Bool => expr.to_string(),
        (DType::Bool, DType::Bool) => format!("({expr} != 0u)"),
        (DType::Bool, t) => format!("{}({expr})", value_type(t)),
        (f, DType::Bool) => format!("({expr} != {}(0))", storage_type(f)),
        (_, t) => format!("{}({expr})", value_type(t)),
    }
}

/// Converts a value of type `from` to the storage representation of `to`.
pub fn store(expr: &str, from: DType, to: DType) -> String {
    match (from, to) {
        (DType::Bool, DType::Bool) => format!("select(0u, 1u, {expr})"),
        (DType::Bool, t) => format!("select({0}(0), {0}(1), {expr})", storage_type(t)),
        (f, DType::Bool) => format!("select(0u, 1u, {expr} != {}(0))", value_type(f)),
        (a, b) if a == b => expr.to_string(),
        (_, t) => format!("{}({expr})", storage_type(t)),
    }
}

/// Header lines shared by all kernels (64-bit types need no `enable` in naga's WGSL).
pub(super) fn header(out: &mut String) {
    out.push_str("// rgrad generated kernel\n");
}

/// How a kernel uses one of its storage buffers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Access {
    Read,
    ReadWrite,
}

/// Declares `buffers` (name, access, element type) at group 0 in order, then the parameter
/// block `p: array<u32>`. A buffer's binding is its place in the list a dispatch passes, and
/// `Context::dispatch` binds the parameter block after them, so `p` is last.
pub(super) fn bindings<N: AsRef<str>, E: AsRef<str>>(out: &mut String, buffers: &[(N, Access, E)]) {
    for (k, (name, access, elem)) in buffers.iter().enumerate() {
        let access = match access {
            Access::Read => "read",
            Access::ReadWrite => "read_write",
        };
        let (name, elem) = (name.as_ref(), elem.as_ref());
        let _ = writeln!(out, "@group(0) @binding({k}) var<storage, {access}> {name}: array<{elem}>;");
    }
    let _ = writeln!(out, "@group(0) @binding({}) var<storage, read> p: array<u32>;", buffers.len());
}

/// erf to ~1e-7: Taylor series near 0, then Numerical Recipes' erfc fit.
const ERF_F32: &str = r#"
fn rg_erf(x: f32) -> f32 {
  let a = abs(x);
  if (a < 0.5) {
    let z = x * x;
    return x * (1.1283791670955126 + z * (-0.37612638903183754 + z * (0.11283791670955126 + z * (-0.026866170645131252 + z * 0.005223977625442188))));
  }
  let t = 1.0 / (1.0 + 0.5 * a);
  let y = t * exp(-a * a - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
  return sign(x) * (1.0 - y);
}
"#;

/// erf to ~1e-16: `exp(-x^2)` times a series of positive terms for |x| < 3, the continued
/// fraction of erfc beyond.
const ERF_F64: &str = r#"
fn rg_erf(x: f64) -> f64 {
  let a = abs(x);
  if (a >= 6.0) { return sign(x); }
  if (a < 3.0) {
    var term = a;
    var sum = a;
    for (var n = 1; n < 90; n = n + 1) {
      term = term * 2.0 * a * a / f64(2 * n + 1);
      sum = sum + term;
      if (term < sum * 1e-17) { break; }
    }
    return sign(x) * 1.1283791670955126 * exp(-a * a) * sum;
  }
  var f = a;
  for (var n = 60; n >= 1; n = n - 1) { f = a + (f64(n) * 0.5) / f; }
  return sign(x) * (1.0 - exp(-a * a) / (f * 1.7724538509055159));
}
"#;

/// NaN and infinity tests, and a NaN maker, for float type `t`. Shader compilers may assume
/// no NaN (Mesa folds `x != x` to false and `x - x` to 0 unless told to preserve them, which
/// naga does not), so a kernel never tests a value against itself: NaN is found in the bit
/// pattern (float64 through its float32 conversion, which keeps NaN; naga has no 64-bit
/// bitcast without int64), and made at run time from a value (`sqrt` of a negative number) as
/// a NaN constant would be folded or refused.
pub fn nan_helpers(t: &str) -> &'static str {
    if t == "f64" {
        r#"
fn rg_isnan(x: f64) -> bool { return (bitcast<u32>(f32(x)) & 0x7fffffffu) > 0x7f800000u; }
fn rg_isinf(x: f64) -> bool { return abs(x) > 1.7976931348623157e308; }
fn rg_nan(x: f64) -> f64 { return sqrt(-1.0 - abs(x)); }
fn rg_signbit(x: f64) -> bool { return (bitcast<u32>(f32(x)) & 0x80000000u) != 0u; }
fn rg_negzero() -> f64 { return f64(bitcast<f32>(0x80000000u)); }
"#
    } else {
        r#"
fn rg_isnan(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u; }
fn rg_isinf(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) == 0x7f800000u; }
fn rg_nan(x: f32) -> f32 { return sqrt(-1.0 - abs(x)); }
fn rg_signbit(x: f32) -> bool { return (bitcast<u32>(x) & 0x80000000u) != 0u; }
fn rg_negzero() -> f32 { return bitcast<f32>(0x80000000u); }
"#
    }
}

/// Helper functions for float type `t`: what WGSL lacks as builtins.
pub fn float_helpers(t: &str) -> String {
    let erf = if t == "f64" { ERF_F64.to_string() } else { ERF_F32.to_string() };
    format!(
        r#"{nan}
fn rg_log1p(x: {t}) -> {t} {{
  if (abs(x) < 1e-4) {{ return x * (1.0 - x * (0.5 - x / 3.0)); }}
  let u = 1.0 + x;
  if (rg_isinf(u) && u > 0.0) {{ return u; }}
  return log(u) * x / (u - 1.0);
}}
fn rg_expm1(x: {t}) -> {t} {{
  if (abs(x) < 1e-5) {{ return x * (1.0 + 0.5 * x); }}
  let u = exp(x);
  if (rg_isinf(u)) {{ return u; }}
  let um = u - 1.0;
  if (um == -1.0) {{ return -1.0; }}
  return um * x / log(u);
}}
{erf}fn rg_tanh(x: {t}) -> {t} {{
  if (abs(x) < 1e-4) {{ return x * (1.0 - x * x / 3.0); }}
  let e = exp(-2.0 * abs(x));
  return sign(x) * (1.0 - e) / (1.0 + e);
}}
fn rg_sigmoid(x: {t}) -> {t} {{
  if (x >= 0.0) {{ return 1.0 / (1.0 + exp(-x)); }}
  let e = exp(x);
  return e / (1.0 + e);
}}
fn rg_pow(a: {t}, b: {t}) -> {t} {{
  if (b == 0.0 || a == 1.0) {{ return 1.0; }}
  if (rg_isnan(a)) {{ return a; }}
  if (rg_isnan(b)) {{ return b; }}
  if (a == -1.0 && rg_isinf(b)) {{ return 1.0; }}
  let odd = b == floor(b) && floor(b * 0.5) * 2.0 != b && !rg_isinf(b);
  if (a == 0.0) {{
    if (b < 0.0) {{ return select(1.0 / abs(a), 1.0 / a, odd); }}
    return select(0.0, a, odd);
  }}
  if (rg_isinf(a) && a < 0.0 && b != floor(b)) {{ return select(0.0, -a, b > 0.0); }}
  if (a >= 0.0) {{
    return exp2(b * log2(a));
  }}
  if (b != floor(b)) {{ return rg_nan(a); }}
  let m = exp2(b * log2(-a));
  if (floor(b * 0.5) * 2.0 == b) {{ return m; }}
  return -m;
}}
fn rg_round(x: {t}) -> {t} {{ return round(x); }}
fn rg_floordiv(a: {t}, b: {t}) -> {t} {{ return floor(a / b); }}
fn rg_rem(a: {t}, b: {t}) -> {t} {{
  let r = a - b * trunc(a / b);
  if (r != 0.0 && ((r < 0.0) != (b < 0.0))) {{ return r + b; }}
  return r;
}}
fn rg_max(a: {t}, b: {t}) -> {t} {{ if (rg_isnan(a)) {{ return a; }} if (rg_isnan(b)) {{ return b; }} return max(a, b); }}
fn rg_min(a: {t}, b: {t}) -> {t} {{ if (rg_isnan(a)) {{ return a; }} if (rg_isnan(b)) {{ return b; }} return min(a, b); }}
{math}"#,
        nan = nan_helpers(t),
        math = math_helpers(t)
    )
}

/// The inverse trigonometric, hyperbolic and special functions, written with the builtins that
/// exist for both float types (the f64 rewrite supplies exp, log, sin, ...).
fn math_helpers(t: &str) -> String {
    // f64 refines the f32-accurate erfinv with two Newton steps.
    let newton = if t == "f64" {
        "  for (var k = 0; k < 2; k = k + 1) { x = x - (rg_erf(x) - y) / (1.1283791670955126 * exp(-x * x)); }\n"
    } else {
        ""
    };
    let trig = if t == "f64" { TRIG_F64 } else { TRIG_F32 };
    format!(
        r#"
fn rg_atan(x: {t}) -> {t} {{
  var a: {t} = abs(x);
  let inv = a > 1.0;
  if (inv) {{ a = 1.0 / a; }}
  a = a / (1.0 + sqrt(1.0 + a * a));
  a = a / (1.0 + sqrt(1.0 + a * a));
  let z = a * a;
  var term: {t} = a;
  var s: {t} = 0.0;
  for (var n = 0; n < 14; n = n + 1) {{ s = s + term / {t}(2 * n + 1); term = -term * z; }}
  var r: {t} = 4.0 * s;
  if (inv) {{ r = 1.5707963267948966 - r; }}
  if (rg_isnan(x)) {{ return x; }}
  return select(r, -r, x < 0.0);
}}
fn rg_asin(x: {t}) -> {t} {{ return rg_atan(x / sqrt(1.0 - x * x)); }}
fn rg_acos(x: {t}) -> {t} {{ return 2.0 * rg_atan(sqrt((1.0 - x) / (1.0 + x))); }}
fn rg_atan2(y: {t}, x: {t}) -> {t} {{
  if (rg_isnan(x)) {{ return x; }}
  if (rg_isnan(y)) {{ return y; }}
  let s = select({t}(1.0), {t}(-1.0), rg_signbit(y));
  if (rg_isinf(y)) {{
    if (rg_isinf(x)) {{ return s * select({t}(0.7853981633974483), {t}(2.356194490192345), x < 0.0); }}
    return s * 1.5707963267948966;
  }}
  let negx = x < 0.0 || (x == 0.0 && rg_signbit(x));
  if (y == 0.0 || rg_isinf(x)) {{
    if (negx) {{ return s * 3.141592653589793; }}
    return select({t}(0.0), rg_negzero(), rg_signbit(y));
  }}
  if (x > 0.0) {{ return rg_atan(y / x); }}
  if (x < 0.0) {{ return rg_atan(y / x) + select({t}(-3.141592653589793), {t}(3.141592653589793), y >= 0.0); }}
  if (y > 0.0) {{ return 1.5707963267948966; }}
  if (y < 0.0) {{ return -1.5707963267948966; }}
  return 0.0;
}}
fn rg_sinh(x: {t}) -> {t} {{
  let a = abs(x);
  if (a < 1.0) {{ return 0.5 * (rg_expm1(x) - rg_expm1(-x)); }}
  let e = exp(a);
  return sign(x) * 0.5 * (e - 1.0 / e);
}}
fn rg_cosh(x: {t}) -> {t} {{ let e = exp(abs(x)); return 0.5 * (e + 1.0 / e); }}
fn rg_asinh(x: {t}) -> {t} {{
  let a = abs(x);
  if (a > 1.0e18) {{ return sign(x) * (log(a) + 0.6931471805599453); }}
  return sign(x) * rg_log1p(a + a * a / (1.0 + sqrt(1.0 + a * a)));
}}
fn rg_acosh(x: {t}) -> {t} {{
  if (x > 1.0e18) {{ return log(x) + 0.6931471805599453; }}
  let u = x - 1.0;
  return rg_log1p(u + sqrt(u * (x + 1.0)));
}}
fn rg_atanh(x: {t}) -> {t} {{ return 0.5 * (rg_log1p(x) - rg_log1p(-x)); }}
fn rg_sinc(x: {t}) -> {t} {{
  if (x == 0.0) {{ return 1.0; }}
  let p = x * 3.141592653589793;
  return sin(p) / p;
}}
fn rg_hypot(a: {t}, b: {t}) -> {t} {{
  if (rg_isinf(a)) {{ return abs(a); }}
  if (rg_isinf(b)) {{ return abs(b); }}
  if (rg_isnan(a) || rg_isnan(b)) {{ return rg_nan(a); }}
  let m = max(abs(a), abs(b));
  if (m == 0.0) {{ return m; }}
  let p = a / m;
  let q = b / m;
  return m * sqrt(p * p + q * q);
}}
fn rg_logaddexp(a: {t}, b: {t}) -> {t} {{
  if (rg_isnan(a)) {{ return a; }}
  if (rg_isnan(b)) {{ return b; }}
  let m = max(a, b);
  if (a == b) {{ return m + 0.6931471805599453; }}
  return m + rg_log1p(exp(-abs(a - b)));
}}
fn rg_xlogy(a: {t}, b: {t}) -> {t} {{
  if (rg_isnan(b)) {{ return b; }}
  if (a == 0.0) {{ return 0.0; }}
  return a * log(b);
}}
fn rg_erfinv(y: {t}) -> {t} {{
  if (abs(y) > 1.0 || rg_isnan(y)) {{ return rg_nan(y); }}
  if (abs(y) == 1.0) {{ return y / (1.0 - abs(y)); }}
  var w: {t} = -log((1.0 - y) * (1.0 + y));
  var p: {t};
  if (w < 5.0) {{
    w = w - 2.5;
    p = 2.81022636e-08;
    p = 3.43273939e-07 + p * w; p = -3.5233877e-06 + p * w; p = -4.39150654e-06 + p * w;
    p = 0.00021858087 + p * w; p = -0.00125372503 + p * w; p = -0.00417768164 + p * w;
    p = 0.246640727 + p * w; p = 1.50140941 + p * w;
  }} else {{
    w = sqrt(w) - 3.0;
    p = -0.000200214257;
    p = 0.000100950558 + p * w; p = 0.00134934322 + p * w; p = -0.00367342844 + p * w;
    p = 0.00573950773 + p * w; p = -0.0076224613 + p * w; p = 0.00943887047 + p * w;
    p = 1.00167406 + p * w; p = 2.83297682 + p * w;
  }}
  var x: {t} = p * y;
{newton}  return x;
}}
fn rg_lgamma_pos(x0: {t}) -> {t} {{
  let x = x0 - 1.0;
  var a: {t} = 0.99999999999980993;
  a = a + 676.5203681218851 / (x + 1.0);
  a = a - 1259.1392167224028 / (x + 2.0);
  a = a + 771.32342877765313 / (x + 3.0);
  a = a - 176.61502916214059 / (x + 4.0);
  a = a + 12.507343278686905 / (x + 5.0);
  a = a - 0.13857109526572012 / (x + 6.0);
  a = a + 9.9843695780195716e-6 / (x + 7.0);
  a = a + 1.5056327351493116e-7 / (x + 8.0);
  let tt = x + 7.5;
  return 0.9189385332046727 + (x + 0.5) * log(tt) - tt + log(a);
}}
fn rg_lgamma(x: {t}) -> {t} {{
  if (rg_isnan(x)) {{ return x; }}
  if (x <= 0.0 && x == floor(x)) {{ return 1.0 / (x - x); }}
  if (x < 0.5) {{ return log(3.141592653589793 / abs(sin(3.141592653589793 * x))) - rg_lgamma_pos(1.0 - x); }}
  return rg_lgamma_pos(x);
}}
fn rg_digamma_pos(x0: {t}) -> {t} {{
  var x: {t} = x0;
  var r: {t} = 0.0;
  for (var k = 0; k < 12 && x < 10.0; k = k + 1) {{ r = r - 1.0 / x; x = x + 1.0; }}
  let z = 1.0 / (x * x);
  let tail = z * (0.08333333333333333 - z * (0.008333333333333333 - z * (0.003968253968253968 - z * (0.004166666666666667 - z * (0.007575757575757576 - z * 0.021092796092796094)))));
  return r + log(x) - 0.5 / x - tail;
}}
fn rg_digamma(x: {t}) -> {t} {{
  if (x == 0.0) {{ return -1.0 / (x - x); }}
  if (x < 0.0) {{
    if (x == floor(x)) {{ return rg_nan(x); }}
    return rg_digamma_pos(1.0 - x) - 3.141592653589793 / tan(3.141592653589793 * x);
  }}
  return rg_digamma_pos(x);
}}
fn rg_trigamma_pos(x0: {t}) -> {t} {{
  var x: {t} = x0;
  var r: {t} = 0.0;
  for (var k = 0; k < 12 && x < 10.0; k = k + 1) {{ r = r + 1.0 / (x * x); x = x + 1.0; }}
  let z = 1.0 / (x * x);
  return r + 1.0 / x + z / 2.0 + z / x * (0.16666666666666666 - z * (0.03333333333333333 - z * (0.023809523809523808 - z * (0.03333333333333333 - z * 0.07575757575757576))));
}}
fn rg_trigamma(x: {t}) -> {t} {{
  if (x <= 0.0 && x == floor(x)) {{ return 1.0 / (x - x); }}
  if (x < 0.0) {{
    let s = sin(3.141592653589793 * x);
    return -rg_trigamma_pos(1.0 - x) + 9.869604401089358 / (s * s);
  }}
  return rg_trigamma_pos(x);
}}
fn rg_tetragamma_pos(x0: {t}) -> {t} {{
  var x: {t} = x0;
  var r: {t} = 0.0;
  for (var k = 0; k < 12 && x < 10.0; k = k + 1) {{ r = r - 2.0 / (x * x * x); x = x + 1.0; }}
  let z = 1.0 / (x * x);
  return r - z - z / x - z * z * (0.5 - z * (0.16666666666666666 - z * (0.16666666666666666 - z * (0.3 - z * 0.8333333333333334))));
}}
fn rg_tetragamma(x: {t}) -> {t} {{
  if (x <= 0.0 && x == floor(x)) {{ return -1.0 / (x - x); }}
  if (x < 0.0) {{
    let s = sin(3.141592653589793 * x);
    return rg_tetragamma_pos(1.0 - x) - 62.01255336059963 * cos(3.141592653589793 * x) / (s * s * s);
  }}
  return rg_tetragamma_pos(x);
}}
{trig}"#
    )
}

/// Helper functions for integer type `t`.
pub fn int_helpers(t: &str) -> String {
    format!(
        r#"
fn rg_floordiv(a: {t}, b: {t}) -> {t} {{
  let q = a / b;
  if ((a % b != {t}(0)) && ((a < {t}(0)) != (b < {t}(0)))) {{ return q - {t}(1); }}
  return q;
}}
fn rg_rem(a: {t}, b: {t}) -> {t} {{
  let r = a % b;
  if (r != {t}(0) && ((r < {t}(0)) != (b < {t}(0)))) {{ return r + b; }}
  return r;
}}
fn rg_pow(a: {t}, b: {t}) -> {t} {{
  var r = {t}(1); var base = a; var e = b;
  loop {{ if (e <= {t}(0)) {{ break; }} if ((e & {t}(1)) == {t}(1)) {{ r = r * base; }} base = base * base; e = e >> 1u; }}
  return r;
}}
fn rg_max(a: {t}, b: {t}) -> {t} {{ return max(a, b); }}
fn rg_min(a: {t}, b: {t}) -> {t} {{ return min(a, b); }}
"#
    )
}

/// Software float64 versions of the builtins that Vulkan only has for 32-bit floats (GLSL.std.450
/// Exp, Log, Sin, ... are f16/f32 only): range reduction plus polynomials, accurate to a few
/// ulps over the ranges tensors use.
const F64_MATH: &str = r#"
fn rg_f64_isnan(x: f64) -> bool { return (bitcast<u32>(f32(x)) & 0x7fffffffu) > 0x7f800000u; }
fn rg_exp(x: f64) -> f64 {
  if (rg_f64_isnan(x)) { return x; }
  if (x > 709.782712893384) { return x * 1.0e308; }
  if (x < -745.2) { return 0.0; }
  let k = round(x * 1.4426950408889634);
  let r = (x - k * 6.93147180369123816490e-01) - k * 1.90821492927058770002e-10;
  let p = 1.0 + r * (1.0 + r * (0.5 + r * (1.6666666666666666e-1 + r * (4.1666666666666664e-2
    + r * (8.3333333333333332e-3 + r * (1.3888888888888889e-3 + r * (1.9841269841269841e-4
    + r * (2.4801587301587302e-5 + r * (2.7557319223985893e-6 + r * (2.7557319223985888e-7
    + r * (2.5052108385441720e-8 + r * (2.0876756987868100e-9 + r * 1.6059043836821613e-10))))))))))));
  let h = i32(k) / 2;
  return ldexp(ldexp(p, h), i32(k) - h);
}
fn rg_log(x: f64) -> f64 {
  if (rg_f64_isnan(x)) { return x; }
  if (x < 0.0) { return sqrt(x); }
  if (x == 0.0) { return -1.0 / abs(x); }
  if (x > 1.7976931348623157e308) { return x; }
  let fr = frexp(x);
  var m = fr.fract;
  var e = f64(fr.exp);
  if (m < 0.7071067811865476) { m = m * 2.0; e = e - 1.0; }
  let s = (m - 1.0) / (m + 1.0);
  let z = s * s;
  let p = 1.0 + z * (3.3333333333333333e-1 + z * (0.2 + z * (1.4285714285714285e-1 + z * (1.1111111111111111e-1
    + z * (9.0909090909090909e-2 + z * (7.6923076923076923e-2 + z * (6.6666666666666667e-2
    + z * (5.8823529411764706e-2 + z * (5.2631578947368421e-2 + z * 4.7619047619047619e-2)))))))));
  return e * 6.93147180369123816490e-01 + (e * 1.90821492927058770002e-10 + 2.0 * s * p);
}
fn rg_exp2(x: f64) -> f64 { return rg_exp(x * 6.93147180559945309417e-01); }
fn rg_log2(x: f64) -> f64 { return rg_log(x) * 1.44269504088896340736; }
fn rg_inverseSqrt(x: f64) -> f64 { return 1.0 / sqrt(x); }
"#;

/// The builtins [`F64_MATH`] replaces.
const F64_REPLACED: [&str; 8] = ["exp", "log", "sin", "cos", "tan", "exp2", "log2", "inverseSqrt"];

/// Rewrites calls of the builtins Vulkan lacks for f64 to the software versions, when the
/// kernel computes in f64.
fn use_f64_math(src: String) -> String {
    let mut out = String::with_capacity(src.len() + F64_MATH.len() + TRIG_F64_SOFT.len());
    let bytes = src.as_bytes();
    let mut i = 0;
    'outer: while i < src.len() {
        let prev_ident = i > 0 && (bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_');
        if !prev_ident {
            for name in F64_REPLACED {
                if src[i..].starts_with(name) && src[i + name.len()..].starts_with('(') {
                    out.push_str("rg_");
                    out.push_str(name);
                    i += name.len();
                    continue 'outer;
                }
            }
        }
        let ch = src[i..].chars().next().expect("in bounds");
        out.push(ch);
        i += ch.len_utf8();
    }
    out.push_str(F64_MATH);
    out.push_str(TRIG_F64_SOFT);
    out
}

/// [`finish`] for a hand-written kernel that computes in `dt` alone.
#[cfg(feature = "wgpu")]
pub(super) fn finish_for(src: String, dt: DType) -> String {
    finish(src, &[dt])
}

/// Finishes a kernel's source: f64 kernels get the software transcendental functions.
fn finish(src: String, dtypes: &[DType]) -> String {
    // Kernels mix f32 and f64 only in conversions, which call no transcendental function.
    if dtypes.contains(&DType::F64) && !dtypes.contains(&DType::F32) {
        use_f64_math(src)
    } else {
        src
    }
}

fn helpers_for(out: &mut String, dtypes: &[DType]) {
    let mut seen = Vec::new();
    for &dt in dtypes {
        if seen.contains(&dt) {
            continue;
        }
        seen.push(dt);
        match dt {
            DType::F32 | DType::F64 if seen.iter().filter(|d| d.is_float()).count() == 1 => {
                out.push_str(&float_helpers(value_type(dt)))
            }
            DType::I32 | DType::I64 if seen.iter().filter(|d| d.is_int()).count() == 1 => {
                out.push_str(&int_helpers(value_type(dt)))
            }
            _ => {}
        }
    }
}

/// The index arithmetic: walks `nd` dims from the innermost, adding each coordinate times
/// each tensor's stride. Tensor `k`'s block starts at word `2 + nd + k * (nd + 1)`.
fn strided_offsets(out: &mut String, tensors: usize, contiguous: bool) {
    out.push_str("  let nd = p[1];\n");
    for k in 0..tensors {
        let _ = writeln!(out, "  var o{k} = p[2u + nd + {k}u * (nd + 1u)];");
    }
    if contiguous {
        for k in 0..tensors {
            let _ = writeln!(out, "  o{k} = o{k} + i;");
        }
        return;
    }
    out.push_str("  var rem = i;\n  for (var d = i32(nd) - 1; d >= 0; d = d - 1) {\n");
    out.push_str("    let sz = p[2u + u32(d)];\n    let c = rem % sz;\n    rem = rem / sz;\n");
    for k in 0..tensors {
        let _ = writeln!(out, "    o{k} = o{k} + c * p[3u + nd + {k}u * (nd + 1u) + u32(d)];");
    }
    out.push_str("  }\n");
}

pub(super) fn entry(out: &mut String) {
    entry_with(out, WORKGROUP)
}

/// [`entry`] with `threads` invocations per workgroup (dispatch `groups(n, threads)`).
pub(super) fn entry_with(out: &mut String, threads: u32) {
    let _ = writeln!(
        out,
        "@compute @workgroup_size({threads})\nfn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {{\n  let i = gid.x + gid.y * nw.x * {threads}u;\n  if (i >= p[0]) {{ return; }}"
    );
}

/// An elementwise kernel: `out[...] = expr(a, b, c, ...)` over strided inputs.
///
/// `inputs[k] = (storage dtype, value dtype)`: input `k` is loaded, converted, and bound to the
/// name `a`, `b`, `c`, ... in `expr`, whose result has `expr_dtype`.
pub fn map_kernel(
    inputs: &[(DType, DType)],
    expr: &str,
    expr_dtype: DType,
    out: DType,
    contiguous: bool,
) -> String {
    let mut s = String::new();
    header(&mut s);
    let n = inputs.len();
    let mut bufs: Vec<_> =
        inputs.iter().enumerate().map(|(k, (st, _))| (format!("in{k}"), Read, storage_type(*st))).collect();
    bufs.push(("outb".into(), ReadWrite, storage_type(out)));
    bindings(&mut s, &bufs);
    let mut types: Vec<DType> = inputs.iter().map(|x| x.1).collect();
    types.push(expr_dtype);
    helpers_for(&mut s, &types);
    entry(&mut s);
    // Tensor 0 of the parameter block is the output, then the inputs.
    strided_offsets(&mut s, n + 1, contiguous);
    for (k, (st, vt)) in inputs.iter().enumerate() {
        let name = (b'a' + k as u8) as char;
        let _ = writeln!(s, "  let {name} = {};", load(&format!("in{k}[o{}]", k + 1), *st, *vt));
    }
    let _ = writeln!(s, "  outb[o0] = {};\n}}", store(&format!("({expr})"), expr_dtype, out));
    finish(s, &types)
}

/// [`map_kernel`] for contiguous operands whose length and offsets are multiples of 4: every
/// invocation loads and stores one vec4 per tensor (a CPU-backed adapter runs a quarter of the
/// invocations) and evaluates `expr` per component.
pub fn map_vec4_kernel(inputs: &[(DType, DType)], expr: &str, expr_dtype: DType, out: DType) -> String {
    let mut s = String::new();
    header(&mut s);
    let n = inputs.len();
    let so = storage_type(out);
    let mut bufs: Vec<_> = inputs
        .iter()
        .enumerate()
        .map(|(k, (st, _))| (format!("in{k}"), Read, format!("vec4<{}>", storage_type(*st))))
        .collect();
    bufs.push(("outb".into(), ReadWrite, format!("vec4<{so}>")));
    bindings(&mut s, &bufs);
    let mut types: Vec<DType> = inputs.iter().map(|x| x.1).collect();
    types.push(expr_dtype);
    helpers_for(&mut s, &types);
    let _ = writeln!(
        s,
        "@compute @workgroup_size({WORKGROUP})\nfn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {{\n  let i = gid.x + gid.y * nw.x * {WORKGROUP}u;\n  if (i >= p[0] / 4u) {{ return; }}\n  let nd = p[1];"
    );
    for k in 0..=n {
        let _ = writeln!(s, "  let o{k} = p[2u + nd + {k}u * (nd + 1u)] / 4u + i;");
    }
    for k in 0..n {
        let _ = writeln!(s, "  let v{k} = in{k}[o{}];", k + 1);
    }
    let _ = writeln!(s, "  var r: vec4<{so}>;");
    for c in ["x", "y", "z", "w"] {
        s.push_str("  {");
        for (k, (st, vt)) in inputs.iter().enumerate() {
            let name = (b'a' + k as u8) as char;
            let _ = write!(s, " let {name} = {};", load(&format!("v{k}.{c}"), *st, *vt));
        }
        let _ = writeln!(s, " r.{c} = {}; }}", store(&format!("({expr})"), expr_dtype, out));
    }
    s.push_str("  outb[o0] = r;\n}\n");
    finish(s, &types)
}

/// `out[i] = src[idx[i]]`, or zero where `idx[i] < 0`.
pub fn gather_kernel(dt: DType) -> String {
    let t = storage_type(dt);
    let mut s = String::new();
    header(&mut s);
    bindings(&mut s, &[("src", Read, t), ("idx", Read, "i32"), ("outb", ReadWrite, t)]);
    entry(&mut s);
    let _ = writeln!(
        s,
        "  let j = idx[i];\n  if (j < 0) {{ outb[i] = {t}(0); }} else {{ outb[i] = src[u32(j)]; }}\n}}"
    );
    s
}

/// `dst[idx[start + i]] (+)= src[i]` for one round of distinct destinations.
pub fn scatter_kernel(dt: DType, accumulate: bool) -> String {
    let t = storage_type(dt);
    let mut s = String::new();
    header(&mut s);
    bindings(&mut s, &[("src", Read, t), ("idx", Read, "i32"), ("dst", ReadWrite, t)]);
    entry(&mut s);
    // p = [n, start]: this round covers entries start .. start + n of `idx` and `src`.
    let _ = writeln!(s, "  let k = p[1] + i;\n  let j = u32(idx[k]);");
    if accumulate && dt != DType::Bool {
        let _ = writeln!(s, "  dst[j] = dst[j] + src[k];\n}}");
    } else if accumulate {
        let _ = writeln!(s, "  dst[j] = dst[j] | src[k];\n}}");
    } else {
        let _ = writeln!(s, "  dst[j] = src[k];\n}}");
    }
    s
}

/// A fused in-place update over `k` same-sized contiguous tensors `t0..`, with float
/// parameters `s0..` and the statements `body` (optimizer steps). float32 parameters travel in
/// the parameter block (after the offsets); float64 ones in a buffer of their own.
pub fn update_kernel(dt: DType, k: usize, scalars: usize, body: &str) -> String {
    let t = storage_type(dt);
    let mut s = String::new();
    header(&mut s);
    let mut bufs: Vec<_> = (0..k).map(|j| (format!("t{j}"), ReadWrite, t)).collect();
    let in_params = dt == DType::F32;
    if !in_params {
        bufs.push(("sc".into(), Read, t));
    }
    bindings(&mut s, &bufs);
    entry(&mut s);
    for j in 0..k {
        let _ = writeln!(s, "  let o{j} = p[{}] + i;", j + 1);
    }
    for j in 0..scalars {
        if in_params {
            let _ = writeln!(s, "  let s{j} = bitcast<f32>(p[{}]);", 1 + k + j);
        } else {
            let _ = writeln!(s, "  let s{j} = sc[{j}];");
        }
    }
    let _ = writeln!(s, "{body}\n}}");
    finish(s, &[dt])
}
