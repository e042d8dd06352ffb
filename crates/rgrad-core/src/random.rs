//! Random number generators: a `Generator` is a shared handle (clones draw from one stream) on
//! a ChaCha12 generator, the algorithm behind `rand`'s `StdRng`, seeded the same way
//! (`seed_from_u64`), so a seed gives the numbers it gave when the core used `StdRng`. Its
//! state is readable and writable as bytes: `set_state(&get_state())` replays exactly. The
//! default generator (every sampler called without one) is one such instance.

use crate::bail;
use crate::error::Result;
use parking_lot::Mutex;
use rand::{RngExt, SeedableRng};
use std::sync::{Arc, OnceLock};

/// The bit generator every sampler draws from.
pub type Rng = chacha20::ChaCha12Rng;

/// `b"RGRNG"`, a format version, the initial seed (8 bytes, little endian), then ChaCha12's
/// key, stream and word position (49 bytes).
const MAGIC: &[u8; 6] = b"RGRNG\x01";
/// The length of a state from `Generator::get_state`.
pub const STATE_LEN: usize = MAGIC.len() + 8 + 49;

/// PyTorch's seed of a new `torch.Generator()`.
pub const DEFAULT_SEED: u64 = 67_280_421_310_721;

struct Inner {
    rng: Rng,
    initial_seed: u64,
}

/// A seeded random number generator; clones share its stream.
#[derive(Clone)]
pub struct Generator(Arc<Mutex<Inner>>);

impl std::fmt::Debug for Generator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Generator(initial_seed={})", self.initial_seed())
    }
}

impl Default for Generator {
    fn default() -> Self {
        Generator::new(DEFAULT_SEED)
    }
}

/// A seed from the operating system's entropy (through a generator it seeds).
pub fn fresh_seed() -> u64 {
    rand::rng().random::<u64>()
}

impl Generator {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Generator {
        Generator(Arc::new(Mutex::new(Inner { rng: Rng::seed_from_u64(seed), initial_seed: seed })))
    }

    /// Restarts the stream from `seed`.
    pub fn manual_seed(&self, seed: u64) {
        let mut g = self.0.lock();
        g.rng = Rng::seed_from_u64(seed);
        g.initial_seed = seed;
    }

    /// Seeds with a fresh seed from the OS's entropy and returns it.
    pub fn seed(&self) -> u64 {
        let s = fresh_seed();
        self.manual_seed(s);
        s
    }

    /// The seed of the last `manual_seed` / `seed`.
    pub fn initial_seed(&self) -> u64 {
        self.0.lock().initial_seed
    }

    /// The whole state, `STATE_LEN` bytes.
    pub fn get_state(&self) -> Vec<u8> {
        let g = self.0.lock();
        let mut out = Vec::with_capacity(STATE_LEN);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&g.initial_seed.to_le_bytes());
        out.extend_from_slice(&g.rng.serialize_state());
        out
    }

    /// Restores a state from `get_state` (of this or another generator).
    pub fn set_state(&self, state: &[u8]) -> Result<()> {
        if state.len() != STATE_LEN {
            bail!(Runtime, "RNG state is wrong size: expected {} bytes, got {}", STATE_LEN, state.len());
        }
        let (magic, rest) = state.split_at(MAGIC.len());
        if magic != MAGIC {
            bail!(Runtime, "the tensor is not the state of an rgrad generator");
        }
        let (seed, chacha) = rest.split_at(8);
        let mut seed_bytes = [0u8; 8];
        seed_bytes.copy_from_slice(seed);
        let mut raw = [0u8; 49];
        raw.copy_from_slice(chacha);
        // Only 68 bits of the word position are meaningful; more is not a state we wrote.
        if raw[48] & 0xF0 != 0 {
            bail!(Runtime, "the tensor is not the state of an rgrad generator");
        }
        let mut g = self.0.lock();
        g.rng = Rng::deserialize_state(&raw);
        g.initial_seed = u64::from_le_bytes(seed_bytes);
        Ok(())
    }

    /// Runs `f` with the bit generator (locked for the call).
    pub fn with<R>(&self, f: impl FnOnce(&mut Rng) -> R) -> R {
        f(&mut self.0.lock().rng)
    }

    /// Whether two handles share one stream.
    pub fn same(&self, other: &Generator) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

/// Where a run of a generator's keystream words starts: ChaCha12's key, stream (nonce) and
/// word position, all another implementation (the device's, gpu/chacha.rs) needs to compute
/// the same words, since each 16-word block is a function of these and its counter alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeystreamAt {
    pub key: [u32; 8],
    pub stream: u64,
    /// In words from the start of the stream (68 bits: the block counter and the word in it).
    pub word_pos: u128,
}

impl KeystreamAt {
    /// The block counter (its low and high halves) and the word within that block.
    pub fn block(&self) -> (u32, u32, u32) {
        let counter = (self.word_pos >> 4) as u64;
        (counter as u32, (counter >> 32) as u32, (self.word_pos & 15) as u32)
    }
}

