//! The core generator's ChaCha12 keystream computed on the device, so `rand`, `uniform_`,
//! `bernoulli` with a number (and dropout, built on `rand`) draw a device tensor without
//! drawing on the host and uploading.
//!
//! ChaCha12 is counter based: block `c` of the stream (16 words) is a function of the key,
//! the stream number and `c` alone. The host generator hands out a run of its words without
//! computing them (`Generator::take_words`: where the run starts, and the generator moved past
//! it), and invocation `k` computes block `c0 + k` and places the words of the run it holds.
//! Each number is made from its words as `rand`'s host sampler makes it, in integers and
//! exact scalings, so the device draws the host's numbers bit for bit and the generator ends
//! where the host draw would leave it: a seed gives the same tensor on both devices, in one
//! call or in chunks.
//!
//! - float32 uniform: one word `w`, `(w >> 8) * 2^-24`;
//! - float64 uniform: two words (low, high), `((high << 32 | low) >> 11) * 2^-53`;
//! - Bernoulli(p): the uniform `u` of the draw, 1 when `u < p`. Every uniform is
//!   `k * 2^-24` (`k * 2^-53`), so `u < p` is the integer test `k < ceil(p * 2^24)` (`2^53`),
//!   exact without float64 on the device.

use super::imp::{buffer_of, ctx, empty, groups, supports};
use super::wgsl::Access::{Read, ReadWrite};
use super::wgsl::{self, WORKGROUP};
use crate::error::Result;
use crate::random::{take_words, Generator, KeystreamAt};
use crate::{DType, Tensor};
use std::fmt::Write;

/// What the keystream kernel stores for the words of a run.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Store {
    /// The words themselves (u32), for the float64 numbers made from two words each.
    Words,
    /// One float32 uniform per word.
    UniformF32,
    /// One float32 Bernoulli draw per word, against the threshold in `p[15]`.
    BernoulliF32,
}

/// The ChaCha constants ("expand 32-byte k"), words 0-3 of every block.
const CONSTANTS: [u32; 4] = [0x6170_7865, 0x3320_646e, 0x7962_2d32, 0x6b20_6574];
/// Double rounds of ChaCha12.
const DOUBLE_ROUNDS: u32 = 6;

/// One quarter round on the named state words.
fn quarter(s: &mut String, a: usize, b: usize, c: usize, d: usize) {
    for (x, y, z, r) in [(a, b, d, 16), (c, d, b, 12), (a, b, d, 8), (c, d, b, 7)] {
        let _ = writeln!(s, "    x{x} += x{y}; x{z} = rg_rotl(x{z} ^ x{x}, {r}u);");
    }
}

/// p = [blocks, words, first word's place in the first block, counter lo, counter hi,
/// key 0..8, stream lo, stream hi, (Bernoulli threshold)]. Invocation `i` computes block
/// `counter + i` (carrying into the high half, as the host's 64-bit counter wraps) and stores
/// its words that fall in `[0, words)` of the run.
fn keystream_kernel(store: Store) -> String {
    let mut s = String::new();
    wgsl::header(&mut s);
    let out = if store == Store::Words { "u32" } else { "f32" };
    wgsl::bindings(&mut s, &[("outb", ReadWrite, out)]);
    s.push_str("fn rg_rotl(v: u32, r: u32) -> u32 { return (v << r) | (v >> (32u - r)); }\n");
    let value = match store {
        Store::Words => "w",
        Store::UniformF32 => "f32(w >> 8u) * 5.9604644775390625e-8",
        Store::BernoulliF32 => "select(0.0, 1.0, (w >> 8u) < p[15])",
    };
    let _ = writeln!(
        s,
        "fn rg_put(g: u32, w: u32) {{\n  if (g >= p[2] && g - p[2] < p[1]) {{ outb[g - p[2]] = {value}; }}\n}}"
    );
    wgsl::entry(&mut s);
    s.push_str("  let lo = p[3] + i;\n  let hi = p[4] + select(0u, 1u, lo < i);\n");
    let init: Vec<String> = (0..16)
        .map(|j| match j {
            0..=3 => format!("{}u", CONSTANTS[j]),
            4..=11 => format!("p[{}]", j + 1),
            12 => "lo".into(),
            13 => "hi".into(),
            _ => format!("p[{}]", j - 1),
        })
        .collect();
    for (j, v) in init.iter().enumerate() {
        let _ = writeln!(s, "  let s{j} = {v};\n  var x{j} = s{j};");
    }
    let _ = writeln!(s, "  for (var r = 0u; r < {DOUBLE_ROUNDS}u; r += 1u) {{");
    for (a, b, c, d) in [(0, 4, 8, 12), (1, 5, 9, 13), (2, 6, 10, 14), (3, 7, 11, 15)] {
        quarter(&mut s, a, b, c, d);
    }
    for (a, b, c, d) in [(0, 5, 10, 15), (1, 6, 11, 12), (2, 7, 8, 13), (3, 4, 9, 14)] {
        quarter(&mut s, a, b, c, d);
    }
    s.push_str("  }\n  let first = i * 16u;\n");
    for j in 0..16 {
        let _ = writeln!(s, "  rg_put(first + {j}u, x{j} + s{j});");
    }
    s.push_str("}\n");
    s
}

