//! The backward pass: count dependencies from the roots, run each node once all gradients for
//! its outputs have arrived, accumulate into leaves (or capture for `autograd.grad`).

use super::rules::{backward as run_rule, Grads};
use super::{Edge, Node, NodeHooks, Op};
use crate::bail;
use crate::error::{Error, Result};
use crate::grad_mode::GradModeGuard;
use crate::tensor::Tensor;
use rustc_hash::FxHashMap;
use smallvec::{smallvec, SmallVec};
use std::sync::Arc;

const FREED: &str = "Trying to backward through the graph a second time (or directly access saved tensors after they have already been freed). Saved intermediate values of the graph are freed when you call .backward() or autograd.grad(). Specify retain_graph=True if you need to backward through the graph a second time or if you need to access saved tensors after calling backward.";

struct Task {
    node: Arc<Node>,
    deps: usize,
    grads: SmallVec<[Option<Tensor>; 1]>,
}

/// Adds `g` into a gradient slot.
fn add_into(slot: &mut Option<Tensor>, g: Tensor) -> Result<()> {
    *slot = Some(match slot.take() {
        None => g,
        Some(prev) => prev.add(&g)?,
    });
    Ok(())
}

/// A gradient the leaf can own: fresh contiguous memory nobody else holds.
fn owned(g: Tensor) -> Result<Tensor> {
    let l = g.layout();
    let plain = l.offset == 0 && g.is_contiguous() && g.storage().len() == g.numel();
    if plain && g.is_unique() && g.grad_fn().is_none() {
        Ok(g)
    } else {
        g.cast_kernel(g.dtype())
    }
}

/// Runs the leaf's hooks, then adds `g` into its `.grad`.
fn accumulate(leaf: &Tensor, mut g: Tensor, create_graph: bool) -> Result<()> {
    let old = {
        let mut m = leaf.meta();
        if m.hooks.is_empty() {
            m.grad.take()
        } else {
            // Hooks run without the lock (they may read `.grad`, which still holds the old value).
            let hooks: Vec<_> = m.hooks.iter().map(|(_, h)| h.clone()).collect();
            drop(m);
            for hook in hooks {
                if let Some(replaced) = hook.call(&g)? {
                    g = replaced;
                }
            }
            leaf.meta().grad.take()
        }
    };
    let new = match old {
        // As PyTorch (`clone_obey_contract`): a recorded copy, never a view or someone's tensor.
        None if create_graph => g.clone_tensor()?,
        None => owned(g)?,
        Some(old) if create_graph => old.add(&g)?,
        Some(old) => {
            old.accumulate_(&g)?;
            old
        }
    };
    leaf.meta().grad = Some(new);
    Ok(())
}

/// Where gradients end up: accumulated into leaves' `.grad`, or captured for given inputs.
pub enum Target<'a> {
    Accumulate,
    Capture(&'a [Tensor]),
    /// As `Capture`, and the walk stops at these inputs: the gradient of a subgraph built on
    /// top of them (a rule that recomputes its op as tensor ops, ops/rnn.rs), leaving the
    /// graph below them to the outer backward.
    Local(&'a [Tensor]),
}

impl Target<'_> {
    fn inputs(&self) -> Option<&[Tensor]> {
        match self {
            Target::Accumulate => None,
            Target::Capture(i) | Target::Local(i) => Some(i),
        }
    }
}

fn capture_slot(inputs: &[Tensor], edge: &Edge) -> Option<usize> {
    inputs.iter().position(|t| match (edge, Edge::of(t)) {
        (Edge::Leaf(a), Edge::Leaf(b)) => a.same(&b),
        (Edge::Node(a, i), Edge::Node(b, j)) => Arc::ptr_eq(a, &b) && *i == j,
        _ => false,
    })
}