/// The position past `words` more words (the stream cycles after 2^68 words, as ChaCha's).
fn advanced(pos: u128, words: u128) -> u128 {
    pos.wrapping_add(words) & ((1u128 << 68) - 1)
}

impl Generator {
    /// Takes the next `words` words of the stream without computing them here: returns where
    /// they start and moves the generator past them, where drawing them one by one would.
    pub fn take_words(&self, words: u128) -> KeystreamAt {
        let mut g = self.0.lock();
        let seed = g.rng.get_seed();
        let mut key = [0u32; 8];
        for (k, b) in key.iter_mut().zip(seed.chunks_exact(4)) {
            *k = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        }
        let at = KeystreamAt { key, stream: g.rng.get_stream(), word_pos: g.rng.get_word_pos() };
        g.rng.set_word_pos(advanced(at.word_pos, words));
        at
    }
}

/// [`Generator::take_words`] of `gen`, or of the default generator when `gen` is `None`.
pub fn take_words(gen: Option<&Generator>, words: u128) -> KeystreamAt {
    match gen {
        Some(g) => g.take_words(words),
        None => default_generator().take_words(words),
    }
}

/// The default generator, seeded from the OS on first use.
pub fn default_generator() -> &'static Generator {
    static DEFAULT: OnceLock<Generator> = OnceLock::new();
    DEFAULT.get_or_init(|| Generator::new(fresh_seed()))
}

/// Runs `f` with `gen`'s bit generator, or the default generator's when `gen` is `None`.
pub fn with_gen<R>(gen: Option<&Generator>, f: impl FnOnce(&mut Rng) -> R) -> R {
    match gen {
        Some(g) => g.with(f),
        None => default_generator().with(f),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;

    #[test]
    fn same_stream_as_std_rng() {
        let mut std = StdRng::seed_from_u64(0);
        let g = Generator::new(0);
        let a: Vec<f64> = (0..100).map(|_| std.random::<f64>()).collect();
        let b: Vec<f64> = g.with(|r| (0..100).map(|_| r.random::<f64>()).collect());
        assert_eq!(a, b);
    }

    /// Word `i` of a run, computed from `at` alone (ChaCha12's block function, as the device
    /// computes it), for the check that `take_words` hands out the words drawing would.
    fn word_at(at: &KeystreamAt, i: u128) -> u32 {
        let mut seed = [0u8; 32];
        for (b, k) in seed.chunks_exact_mut(4).zip(at.key) {
            b.copy_from_slice(&k.to_le_bytes());
        }
        let mut r = Rng::from_seed(seed);
        r.set_stream(at.stream);
        r.set_word_pos(advanced(at.word_pos, i));
        r.random::<u32>()
    }

    fn skip_words(r: &mut Rng, n: u32) {
        for _ in 0..n {
            let _: u32 = r.random();
        }
    }

    #[test]
    fn take_words_hands_out_the_drawn_words() {
        for (skip, take) in [(0u32, 0u128), (0, 1), (3, 16), (15, 17), (16, 64), (65, 1000), (7, 3)] {
            let g = Generator::new(11);
            let h = Generator::new(11);
            g.with(|r| skip_words(r, skip));
            h.with(|r| skip_words(r, skip));
            let at = g.take_words(take);
            let drawn: Vec<u32> = h.with(|r| (0..take + 5).map(|_| r.random::<u32>()).collect());
            let computed: Vec<u32> = (0..take).map(|i| word_at(&at, i)).collect();
            assert_eq!(computed[..], drawn[..take as usize], "skip {skip} take {take}");
            // The generator continues after the words it handed out.
            let next: Vec<u32> = g.with(|r| (0..5).map(|_| r.random::<u32>()).collect());
            assert_eq!(next[..], drawn[take as usize..], "skip {skip} take {take}");
        }
        let at = KeystreamAt { key: [0; 8], stream: 0, word_pos: (5u128 << 36) * 16 + 9 };
        assert_eq!(at.block(), (0, 5 << 4, 9));
        assert_eq!(advanced((1u128 << 68) - 2, 5), 3);
    }

    #[test]
    fn state_round_trip() {
        let g = Generator::new(5);
        for skip in [0usize, 1, 3, 15, 16, 17, 63, 64, 65, 200] {
            g.with(|r| {
                (0..skip).for_each(|_| {
                    let _: u32 = r.random();
                })
            });
            let s = g.get_state();
            let a: Vec<u32> = g.with(|r| (0..150).map(|_| r.random::<u32>()).collect());
            let h = Generator::new(1);
            h.set_state(&s).unwrap();
            assert_eq!(h.initial_seed(), 5);
            let b: Vec<u32> = h.with(|r| (0..150).map(|_| r.random::<u32>()).collect());
            assert_eq!(a, b, "after {skip} words");
        }
        assert!(g.set_state(&[0u8; 3]).is_err());
        let mut bad = g.get_state();
        bad[0] = b'X';
        assert!(g.set_state(&bad).is_err());
    }
}
