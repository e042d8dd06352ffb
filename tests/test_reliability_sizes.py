"""Hostile sizes, memory limits, deep graphs and known panic inputs (issue 11, items 1-3, 5).

Each test reproduces a class of defect that crashed, corrupted memory or panicked: sizes whose
element or byte count overflows, allocations past a memory limit, graphs deeper than the stack,
and integer/scatter/thread-count inputs that reached a Rust panic. The expected results and
messages are PyTorch's.
"""

import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

import rgrad as T

BIG = 2**62 + 1
OVERFLOW = "Storage size calculation overflowed with sizes="


@pytest.mark.parametrize(
    "make",
    [
        lambda: T.zeros(BIG, 4),
        lambda: T.zeros(BIG, 4, dtype=T.int64),
        lambda: T.ones(BIG, 4),
        lambda: T.empty(2**62),
        lambda: T.empty(2**61),  # 2**63 bytes: the element count fits, the byte size does not
        lambda: T.full((2**62, 2), 1.0),
        lambda: T.rand(2**62, 4),
        lambda: T.randn(2**62, 4),
        lambda: T.randint(0, 5, (2**62, 4)),
        lambda: T.zeros(2**32, 2**32),
        lambda: T.eye(2**32, 2**32),
        lambda: T.linspace(0, 1, 2**62),
        lambda: T.arange(0, 2**62),
        lambda: T.ones(2).new_zeros(2**62, 4),
        lambda: T.ones(2).new_ones(BIG, 4),
        lambda: T.ones(2).new_full((BIG, 4), 2.0),
        lambda: T.ones(2).new_empty(BIG, 4),
        lambda: T.ones(3).repeat(2**62, 4),
        lambda: T.ones(2).tile((2**62, 4)),
        lambda: T.nn.LayerNorm(BIG),
        lambda: T.nn.Linear(2**32, 2**32),
    ],
)
def test_overflowing_sizes_raise_pytorchs_error(make):
    with pytest.raises(RuntimeError, match="overflow"):
        make()


def test_overflow_message_names_the_sizes():
    with pytest.raises(RuntimeError) as e:
        T.zeros(BIG, 4)
    assert str(e.value) == OVERFLOW + "[4611686018427387905, 4]"


@pytest.mark.parametrize(
    "view",
    [
        lambda: T.ones(3).expand(2**62, 2**62, 3),
        lambda: T.ones(1).expand(2**62, 4),
        lambda: T.ones(2, 1).broadcast_to((2**62, 2**62)),
        lambda: T.ones(1).reshape(2**62, 4),
        lambda: T.ones(1).view(2**62, 2**62, 0),
        lambda: T.nn.Unflatten(0, (2**62, 4))(T.ones(4)),
    ],
)
def test_views_with_overflowing_sizes_raise(view):
    with pytest.raises(RuntimeError):
        view()


def test_huge_views_that_fit_still_work_and_copies_of_them_are_checked():
    # A stride-0 view of 2**62 elements is valid (it reads one element), as in PyTorch.
    v = T.ones(1).expand(2**62)
    assert v.shape == (2**62,) and v.numel() == 2**62
    assert float(v[2**62 - 1]) == 1.0
    assert v.reshape(2**61, 2).shape == (2**61, 2)
    # Copying it would need 2**64 bytes.
    with pytest.raises(RuntimeError, match="overflow"):
        v.contiguous()
    with pytest.raises(RuntimeError, match="overflow"):
        v + 1


def test_no_tensor_reads_or_writes_outside_its_storage():
    # These used to read heap memory, corrupt the heap and segfault.
    with pytest.raises(RuntimeError, match="overflow"):
        T.zeros(BIG, 4, dtype=T.int64)[1:40].tolist()
    with pytest.raises(RuntimeError, match="overflow"):
        a = T.zeros(BIG, 4)[1:20000].numpy()
        a[:] = 1.5
    with pytest.raises(RuntimeError, match="overflow"):
        T.zeros(2**32, 2**32)[5, 7]


def test_numpy_and_dlpack_exports_cover_exactly_the_tensor():
    x = T.arange(12, dtype=T.float32).reshape(3, 4)[1:, ::2]
    a = x.numpy()
    assert a.tolist() == [[4.0, 6.0], [8.0, 10.0]]
    a[:] = -1.0  # writes through to exactly the viewed elements
    assert T.arange(12).reshape(3, 4).tolist() != x.tolist()
    b = np.from_dlpack(x)
    assert b.shape == (2, 2) and b.tolist() == [[-1.0, -1.0], [-1.0, -1.0]]