/// Runs backward from `roots` seeded with `root_grads`.
pub fn run(
    roots: &[Tensor],
    root_grads: Vec<Tensor>,
    retain_graph: bool,
    create_graph: bool,
    target: Target,
) -> Result<Vec<Option<Tensor>>> {
    let _mode = GradModeGuard::new(create_graph);
    let _no_autocast = crate::autocast::Suspend::new();
    let mut captured: Vec<Option<Tensor>> = vec![None; target.inputs().map_or(0, <[Tensor]>::len)];
    let stop_at = match &target {
        Target::Local(inputs) => Some(*inputs),
        _ => None,
    };
    // Discover the graph and count, for every node, the edges that point at it.
    let mut tasks: FxHashMap<*const Node, Task> = FxHashMap::default();
    let mut stack: Vec<Arc<Node>> = Vec::new();
    let root_edges: Vec<Edge> = roots.iter().map(Edge::of).collect();
    for e in &root_edges {
        if let Edge::Node(n, _) = e {
            if let std::collections::hash_map::Entry::Vacant(v) = tasks.entry(Arc::as_ptr(n)) {
                v.insert(new_task(n));
                stack.push(n.clone());
            }
        }
    }
    while let Some(node) = stack.pop() {
        for e in node.edges.iter() {
            if stop_at.is_some_and(|inputs| capture_slot(inputs, e).is_some()) {
                continue;
            }
            if let Edge::Node(child, _) = e {
                let key = Arc::as_ptr(child);
                match tasks.get_mut(&key) {
                    Some(t) => t.deps += 1,
                    None => {
                        let mut t = new_task(child);
                        t.deps = 1;
                        tasks.insert(key, t);
                        stack.push(child.clone());
                    }
                }
            }
        }
    }
    let mut ready: Vec<*const Node> = Vec::new();
    for (edge, g) in root_edges.iter().zip(root_grads) {
        deliver(edge, g, &mut tasks, &mut ready, &target, &mut captured, create_graph, false)?;
    }
    for e in &root_edges {
        if let Edge::Node(n, _) = e {
            let key = Arc::as_ptr(n);
            if tasks[&key].deps == 0 && !ready.contains(&key) {
                ready.push(key);
            }
        }
    }
    while let Some(key) = ready.pop() {
        let task = tasks.get_mut(&key).expect("ready node is known");
        let node = task.node.clone();
        let mut grads = std::mem::take(&mut task.grads);
        apply_pre_hooks(&node, &mut grads)?;
        let input_grads = run_node(&node, &grads, retain_graph, create_graph)?;
        if crate::grad_mode::anomaly_enabled() {
            check_nan(&node, &input_grads)?;
        }
        for (i, edge) in node.edges.iter().enumerate() {
            let g = match input_grads.get(i).cloned().flatten() {
                Some(g) if g.dtype() != node.input_dtypes[i] => Some(g.to_dtype(node.input_dtypes[i])?),
                g => g,
            };
            match g {
                Some(g) => {
                    deliver(edge, g, &mut tasks, &mut ready, &target, &mut captured, create_graph, true)?
                }
                None if stop_at.is_some_and(|inputs| capture_slot(inputs, edge).is_some()) => {}
                None => release_dep(edge, &mut tasks, &mut ready),
            }
        }
    }
    Ok(captured)
}

/// Runs the hooks of the node's non-leaf outputs on their gradients, then stores the
/// gradients of outputs that retain them.
fn apply_pre_hooks(node: &Node, grads: &mut [Option<Tensor>]) -> Result<()> {
    let Some(NodeHooks { pre, retained }) = node.hooks.lock().as_deref().cloned() else {
        return Ok(());
    };
    for (nr, _, hook) in pre {
        if let Some(g) = grads.get(nr).cloned().flatten() {
            if let Some(new) = hook.call(&g)? {
                grads[nr] = Some(new);
            }
        }
    }
    for (nr, weak) in retained {
        let (Some(t), Some(g)) = (weak.upgrade(), grads.get(nr).cloned().flatten()) else {
            continue;
        };
        let t = Tensor(t);
        let old = t.meta().grad.take();
        let new = match old {
            None => g.detach().cast_kernel(g.dtype())?,
            Some(old) => old.add(&g.detach())?,
        };
        t.meta().grad = Some(new);
    }
    Ok(())
}

/// Anomaly mode: a NaN gradient names the backward function that produced it.
fn check_nan(node: &Node, grads: &[Option<Tensor>]) -> Result<()> {
    for (i, g) in grads.iter().enumerate() {
        let Some(g) = g else { continue };
        if g.dtype().is_float() && g.try_to_vec::<f64>()?.iter().any(|v| v.is_nan()) {
            return Err(Error::Runtime(format!(
                "Function '{}' returned nan values in its {}th output.",
                node.name(),
                i
            )));
        }
    }
    Ok(())
}

fn new_task(n: &Arc<Node>) -> Task {
    Task { node: n.clone(), deps: 0, grads: smallvec![None; n.num_outputs] }
}

