//! The dynamic graph: nodes record what backward needs; the engine walks them.

pub mod engine;
mod ops;
mod rules;

pub use ops::{DecompSaved, Op, UnaryGrad};

use crate::error::{Error, Result};
use crate::grad_mode;
use crate::tensor::Tensor;
use parking_lot::Mutex;
use smallvec::SmallVec;
use std::sync::Arc;

/// Where a node sends the gradient of one of its inputs.
#[derive(Clone)]
pub enum Edge {
    /// The input does not require grad.
    None,
    /// A leaf that requires grad: the gradient accumulates into its `.grad`.
    Leaf(Tensor),
    /// Output `usize` of an interior node.
    Node(Arc<Node>, usize),
}

impl Edge {
    #[inline]
    pub fn of(t: &Tensor) -> Edge {
        if !t.requires_grad() {
            return Edge::None;
        }
        let mut m = t.meta();
        if m.view_base.is_some() && m.view_version != t.version() {
            drop(m);
            t.refresh_view_history();
            m = t.meta();
        }
        match &m.grad_fn {
            Some(node) => Edge::Node(node.clone(), m.output_nr),
            None => Edge::Leaf(t.clone()),
        }
    }
}

/// A user-defined backward (autograd.Function in Python), called with one gradient per
/// output (None where no gradient arrived) and returning one per input.
pub trait BackwardFn: Send + Sync {
    fn backward(&self, grads: &[Option<Tensor>]) -> Result<Vec<Option<Tensor>>>;
    /// Drops saved state after a backward without `retain_graph`.
    fn release(&self) {}
    /// The concrete value, so the binding that made it can reach the foreign objects it holds
    /// (Python's garbage collector must see them).
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        None
    }
}

/// A hook on one output's gradient: (output index, handle id, hook).
pub type PreHook = (usize, u64, crate::tensor::GradHook);

pub struct Node {
    name: std::borrow::Cow<'static, str>,
    pub(crate) op: Mutex<Op>,
    pub(crate) edges: SmallVec<[Edge; 2]>,
    /// Each input's dtype: gradients are cast to it before they flow on.
    pub(crate) input_dtypes: SmallVec<[crate::DType; 2]>,
    pub(crate) num_outputs: usize,
    /// Hooks and retained gradients of the tensors this node produced; most nodes have none,
    /// so they live behind one lock and one pointer (a node is made per recorded op).
    pub(crate) hooks: Mutex<Option<Box<NodeHooks>>>,
    /// The size of the graph below this node, summed over its edges when it is made (a node
    /// reached by two paths counts twice, saturating): what [`engine::work_estimate`] reads,
    /// so deciding whether a backward pass is worth releasing the GIL costs no graph walk.
    pub(crate) below: GraphSize,
}

/// Nodes and leaf elements of a graph, as [`Node::below`] counts them.
#[derive(Clone, Copy, Default)]
pub(crate) struct GraphSize {
    pub(crate) nodes: usize,
    pub(crate) leaf_numel: usize,
}

impl GraphSize {
    fn of(edges: &[Edge]) -> GraphSize {
        let mut size = GraphSize { nodes: 1, leaf_numel: 0 };
        for e in edges {
            match e {
                Edge::Leaf(t) => size.leaf_numel = size.leaf_numel.saturating_add(t.numel()),
                Edge::Node(n, _) => {
                    size.nodes = size.nodes.saturating_add(n.below.nodes);
                    size.leaf_numel = size.leaf_numel.saturating_add(n.below.leaf_numel);
                }
                Edge::None => {}
            }
        }
        size
    }
}

#[derive(Default, Clone)]
pub(crate) struct NodeHooks {
    /// Hooks of non-leaf tensors this node produced, run on their gradients before the node.
    pub(crate) pre: Vec<PreHook>,
    /// Non-leaf outputs that asked to keep their gradient (`retain_grad`).
    pub(crate) retained: Vec<(usize, std::sync::Weak<crate::tensor::TensorImpl>)>,
}

impl Node {
    /// This node's hooks, made on first use.
    pub(crate) fn hooks_mut(hooks: &mut Option<Box<NodeHooks>>) -> &mut NodeHooks {
        hooks.get_or_insert_with(Box::default)
    }
}

/// What a node owns that can hold further nodes (through edges, saved tensors, hooks).
struct NodeParts {
    _edges: SmallVec<[Edge; 2]>,
    _op: Op,
    _hooks: Option<Box<NodeHooks>>,
}

/// This thread's node drops in progress: how deeply they nest, and the parts of nodes
/// reached below [`IN_PLACE_DROP_DEPTH`], waiting for the outermost drop.
struct DropState {
    depth: std::cell::Cell<u32>,
    pending: std::cell::RefCell<Vec<NodeParts>>,
}