def _run_limited(code, limit=8 * 2**30):
    """Runs `code` in a fresh interpreter whose address space is limited to `limit` bytes."""
    prog = textwrap.dedent(
        f"""
        import resource
        resource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit}))
        import rgrad as T
        """
    ) + textwrap.dedent(code)
    return subprocess.run([sys.executable, "-c", prog], capture_output=True, text=True, timeout=120)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_AS is enforced on Linux")
def test_allocations_past_a_memory_limit_raise_and_the_interpreter_lives_on():
    r = _run_limited(
        """
        msgs = []
        for make in (
            lambda: T.zeros(2**33),
            lambda: T.ones(2**33),
            lambda: T.empty(2**31, 4),
            lambda: T.rand(2**33),
            lambda: T.ones(1).expand(2**33).contiguous(),
            lambda: T.ones(1).expand(2**33) * 2,
            lambda: T.ones(1, 2**17).repeat(2**16, 1),
            lambda: T.ones(2**17, 1) @ T.ones(1, 2**17),
            lambda: T.cat([T.ones(1).expand(2**32), T.ones(1).expand(2**32)]),
            lambda: T.arange(2**33),
            # plan buffers of interpolate are allocated fallibly too (an index of 2**31 taps)
            lambda: T.nn.functional.interpolate(T.ones(4, 2, 3), size=2**31 - 1),
            # a huge num_layers fails at the allocation, not after a loop of 2**31 layers
            lambda: T.nn.LSTM(5, 5, 2**31),
        ):
            try:
                make()
                msgs.append("no error")
            except RuntimeError as e:
                msgs.append(str(e))
        print("\\n".join(msgs))
        print("alive", float(T.ones(3).sum()))
        """
    )
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert lines[-1] == "alive 3.0"
    assert lines[0] == (
        "DefaultCPUAllocator: can't allocate memory: you tried to allocate 34359738368 bytes. "
        "Error code 12 (Cannot allocate memory)"
    )
    for line in lines[:-1]:
        assert line.startswith("DefaultCPUAllocator: can't allocate memory"), lines


def test_an_allocation_past_ram_and_swap_raises_without_a_memory_limit():
    # mimalloc reserves huge blocks without committing them: without the core's own bound a
    # 16 TiB tensor would be handed out and the process killed when its pages are touched.
    r = subprocess.run(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                """
                import rgrad as T
                for make in (
                    lambda: T.empty(2**41, dtype=T.int64),
                    lambda: T.zeros(2**42),
                    lambda: T.arange(2**41),
                    lambda: T.repeat_interleave(T.ones(2), T.tensor([2**40, 2**40])),
                ):
                    try:
                        make()
                        print("no error")
                    except RuntimeError as e:
                        print(str(e))
                print("alive", float(T.ones(3).sum()))
                """
            ),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert lines[-1] == "alive 3.0"
    assert lines[0] == (
        "DefaultCPUAllocator: can't allocate memory: you tried to allocate 17592186044416 bytes. "
        "Error code 12 (Cannot allocate memory)"
    )
    for line in lines[:-1]:
        assert line.startswith("DefaultCPUAllocator: can't allocate memory"), lines