fn release_dep(edge: &Edge, tasks: &mut FxHashMap<*const Node, Task>, ready: &mut Vec<*const Node>) {
    if let Edge::Node(n, _) = edge {
        let key = Arc::as_ptr(n);
        if let Some(t) = tasks.get_mut(&key) {
            t.deps -= 1;
            if t.deps == 0 {
                ready.push(key);
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn deliver(
    edge: &Edge,
    g: Tensor,
    tasks: &mut FxHashMap<*const Node, Task>,
    ready: &mut Vec<*const Node>,
    target: &Target,
    captured: &mut [Option<Tensor>],
    create_graph: bool,
    counts_dep: bool,
) -> Result<()> {
    if let Some(inputs) = target.inputs() {
        if let Some(slot) = capture_slot(inputs, edge) {
            add_into(&mut captured[slot], g.clone())?;
            if matches!(target, Target::Local(_)) {
                return Ok(());
            }
        }
    }
    match edge {
        Edge::None => {}
        Edge::Leaf(t) => {
            if matches!(target, Target::Accumulate) {
                let g = if g.dtype() != t.dtype() { g.to_dtype(t.dtype())? } else { g };
                accumulate(t, g, create_graph)?;
            }
        }
        Edge::Node(n, nr) => {
            let key = Arc::as_ptr(n);
            let t = tasks.get_mut(&key).expect("edge target was discovered");
            add_into(&mut t.grads[*nr], g)?;
            if counts_dep {
                t.deps -= 1;
                if t.deps == 0 {
                    ready.push(key);
                }
            }
        }
    }
    Ok(())
}

fn run_node(node: &Node, grads: &[Option<Tensor>], retain_graph: bool, create_graph: bool) -> Result<Grads> {
    let needs: SmallVec<[bool; 2]> = node.edges.iter().map(|e| !matches!(e, Edge::None)).collect();
    let mut op = node.op.lock();
    if matches!(*op, Op::Released) {
        return Err(Error::Runtime(FREED.into()));
    }
    let out = run_rule(&op, grads, &needs, create_graph)?;
    if !retain_graph && op.holds_saved() {
        if let Op::Custom(f) = &*op {
            f.release();
        }
        *op = Op::Released;
    }
    Ok(out)
}

impl Tensor {
    /// `tensor.backward(gradient=None, retain_graph=None, create_graph=False)`.
    pub fn backward(
        &self,
        gradient: Option<Tensor>,
        retain_graph: Option<bool>,
        create_graph: bool,
    ) -> Result<()> {
        let g = root_grad(self, gradient, 0)?;
        run(
            std::slice::from_ref(self),
            vec![g],
            retain_graph.unwrap_or(create_graph),
            create_graph,
            Target::Accumulate,
        )?;
        Ok(())
    }
}

/// A rough measure of a backward pass's work, for deciding whether it is worth releasing a
/// language runtime's lock around it: the elements of the roots and of the leaves the graph
/// reaches, with a graph of more than `max_nodes` nodes reported as `usize::MAX` (its work is
/// not small). Each node keeps these counts for the graph below it ([`Node::below`]), so
/// this reads two numbers per root. Intermediate results broadcast bigger than any leaf are
/// not seen; such a graph just keeps the lock, which costs other threads time but is still
/// correct.
pub fn work_estimate(roots: &[Tensor], max_nodes: usize) -> usize {
    let mut work: usize = 0;
    let mut nodes: usize = 0;
    for r in roots {
        work = work.saturating_add(r.numel());
        if let Some(n) = r.meta().grad_fn.as_ref() {
            nodes = nodes.saturating_add(n.below.nodes);
            work = work.saturating_add(n.below.leaf_numel);
        }
    }
    if nodes > max_nodes {
        usize::MAX
    } else {
        work
    }
}

/// `backward(inputs=...)`: the gradients of `roots` accumulate into the `.grad` of `inputs`
/// only (leaves run their hooks as usual; a non-leaf input keeps its gradient as if it had
/// called `retain_grad`). Inputs the roots do not depend on keep their `.grad`.
pub fn backward_into(
    roots: &[Tensor],
    root_grads: Vec<Tensor>,
    inputs: &[Tensor],
    retain_graph: bool,
    create_graph: bool,
) -> Result<()> {
    if inputs.is_empty() {
        bail!(Runtime, "`inputs` argument to `backward()` cannot be empty.");
    }
    if inputs.iter().any(|t| !t.requires_grad()) {
        bail!(Runtime, "can't retain_grad on Tensor that has requires_grad=False");
    }
    let grads = run(roots, root_grads, retain_graph, create_graph, Target::Capture(inputs))?;
    for (t, g) in inputs.iter().zip(grads) {
        if let Some(g) = g {
            let g = if g.dtype() != t.dtype() { g.to_dtype(t.dtype())? } else { g };
            let _mode = GradModeGuard::new(create_graph);
            accumulate(t, if create_graph { g } else { g.detach() }, create_graph)?;
        }
    }
    Ok(())
}

/// The seed gradient for root `i`, with PyTorch's checks.
pub fn root_grad(root: &Tensor, gradient: Option<Tensor>, i: usize) -> Result<Tensor> {
    if !root.requires_grad() {
        bail!(Runtime, "element {} of tensors does not require grad and does not have a grad_fn", i);
    }
    match gradient {
        None => {
            if root.numel() != 1 {
                bail!(Runtime, "grad can be implicitly created only for scalar outputs");
            }
            Tensor::full_on(root.shape(), crate::Scalar::Int(1), root.dtype(), root.device())
        }
        Some(g) => {
            if g.shape() != root.shape() {
                bail!(
                    Runtime,
                    "Mismatch in shape: grad_output[{}] has a shape of torch.Size({}) and output[{}] has a shape of torch.Size({}).",
                    i,
                    crate::shape::fmt_shape(g.shape()),
                    i,
                    crate::shape::fmt_shape(root.shape())
                );
            }
            Ok(g)
        }
    }
}
