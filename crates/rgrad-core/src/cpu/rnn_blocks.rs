//! Splitting a recurrence into blocks of batch rows that run on separate threads.
//!
//! Each batch row's recurrence is independent of the others' (the rows only meet again in
//! the weight gradients, which are large GEMMs over all steps after the sweep), so the
//! sequential per-step loop of cpu/rnn.rs can run once per block of rows, the blocks in
//! parallel, with one fork and join per pass instead of one per step. The `[N, width]`
//! buffers hold the steps' rows one after another; [`split_steps`] hands each block its rows
//! of every step as separate mutable slices, so the blocks write disjoint memory without
//! unsafe code.

use super::rnn::RnnSteps;

/// Fewest batch rows a block gets: the small products' tiles are 8 rows tall, and fewer
/// rows per step leave too little work to split.
const MIN_ROWS: usize = 8;
/// Fewest multiply-adds of the hidden products over all steps (`B P G T`) before a pass is
/// split: below it the fork costs more than it saves.
const MIN_WORK: usize = 1 << 20;

/// The batch-row boundaries of the blocks, `[0, .., b]`, for a layer with `b` rows, hidden
/// products of `p x g` per row and `t` steps: one block per pool thread when it pays, the
/// boundaries multiples of [`MIN_ROWS`].
pub fn batch_cuts(b: usize, p: usize, g: usize, t: usize) -> Vec<usize> {
    let threads = rayon::current_num_threads();
    let work = b.saturating_mul(p).saturating_mul(g).saturating_mul(t);
    let blocks = if work >= MIN_WORK { threads.min(b / MIN_ROWS).max(1) } else { 1 };
    cuts_for(b, blocks)
}

/// `blocks` boundaries of about equal size over `b` rows (multiples of [`MIN_ROWS`] where
/// `b` allows), ascending from 0 to `b`.
pub fn cuts_for(b: usize, blocks: usize) -> Vec<usize> {
    let blocks = blocks.clamp(1, b.max(1));
    let per = b.div_ceil(blocks);
    let per = if per >= MIN_ROWS { per.next_multiple_of(MIN_ROWS) } else { per };
    let mut cuts: Vec<usize> = (0..blocks).map(|k| (k * per).min(b)).collect();
    cuts.push(b);
    cuts.dedup();
    cuts
}

/// Rows of block `[c0, c1)` in a step of `r` rows (the first `r` batch rows are active).
pub fn rows_in(r: usize, c0: usize, c1: usize) -> usize {
    r.min(c1).saturating_sub(c0)
}

/// Each step's rows of `buf` (`[N, width]` by steps, or empty when the buffer is unused),
/// cut at the batch rows `cuts`: `[block][step]`, each slice `rows_in(..) * width` long
/// (empty for an empty buffer).
pub fn split_steps<'a, T>(
    buf: &'a mut [T],
    width: usize,
    st: &RnnSteps,
    cuts: &[usize],
) -> Vec<Vec<&'a mut [T]>> {
    let blocks = cuts.len().saturating_sub(1);
    let w = if buf.len() >= st.n * width { width } else { 0 };
    let mut out: Vec<Vec<&'a mut [T]>> = (0..blocks).map(|_| Vec::with_capacity(st.t())).collect();
    let mut rest: &'a mut [T] = buf;
    for &r in &st.rows {
        let (mut step, tail) = rest.split_at_mut((r * w).min(rest.len()));
        rest = tail;
        for (k, blk) in out.iter_mut().enumerate() {
            let len = (rows_in(r, cuts[k], cuts[k + 1]) * w).min(step.len());
            let (mine, others) = step.split_at_mut(len);
            blk.push(mine);
            step = others;
        }
    }
    out
}

/// Rows `c0..c1` of a `[B, width]` state (empty stays empty).
pub fn state_rows<T: Clone>(state: &[T], width: usize, c0: usize, c1: usize) -> Vec<T> {
    if state.is_empty() {
        return Vec::new();
    }
    state[c0 * width..c1 * width].to_vec()
}

#[cfg(test)]
mod tests {
    use super::super::rnn::{
        backward_blocked, forward_blocked, RnnDims, RnnMode, RnnNeeds, RnnSavedRef, RnnWeights,
    };
    use super::*;