thread_local! {
    static DROPS: DropState = const {
        DropState { depth: std::cell::Cell::new(0), pending: std::cell::RefCell::new(Vec::new()) }
    };
}

/// How many node drops may nest on the stack before the rest of the cascade goes through the
/// work list (each level costs a few hundred bytes of stack).
const IN_PLACE_DROP_DEPTH: u32 = 16;

/// Dropping a node drops its inputs' nodes, and theirs: done recursively, a chain of 100,000
/// ops overflows the stack. So nested drops recurse only [`IN_PLACE_DROP_DEPTH`] deep; below
/// that a node's parts are moved onto a work list that the outermost drop on the thread
/// drains, so the stack depth stays bounded whatever the graph's depth. The common case (a
/// small graph, or inputs still referenced elsewhere) drops in place: no `Op` is moved and
/// the list is never touched.
impl Drop for Node {
    fn drop(&mut self) {
        // If thread-local storage is being torn down, the fields drop recursively afterwards,
        // as plain Rust would.
        let _ = DROPS.try_with(|s| {
            let depth = s.depth.get();
            if depth >= IN_PLACE_DROP_DEPTH {
                let parts = NodeParts {
                    _edges: std::mem::take(&mut self.edges),
                    _op: std::mem::replace(self.op.get_mut(), Op::Released),
                    _hooks: self.hooks.get_mut().take(),
                };
                s.pending.borrow_mut().push(parts);
                return;
            }
            s.depth.set(depth + 1);
            self.edges.clear();
            *self.op.get_mut() = Op::Released;
            *self.hooks.get_mut() = None;
            if depth == 0 {
                loop {
                    // The borrow ends before the parts drop (which may push more).
                    let next = s.pending.borrow_mut().pop();
                    match next {
                        Some(parts) => drop(parts),
                        None => break,
                    }
                }
                let mut pending = s.pending.borrow_mut();
                if pending.capacity() > 1024 {
                    *pending = Vec::new();
                }
            }
            s.depth.set(depth);
        });
    }
}

impl Node {
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn edges(&self) -> &[Edge] {
        &self.edges
    }

    pub fn num_outputs(&self) -> usize {
        self.num_outputs
    }

    /// Calls `f` with the foreign objects this node holds: its custom backward and the hooks
    /// of its outputs. Skips what another thread has locked (see
    /// [`Tensor::visit_owned_external`]).
    pub fn visit_external(&self, f: &mut dyn FnMut(&dyn std::any::Any)) {
        if let Some(hooks) = self.hooks.try_lock() {
            for (_, _, hook) in hooks.iter().flat_map(|h| h.pre.iter()) {
                if let Some(a) = hook.as_any() {
                    f(a);
                }
            }
        }
        if let Some(op) = self.op.try_lock() {
            if let Op::Custom(b) = &*op {
                if let Some(a) = b.as_any() {
                    f(a);
                }
            }
        }
    }
}

/// A tensor kept for backward, with the storage version it had when saved.
#[derive(Clone)]
pub struct Saved {
    tensor: Tensor,
    version: u64,
    /// Saved outputs are kept without history (no reference cycle through their grad_fn):
    /// the node that produced them and which of its outputs they are, for the error message.
    producer: Option<(std::borrow::Cow<'static, str>, usize)>,
}

impl Saved {
    pub fn input(t: &Tensor) -> Saved {
        Saved { tensor: t.clone(), version: t.version(), producer: None }
    }

    pub fn output(t: &Tensor, producer: &'static str) -> Saved {
        Saved {
            tensor: t.detach(),
            version: t.version(),
            producer: Some((std::borrow::Cow::Borrowed(producer), 0)),
        }
    }

