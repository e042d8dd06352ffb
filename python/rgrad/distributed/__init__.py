"""``rgrad.distributed``: PyTorch's process-group API for a group of one process.

Training scripts (nanoGPT's ``train.py``, pytorch/examples) import ``init_process_group``,
``destroy_process_group`` and ``DistributedDataParallel`` unconditionally and use them only
when launched by ``torchrun``. A single-process group works as PyTorch's does with
``world_size=1``: collectives leave their tensors as they are (the sum, mean, max... of one
rank's values), ``get_rank()`` is 0 and DDP wraps the module without changing its numbers. A
group of more than one process needs the MPI backend, which is not built yet: asking for one
raises a RuntimeError that says so, rather than running the ranks as independent jobs.
"""

import datetime as _datetime
import enum as _enum
import os as _os

__all__ = [
    "Backend",
    "GroupMember",
    "ReduceOp",
    "all_gather",
    "all_reduce",
    "barrier",
    "broadcast",
    "destroy_process_group",
    "get_backend",
    "get_rank",
    "get_world_size",
    "init_process_group",
    "is_available",
    "is_initialized",
    "is_mpi_available",
    "reduce",
]


class ReduceOp(_enum.Enum):
    SUM = 0
    AVG = 1
    PRODUCT = 2
    MIN = 3
    MAX = 4
    BAND = 5
    BOR = 6
    BXOR = 7
    PREMUL_SUM = 8

    def __repr__(self):
        return f"<RedOpType.{self.name}: {self.value}>"

    def __str__(self):
        return f"RedOpType.{self.name}"


class Backend(str):
    UNDEFINED = "undefined"
    GLOO = "gloo"
    NCCL = "nccl"
    MPI = "mpi"
    backend_list = ["undefined", "gloo", "nccl", "mpi"]

    def __new__(cls, name):
        if not isinstance(name, str):
            raise ValueError(f"Backend constructor parameter must be string-ish, but got: {name}")
        value = getattr(Backend, name.upper(), Backend.UNDEFINED)
        if value == Backend.UNDEFINED:
            value = name.lower()
        return super().__new__(cls, value)


class GroupMember:
    WORLD = None
    NON_GROUP_MEMBER = -100


class _Group:
    def __init__(self, backend, rank, world_size):
        self.backend, self.rank, self.world_size = backend, rank, world_size


_WORLD = None
_NOT_INITIALIZED = (
    "Default process group has not been initialized, please make sure to call init_process_group."
)


def is_available():
    return True


def is_mpi_available():
    return False


def is_nccl_available():
    return False


def is_gloo_available():
    return True


def is_initialized():
    return _WORLD is not None


def is_torchelastic_launched():
    return _os.environ.get("TORCHELASTIC_RUN_ID") is not None


def _env_int(name, default):
    value = _os.environ.get(name)
    return default if value is None else int(value)


def init_process_group(
    backend=None,
    init_method=None,
    timeout=None,
    world_size=-1,
    rank=-1,
    store=None,
    group_name="",
    pg_options=None,
    device_id=None,
):
    global _WORLD
    if _WORLD is not None:
        raise ValueError("trying to initialize the default process group twice!")
    if timeout is not None and not isinstance(timeout, _datetime.timedelta):
        raise TypeError(
            f"Expected timeout argument to be of type datetime.timedelta, got {timeout}"
        )
    name = "gloo" if backend is None else str(Backend(backend))
    if name not in ("gloo", "nccl", "mpi"):
        raise AssertionError(f"Unknown backend type {backend}")
    if name == "nccl":
        raise RuntimeError("Distributed package doesn't have NCCL built in")
    world_size = _env_int("WORLD_SIZE", 1) if world_size == -1 else world_size
    rank = _env_int("RANK", 0) if rank == -1 else rank
    if world_size != 1:
        raise RuntimeError(
            f"rgrad.distributed: a process group of {world_size} processes needs the MPI "
            "backend, which this build of rgrad does not have yet; only world_size=1 runs"
        )
    if rank != 0:
        raise ValueError(f"Invalid rank {rank}, it should be in the range [0, 0]")
    _WORLD = _Group(name, rank, world_size)
    GroupMember.WORLD = _WORLD


def destroy_process_group(group=None):
    global _WORLD
    _world(group)
    _WORLD = None
    GroupMember.WORLD = None


def _world(group=None):
    if _WORLD is None:
        raise ValueError(_NOT_INITIALIZED)
    return _WORLD if group is None else group


def get_rank(group=None):
    return _world(group).rank


def get_world_size(group=None):
    return _world(group).world_size


def get_backend(group=None):
    return _world(group).backend


class _Work:
    """What an ``async_op=True`` collective returns; with one rank it is already done."""

    def wait(self, timeout=None):
        return True

    def is_completed(self):
        return True


def _done(async_op):
    return _Work() if async_op else None


def all_reduce(tensor, op=ReduceOp.SUM, group=None, async_op=False):
    # One rank: the reduction of a single contribution is that contribution, for every op
    # (AVG divides the sum by a world size of 1).
    _world(group)
    return _done(async_op)


def reduce(tensor, dst=0, op=ReduceOp.SUM, group=None, async_op=False):
    _world(group)
    return _done(async_op)


def broadcast(tensor, src=0, group=None, async_op=False):
    _world(group)
    if src != 0:
        raise ValueError(f"Invalid rank {src}, it should be in the range [0, 0]")
    return _done(async_op)


def all_gather(tensor_list, tensor, group=None, async_op=False):
    _world(group)
    if len(tensor_list) != 1:
        raise ValueError("all_gather: tensor_list must have one tensor per rank (1)")
    tensor_list[0].copy_(tensor)
    return _done(async_op)


def barrier(group=None, async_op=False, device_ids=None):
    _world(group)
    return _done(async_op)
