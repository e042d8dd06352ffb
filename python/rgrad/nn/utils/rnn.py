"""``nn.utils.rnn``: packed sequences (``PackedSequence``, ``pack_padded_sequence``,
``pad_packed_sequence``, ``pack_sequence``, ``unpack_sequence``) and padding
(``pad_sequence``, ``unpad_sequence``), as PyTorch's.

A packed batch stores, step by step, the rows of the sequences still running at that step
(sorted by decreasing length), so ``batch_sizes`` is non-increasing. Packing and padding are
slices and concatenations of tensors, so gradients flow through them."""

from collections import namedtuple

import rgrad
from rgrad import Tensor

__all__ = [
    "PackedSequence",
    "invert_permutation",
    "pack_padded_sequence",
    "pack_sequence",
    "pad_packed_sequence",
    "pad_sequence",
    "unpack_sequence",
    "unpad_sequence",
]

_PackedSequenceBase = namedtuple(
    "PackedSequence", ["data", "batch_sizes", "sorted_indices", "unsorted_indices"]
)


def invert_permutation(permutation):
    """The permutation that undoes ``permutation`` (None stays None)."""
    if permutation is None:
        return None
    return rgrad.argsort(permutation)


class PackedSequence(_PackedSequenceBase):
    """Data and ``batch_sizes`` of a packed batch of sequences (made by
    ``pack_padded_sequence`` or ``pack_sequence``, not by hand)."""

    def __new__(cls, data, batch_sizes=None, sorted_indices=None, unsorted_indices=None):
        if unsorted_indices is None:
            unsorted_indices = invert_permutation(sorted_indices)
        if batch_sizes is None:
            data, batch_sizes = data
        elif batch_sizes.device.type != "cpu":
            raise ValueError(
                "batch_sizes should always be on CPU. Instances of PackedSequence should never "
                "be created manually. They should be instantiated by functions like "
                "pack_sequence and pack_padded_sequences in nn.utils.rnn. "
                "https://pytorch.org/docs/stable/nn.html#torch.nn.utils.rnn.pack_sequence"
            )
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def to(self, *args, **kwargs):
        data = self.data.to(*args, **kwargs)
        if data is self.data:
            return self
        dev = data.device
        move = lambda t: None if t is None else t.to(dev)  # noqa: E731
        return type(self)(
            data, self.batch_sizes, move(self.sorted_indices), move(self.unsorted_indices)
        )

    def cpu(self):
        return self.to("cpu")

    def double(self):
        return self.to(dtype=rgrad.float64)

    def float(self):
        return self.to(dtype=rgrad.float32)

    def long(self):
        return self.to(dtype=rgrad.int64)

    @property
    def is_cuda(self):
        return self.data.is_cuda

    def is_pinned(self):
        return False


def _lengths_list(lengths):
    if isinstance(lengths, Tensor):
        if lengths.dim() != 1 or lengths.device.type != "cpu":
            kind = {rgrad.int64: "Long", rgrad.int32: "Int"}.get(lengths.dtype, "Float")
            raise RuntimeError(
                "'lengths' argument should be a 1D CPU int64 tensor, but got "
                f"{lengths.dim()}D {lengths.device.type} {kind} tensor"
            )
        return [int(v) for v in lengths.tolist()]
    return [int(v) for v in lengths]


def pack_padded_sequence(input, lengths, batch_first=False, enforce_sorted=True):
    """Packs a padded (T, B, *) batch (``batch_first``: (B, T, *)) of sequences of the given
    ``lengths``. Unless ``enforce_sorted``, the batch is sorted by length first and the
    permutation kept in the result."""
    n = _lengths_list(lengths)
    sorted_indices = None
    if not enforce_sorted:
        order = sorted(range(len(n)), key=lambda i: -n[i])
        n = [n[i] for i in order]
        sorted_indices = rgrad.tensor(order, dtype=rgrad.int64, device=input.device)
        input = input.index_select(0 if batch_first else 1, sorted_indices)
    if batch_first:
        input = input.transpose(0, 1)
    steps, batch = input.size(0), input.size(1)
    if len(n) != batch:
        raise RuntimeError(
            f"Expected `len(lengths)` to be equal to batch_size, but got {len(n)} "
            f"(batch_size={batch})"
        )
    if batch and n[-1] <= 0:
        raise RuntimeError(
            "Length of all samples has to be greater than 0, but found an element in "
            "'lengths' that is <= 0"
        )
    if any(a < b for a, b in zip(n, n[1:])):
        raise RuntimeError(
            "`lengths` array must be sorted in decreasing order when `enforce_sorted` is True. "
            "You can pass `enforce_sorted=False` to pack_padded_sequence and/or pack_sequence "
            "to sidestep this requirement if you do not need ONNX exportability."
        )
    if batch and n[0] > steps:
        raise RuntimeError(
            f"Expected every length to be at most the sequence length {steps}, but got {n[0]}"
        )
    batch_sizes = [sum(1 for v in n if v > t) for t in range(n[0] if batch else 0)]
    data = rgrad.cat([input[t, :bs] for t, bs in enumerate(batch_sizes)], 0)
    return PackedSequence(data, rgrad.tensor(batch_sizes, dtype=rgrad.int64), sorted_indices)