/// p = [n, (threshold hi, threshold lo)]: float64 numbers from word pairs (low word first).
fn pairs_kernel(bernoulli: bool) -> String {
    let mut s = String::new();
    wgsl::header(&mut s);
    wgsl::bindings(&mut s, &[("w", Read, "u32"), ("outb", ReadWrite, "f64")]);
    wgsl::entry(&mut s);
    // The 53-bit integer k = (high << 32 | low) >> 11 is (high << 21 | low >> 11): its top 32
    // bits are `high`, its low 21 are `low >> 11`.
    s.push_str("  let k_hi = w[2u * i + 1u];\n  let k_lo = w[2u * i] >> 11u;\n");
    if bernoulli {
        s.push_str("  let below = k_hi < p[1] || (k_hi == p[1] && k_lo < p[2]);\n  outb[i] = select(f64(0.0), f64(1.0), below);\n}\n");
    } else {
        s.push_str(
            "  outb[i] = f64(k_hi) * 2.3283064365386963e-10 + f64(k_lo) * 1.1102230246251565e-16;\n}\n",
        );
    }
    s
}

/// `ceil(p * 2^bits)` clamped to `[0, 2^bits]`: the count of uniforms `k * 2^-bits` below `p`.
fn threshold(p: f64, bits: i32) -> u64 {
    let t = (p * 2f64.powi(bits)).ceil();
    t.clamp(0.0, 2f64.powi(bits)) as u64
}

/// Computes a run of `words` words, storing them as `store` says into `out` (one element per
/// word), from where the run starts (`at`).
fn run(out: &Tensor, at: &KeystreamAt, words: usize, store: Store, extra: u32) -> Result<()> {
    let c = ctx()?;
    let (lo, hi, first) = at.block();
    let blocks = (first as usize + words).div_ceil(16);
    let mut p = vec![blocks as u32, words as u32, first, lo, hi];
    p.extend(at.key);
    p.extend([at.stream as u32, (at.stream >> 32) as u32, extra]);
    let k = c.kernel(&format!("chacha|{store:?}"), || keystream_kernel(store))?;
    c.dispatch(&k, &[buffer_of(out)?.raw()], &p, groups(blocks, WORKGROUP))
}

/// What a device draw makes: uniforms, or Bernoulli(p) ones and zeros.
#[derive(Clone, Copy, Debug)]
pub enum Draw {
    Uniform,
    Bernoulli { p: f64 },
}

/// `shape`'s float32/float64 numbers of `draw` on the device from `gen`'s stream, the host's
/// draws bit for bit; None (the generator untouched) when the dtype is neither or the run
/// exceeds the kernel's u32 word indices, for the caller to draw on the host.
pub fn draw(gen: Option<&Generator>, shape: &[usize], dt: DType, draw: Draw) -> Result<Option<Tensor>> {
    let Some(n) = shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d)) else { return Ok(None) };
    let per = match dt {
        DType::F32 => 1,
        DType::F64 if supports(DType::F64) => 2,
        _ => return Ok(None),
    };
    let words = n.checked_mul(per).filter(|&w| w <= u32::MAX as usize - 32);
    let Some(words) = words else { return Ok(None) };
    // Allocated before the words are taken, so a refused size leaves the generator as it was.
    let out = empty(shape, dt)?;
    if n == 0 {
        return Ok(Some(out));
    }
    if dt == DType::F32 {
        let (store, extra) = match draw {
            Draw::Uniform => (Store::UniformF32, 0),
            Draw::Bernoulli { p } => (Store::BernoulliF32, threshold(p, 24) as u32),
        };
        run(&out, &take_words(gen, words as u128), words, store, extra)?;
        return Ok(Some(out));
    }
    let w = empty(&[words], DType::I32)?;
    run(&w, &take_words(gen, words as u128), words, Store::Words, 0)?;
    let (bernoulli, t) = match draw {
        Draw::Uniform => (false, 0),
        Draw::Bernoulli { p } => (true, threshold(p, 53)),
    };
    let c = ctx()?;
    let k = c.kernel(&format!("chacha_pairs|{bernoulli}"), || pairs_kernel(bernoulli))?;
    // k < t as (high 32 bits, low 21 bits); t = 2^53 (p = 1) passes every k.
    let (t_hi, t_lo) =
        if t >> 53 != 0 { (u32::MAX, 1 << 21) } else { ((t >> 21) as u32, (t & ((1 << 21) - 1)) as u32) };
    let params = [n as u32, t_hi, t_lo];
    c.dispatch(&k, &[buffer_of(&w)?.raw(), buffer_of(&out)?.raw()], &params, groups(n, WORKGROUP))?;
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_count_the_uniforms_below_p() {
        assert_eq!(threshold(0.0, 24), 0);
        assert_eq!(threshold(1.0, 24), 1 << 24);
        assert_eq!(threshold(0.5, 24), 1 << 23);
        // Just above 1/2: the uniform 1/2 itself is below it.
        assert_eq!(threshold(0.5 + 1e-12, 24), (1 << 23) + 1);
        assert_eq!(threshold(1.0, 53), 1 << 53);
        for p in [0.1f64, 0.3, 0.7, 0.999_999_9] {
            let t = threshold(p, 24);
            // k < t  <=>  k * 2^-24 < p, checked at the boundary.
            assert!(((t - 1) as f64) * 2f64.powi(-24) < p && (t as f64) * 2f64.powi(-24) >= p);
        }
    }

    #[test]
    fn kernel_has_the_chacha12_rounds() {
        let k = keystream_kernel(Store::UniformF32);
        assert_eq!(k.matches("rg_rotl(x").count(), 32);
        assert!(k.contains("r < 6u"));
    }
}