    /// The saved tensor, or PyTorch's error if it was modified in place since.
    pub fn get(&self) -> Result<&Tensor> {
        let now = self.tensor.version();
        if now != self.version {
            // PyTorch names the node (`ExpBackward0`); a history taken over by an in-place op
            // is named by the op (`Add`).
            let origin = match (&self.producer, self.tensor.grad_fn()) {
                (Some((p, nr)), _) => format!(", which is output {nr} of {p},"),
                (None, Some(n)) => {
                    let m = self.tensor.meta();
                    let name = if m.inplace_history {
                        n.name().trim_end_matches(|c: char| c.is_ascii_digit()).trim_end_matches("Backward")
                    } else {
                        n.name()
                    };
                    format!(", which is output {} of {},", m.output_nr, name)
                }
                (None, None) => String::new(),
            };
            return Err(Error::Runtime(format!(
                "one of the variables needed for gradient computation has been modified by an inplace operation: {}{} is at version {}; expected version {} instead. Hint: enable anomaly detection to find the operation that failed to compute its gradient, with torch.autograd.set_detect_anomaly(True, check_nan=False).",
                self.tensor.type_description(),
                origin,
                now,
                self.version
            )));
        }
        Ok(&self.tensor)
    }
}

/// A tensor an `autograd.Function` saved with `ctx.save_for_backward`: inputs as they are,
/// outputs without their history (no reference cycle through the node that holds the ctx, as
/// PyTorch's `SavedVariable` does for outputs); [`SavedCustom::unpack`] puts the history back.
pub struct SavedCustom {
    saved: Saved,
    history: Option<(std::sync::Weak<Node>, usize)>,
}

impl SavedCustom {
    /// Saves `t` for the node that produced `outputs` (call it after recording the node).
    pub fn new(t: &Tensor, outputs: &[Tensor]) -> SavedCustom {
        let history = if outputs.iter().any(|o| o.same(t)) {
            let m = t.meta();
            m.grad_fn.as_ref().map(|n| (Arc::downgrade(n), m.output_nr))
        } else {
            None
        };
        match history {
            Some((node, nr)) => {
                // PyTorch names a saved output by its Function: `VBackward` -> `V`.
                let name = node.upgrade().map(|n| n.name().trim_end_matches("Backward").to_string());
                let saved = Saved {
                    tensor: t.detach(),
                    version: t.version(),
                    producer: name.map(|n| (std::borrow::Cow::Owned(n), nr)),
                };
                SavedCustom { saved, history: Some((node, nr)) }
            }
            None => SavedCustom { saved: Saved::input(t), history: None },
        }
    }

    /// Whether the tensor was saved as an output of its node (kept without history).
    pub fn is_output(&self) -> bool {
        self.history.is_some()
    }

    /// The saved tensor (with its history for an output), or PyTorch's error if it was
    /// modified in place since it was saved.
    pub fn unpack(&self) -> Result<Tensor> {
        let t = self.saved.get()?;
        let Some((node, nr)) = &self.history else {
            return Ok(t.clone());
        };
        let out = t.detach();
        if let Some(node) = node.upgrade() {
            out.set_grad_fn(node, *nr);
        }
        Ok(out)
    }
}

/// Whether an op over these inputs must be recorded.
#[inline]
pub fn needs_grad(inputs: &[&Tensor]) -> bool {
    inputs.iter().any(|t| t.requires_grad()) && grad_mode::is_enabled()
}

/// Records `op` as the grad_fn of `outputs` with an edge per input.
pub fn record(name: &'static str, op: Op, inputs: &[&Tensor], outputs: &[&Tensor]) {
    let mut edges = SmallVec::with_capacity(inputs.len());
    for t in inputs {
        edges.push((Edge::of(t), t.dtype()));
    }
    record_edges(name, op, edges, outputs)
}

/// Records `op` with explicit edges (an `Edge::None` stands for a wrapped Python number, as
/// PyTorch shows it in `next_functions`).
pub fn record_edges(
    name: &'static str,
    op: Op,
    edges: SmallVec<[(Edge, crate::DType); 2]>,
    outputs: &[&Tensor],
) {
    attach(std::borrow::Cow::Borrowed(name), op, edges, outputs)
}

/// Records a user-defined backward (`autograd.Function`) named `name`.
pub fn record_custom(name: String, f: Box<dyn BackwardFn>, inputs: &[&Tensor], outputs: &[&Tensor]) {
    let edges = inputs.iter().map(|t| (Edge::of(t), t.dtype())).collect();
    attach(std::borrow::Cow::Owned(name), Op::Custom(f), edges, outputs)
}

fn attach(
    name: std::borrow::Cow<'static, str>,
    op: Op,
    edges: SmallVec<[(Edge, crate::DType); 2]>,
    outputs: &[&Tensor],
) {
    // Split by pushes rather than two collects (the iterator adapters cost more than the
    // node's allocation for a two-input op).
    let mut input_dtypes = SmallVec::with_capacity(edges.len());
    let mut node_edges = SmallVec::with_capacity(edges.len());
    for (e, d) in edges {
        node_edges.push(e);
        input_dtypes.push(d);
    }
    let below = GraphSize::of(&node_edges);
    let node = Arc::new(Node {
        name,
        op: Mutex::new(op),
        input_dtypes,
        below,
        edges: node_edges,
        num_outputs: outputs.len(),
        hooks: Mutex::new(None),
    });
    for (i, out) in outputs.iter().enumerate() {
        out.set_grad_fn(node.clone(), i);
    }
}

/// Records a single-output op and returns the output, for the common case.
#[inline]
pub fn recorded(out: Tensor, name: &'static str, inputs: &[&Tensor], op: impl FnOnce() -> Op) -> Tensor {
    if needs_grad(inputs) {
        record(name, op(), inputs, &[&out]);
    }
    out
}