def _deep_chain_dropped(n):
    x = T.ones(2, requires_grad=True)
    y = x
    for _ in range(n):
        y = y + 0.0
    del y
    z = x
    for _ in range(n // 4):
        z = z * z  # saves its inputs: nodes reach each other through saved tensors too
    del z


def test_dropping_a_deep_graph_does_not_overflow_the_stack():
    _deep_chain_dropped(100_000)


def test_dropping_a_deep_graph_in_a_thread_with_a_small_stack():
    errors = []

    def work():
        try:
            _deep_chain_dropped(200_000)
            x = T.ones(2, requires_grad=True)
            y = x
            for _ in range(50_000):
                y = y * 1.0
            y.sum().backward()
            errors.append(x.grad.tolist())
        except BaseException as e:  # noqa: BLE001 - report anything, the test checks
            errors.append(e)

    old = threading.stack_size(512 * 1024)
    try:
        t = threading.Thread(target=work)
        t.start()
        t.join()
    finally:
        threading.stack_size(old)
    assert errors == [[1.0, 1.0]]


def test_dropping_a_million_node_graph():
    r = subprocess.run(
        [
            sys.executable,
            "-c",
            "import rgrad as T\nx = T.ones(1, requires_grad=True)\ny = x\n"
            "for _ in range(1_000_000):\n    y = y + 0.0\ndel y\nprint('ok')",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr


def test_int_floor_division_and_remainder_wrap_as_pytorch():
    m = -(2**63)
    assert (T.tensor([m]) // -1).tolist() == [m]
    assert (T.tensor([m]) % -1).tolist() == [0]
    assert T.fmod(T.tensor([m]), -1).tolist() == [0]
    assert T.remainder(T.tensor([m]), -1).tolist() == [0]
    assert T.floor_divide(T.tensor([m, 7]), T.tensor([-1, -2])).tolist() == [m, -4]


@pytest.mark.parametrize(
    "op",
    [
        lambda: T.tensor([5]) // 0,
        lambda: T.tensor([5]) % 0,
        lambda: T.fmod(T.tensor([5]), 0),
        lambda: T.remainder(T.tensor([5]), 0),
        lambda: T.tensor([7]) // T.tensor([0]),
        lambda: T.tensor([7], dtype=T.int32) // 0,
    ],
)
def test_int_division_by_zero_raises(op):
    with pytest.raises(RuntimeError, match="^ZeroDivisionError$"):
        op()


def test_scatter_checks_src_and_index_shapes():
    idx = T.zeros(1, 3, dtype=T.int64)
    msg = (
        "Expected index [1, 3] to be no larger than self [3, 3] apart from dimension 0 "
        "and to be no larger size than src [1, 1]"
    )
    for f in (T.Tensor.scatter, T.Tensor.scatter_add):
        with pytest.raises(RuntimeError) as e:
            f(T.zeros(3, 3), 0, idx, T.ones(1, 1))
        assert str(e.value) == msg
    with pytest.raises(RuntimeError, match="to be no larger size than src"):
        T.zeros(3).scatter_(0, T.zeros(2, dtype=T.int64), T.ones(1))
    with pytest.raises(RuntimeError, match="index 7 is out of bounds for dimension 0 with size 3"):
        T.zeros(3, 3).scatter(0, T.full((1, 3), 7), T.ones(3, 3))
    with pytest.raises(RuntimeError, match="index -1 is out of bounds"):
        T.zeros(3).scatter_add(0, T.tensor([-1]), T.ones(1))
    with pytest.raises(RuntimeError, match="index 3 is out of bounds"):
        T.zeros(3, 3).gather(0, T.full((1, 3), 3))
    # An empty index is a no-op whatever src is; a larger src is fine.
    empty = T.zeros(0, 2, dtype=T.int64)
    assert T.zeros(2, 2).scatter(0, empty, T.ones(1, 1)).tolist() == [[0, 0], [0, 0]]
    out = T.zeros(3, 3).scatter(0, T.zeros(1, 3, dtype=T.int64), T.ones(3, 3))
    assert out.tolist() == [[1, 1, 1], [0, 0, 0], [0, 0, 0]]


def test_hostile_range_sizes_raise():
    with pytest.raises(RuntimeError, match=r"^invalid size, possible overflow\?$"):
        T.arange(0, 1e18, 1e-18)
    with pytest.raises(RuntimeError, match="overflow"):
        T.linspace(0, 1, 2**62)
    with pytest.raises(RuntimeError, match="random_ expects 'from' to be less than 'to'"):
        T.randint(5, 5, (3,))


def test_set_num_threads_refuses_bad_counts_and_parallel_ops_keep_working():
    for bad in (0, -1):
        with pytest.raises(RuntimeError, match="set_num_threads expects a positive integer"):
            T.set_num_threads(bad)
    with pytest.raises(ValueError):
        T.set_num_threads(2**63)
    T.set_num_threads(2**62)  # capped at the cores; must not break the pool
    big = T.ones(1 << 19)
    assert float((big * 2).sum()) == 2.0 * (1 << 19)


def test_no_dim_past_int64_even_when_the_tensor_is_empty():
    # cat/pad of empty tensors once summed a dim past int64 (fuzz seed 20261207)
    with pytest.raises(RuntimeError, match=OVERFLOW):
        T.nn.ZeroPad2d((0, 2**63 - 1))(T.zeros(2, 0, 3))
    with pytest.raises(RuntimeError, match=OVERFLOW):
        T.cat([T.zeros(0, 2**62), T.zeros(0, 2**62), T.zeros(0, 2**62)], 1)
    assert T.cat([T.zeros(0, 2**61), T.zeros(0, 2**61)], 1).shape == (0, 2**62)


def test_rnn_with_an_overflowing_parameter_count_raises():
    with pytest.raises(RuntimeError, match=OVERFLOW):
        T.nn.LSTM(5, 5, 2**62 + 1)
    assert sum(p.numel() for p in T.nn.GRU(3, 4, 2, bidirectional=True).parameters()) == 2 * (
        12 * 3 + 12 * 4 + 24
    ) + 2 * (12 * 8 + 12 * 4 + 24)