    #[test]
    fn cuts_cover_the_batch() {
        assert_eq!(cuts_for(32, 2), vec![0, 16, 32]);
        assert_eq!(cuts_for(20, 2), vec![0, 16, 20]);
        assert_eq!(cuts_for(5, 3), vec![0, 2, 4, 5]);
        assert_eq!(cuts_for(3, 1), vec![0, 3]);
        assert_eq!(cuts_for(0, 2), vec![0]);
    }

    /// A packed layout (steps of 5, 3, 1 rows) split at row 2: each block gets its rows.
    #[test]
    fn steps_split_by_block() {
        let st = RnnSteps::packed(&[5, 3, 1]);
        let mut buf: Vec<u32> = (0..9 * 2).collect();
        let parts = split_steps(&mut buf, 2, &st, &[0, 2, 5]);
        let a: Vec<Vec<u32>> = parts[0].iter().map(|s| s.to_vec()).collect();
        let b: Vec<Vec<u32>> = parts[1].iter().map(|s| s.to_vec()).collect();
        assert_eq!(a, vec![vec![0, 1, 2, 3], vec![10, 11, 12, 13], vec![16, 17]]);
        assert_eq!(b, vec![vec![4, 5, 6, 7, 8, 9], vec![14, 15], vec![]]);
        let mut empty: Vec<u32> = Vec::new();
        let parts = split_steps(&mut empty, 2, &st, &[0, 2, 5]);
        assert!(parts.iter().all(|blk| blk.len() == 3 && blk.iter().all(|s| s.is_empty())));
    }

    /// Every cell (LSTM with and without a projection), both directions, dense and packed
    /// steps: the sweeps split into blocks of batch rows give the unsplit results exactly.
    #[test]
    fn blocks_of_batch_rows_match_one_block() {
        let vals = |len: usize, seed: usize| -> Vec<f64> {
            (0..len).map(|i| (((i * 7919 + seed * 104729) % 1009) as f64) / 1009.0 - 0.5).collect()
        };
        let b = 11;
        for (mode, proj) in [
            (RnnMode::Tanh, false),
            (RnnMode::Relu, false),
            (RnnMode::Gru, false),
            (RnnMode::Lstm, false),
            (RnnMode::Lstm, true),
        ] {
            for reverse in [false, true] {
                for st in [RnnSteps::dense(4, b), RnnSteps::packed(&[11, 9, 6, 2, 1])] {
                    let (i, h) = (3, 5);
                    let p = if proj { 2 } else { h };
                    let d = RnnDims { mode, b, i, h, p, reverse };
                    let g = mode.gates() * h;
                    let (w_ih, w_hh, b_ih, b_hh) = (vals(g * i, 1), vals(g * p, 2), vals(g, 3), vals(g, 4));
                    let w_hr = if proj { vals(p * h, 5) } else { Vec::new() };
                    let w = RnnWeights { w_ih: &w_ih, w_hh: &w_hh, b_ih: &b_ih, b_hh: &b_hh, w_hr: &w_hr };
                    let (x, h0) = (vals(st.n * i, 6), vals(b * p, 7));
                    let c0 = if mode == RnnMode::Lstm { vals(b * h, 8) } else { Vec::new() };
                    let (dy, dh, dc) = (vals(st.n * p, 9), vals(b * p, 10), vals(c0.len(), 11));
                    let needs = RnnNeeds { x: true, b_ih: true, b_hh: true };
                    let run = |cuts: &[usize]| {
                        let f = forward_blocked(&d, &st, &x, &h0, &c0, &w, cuts);
                        let s = RnnSavedRef {
                            x: &x,
                            y: &f.y,
                            gates: &f.gates,
                            extra: &f.extra,
                            hin: &f.hin,
                            cin: &f.cin,
                            hcell: &f.hcell,
                        };
                        let gr = backward_blocked(&d, &st, &s, &w, needs, (&dy, &dh, &dc), cuts);
                        (
                            [f.y.clone(), f.h_last.clone(), f.c_last.clone()],
                            [gr.x, gr.h0, gr.c0, gr.w_ih, gr.w_hh, gr.b_ih, gr.b_hh, gr.w_hr],
                        )
                    };
                    let one = run(&[0, b]);
                    for cuts in [vec![0, 2, 7, b], vec![0, 8, b], vec![0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, b]] {
                        assert_eq!(run(&cuts), one, "{mode:?} proj {proj} reverse {reverse} cuts {cuts:?}");
                    }
                }
            }
        }
    }
}