def pad_packed_sequence(sequence, batch_first=False, padding_value=0.0, total_length=None):
    """Undoes ``pack_padded_sequence``: returns the padded batch and the lengths (in the
    original batch order)."""
    data, batch_sizes, _, unsorted_indices = sequence
    sizes = [int(b) for b in batch_sizes.tolist()]
    max_seq_length = len(sizes)
    if total_length is not None:
        if total_length < max_seq_length:
            raise ValueError(
                "Expected total_length to be at least the length of the longest sequence in "
                f"input, but got total_length={total_length} and max sequence length being "
                f"{max_seq_length}"
            )
        max_seq_length = total_length
    batch = sizes[0] if sizes else 0
    tail = tuple(data.shape[1:])
    kw = {"dtype": data.dtype, "device": data.device}
    rows, offset = [], 0
    for bs in sizes:
        step = data[offset : offset + bs]
        offset += bs
        if bs < batch:
            step = rgrad.cat([step, rgrad.full((batch - bs, *tail), padding_value, **kw)], 0)
        rows.append(step)
    if max_seq_length > len(sizes):
        pad = rgrad.full((max_seq_length - len(sizes), batch, *tail), padding_value, **kw)
        padded = rgrad.cat([rgrad.stack(rows, 0), pad], 0) if rows else pad
    else:
        padded = rgrad.stack(rows, 0)
    lengths = rgrad.tensor([sum(1 for s in sizes if s > b) for b in range(batch)])
    if batch_first:
        padded = padded.transpose(0, 1)
    if unsorted_indices is not None:
        padded = padded.index_select(0 if batch_first else 1, unsorted_indices)
        lengths = lengths[unsorted_indices.cpu()]
    return padded, lengths


def pad_sequence(sequences, batch_first=False, padding_value=0.0, padding_side="right"):
    """Stacks sequences of different lengths (L_i, *) into (L_max, B, *) (``batch_first``:
    (B, L_max, *)), padding each on ``padding_side`` with ``padding_value``."""
    if padding_side not in ("left", "right"):
        raise RuntimeError(
            f"Expected padding_side to be one of left or right, but got {padding_side}."
        )
    if isinstance(sequences, Tensor):
        sequences = sequences.unbind(0)
    sequences = list(sequences)
    if not sequences:
        raise RuntimeError("received an empty list of sequences")
    longest = max(s.size(0) for s in sequences)
    out = []
    for s in sequences:
        short = longest - s.size(0)
        if short:
            pad = rgrad.full((short, *s.shape[1:]), padding_value, dtype=s.dtype, device=s.device)
            s = rgrad.cat([s, pad] if padding_side == "right" else [pad, s], 0)
        out.append(s)
    return rgrad.stack(out, 0 if batch_first else 1)


def unpad_sequence(padded_sequences, lengths, batch_first=False):
    """Splits a padded batch back into its sequences of the given lengths."""
    if not batch_first:
        padded_sequences = padded_sequences.transpose(0, 1)
    return [seq[: int(n)] for seq, n in zip(padded_sequences, lengths)]


def pack_sequence(sequences, enforce_sorted=True):
    """Packs a list of sequences (L_i, *), longest first unless not ``enforce_sorted``."""
    lengths = rgrad.tensor([v.size(0) for v in sequences], dtype=rgrad.int64)
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences):
    """Undoes ``pack_sequence``: the list of sequences in their original order."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
