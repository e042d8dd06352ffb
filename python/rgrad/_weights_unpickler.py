"""The restricted unpickler behind ``rgrad.load(..., weights_only=True)``.

A pickle is a program: an ordinary unpickler imports and calls whatever it names, so a
checkpoint from an untrusted source could run any code. This one interprets the pickle opcodes
itself (as PyTorch's ``torch._weights_only_unpickler`` does) and only ever calls the globals of
an allow-list: the tensor and storage rebuild functions, ``OrderedDict``, ``Counter``, ``set``,
dtypes, ``torch.Size``, ``torch.device``, and what the user added with
``rgrad.serialization.add_safe_globals``. Anything else raises ``pickle.UnpicklingError``
before it is called; ``BUILD`` (setting an object's state) is refused on every object that is
not a tensor, an ``OrderedDict`` or an instance of an allow-listed class, so a file cannot
change the functions it is allowed to call.
"""

import contextlib
import pickle
import struct
from collections import Counter, OrderedDict
from pickle import UnpicklingError

__all__ = [
    "add_safe_globals",
    "clear_safe_globals",
    "get_safe_globals",
    "safe_globals",
    "Unpickler",
]

# Modules whose globals are refused with a message of their own (PyTorch's list).
_BLOCKED_MODULES = ("sys", "os", "posix", "nt")

_user_globals = []


def add_safe_globals(safe_globals):
    """Marks ``safe_globals`` (functions or classes, or ``(obj, "module.name")`` pairs) as
    safe to call while loading with ``weights_only=True``."""
    for g in safe_globals:
        _check_entry(g)
        if g not in _user_globals:
            _user_globals.append(g)


def get_safe_globals():
    """The globals added with :func:`add_safe_globals` (a new list)."""
    return list(_user_globals)


def clear_safe_globals():
    """Forgets every global added with :func:`add_safe_globals`."""
    _user_globals.clear()


class safe_globals(contextlib.ContextDecorator):  # noqa: N801 - PyTorch's name
    """Context manager: ``safe_globals`` are allow-listed inside the ``with`` block only."""

    def __init__(self, safe_globals):
        for g in safe_globals:
            _check_entry(g)
        self.safe_globals = list(safe_globals)

    def __enter__(self):
        self._saved = list(_user_globals)
        add_safe_globals(self.safe_globals)

    def __exit__(self, *exc):
        _user_globals[:] = self._saved
        return False


def _check_entry(g):
    if isinstance(g, tuple):
        if len(g) != 2:
            raise ValueError(
                "Expected tuple of length 2 (global, str of callable full path), but got tuple "
                f"of length: {len(g)}"
            )
        if type(g[1]) is not str:
            raise TypeError(
                "Expected second item in tuple to be str of callable full path, but got: "
                f"{type(g[1])}"
            )


def user_allowed_globals():
    """``{"module.qualname": obj}`` of the user's allow-listed globals."""
    out = {}
    for g in _user_globals:
        if isinstance(g, tuple):
            out[g[1]] = g[0]
        else:
            out[f"{g.__module__}.{g.__qualname__}"] = g
    return out


# Python 2 names a protocol-2 pickle may use (as pickle's own compat tables map them).
_NAME_MAPPING = {("__builtin__", "set"): ("builtins", "set")}
_IMPORT_MAPPING = {"__builtin__": "builtins", "copy_reg": "copyreg"}


def _unsupported_global(full_path):
    shown = full_path
    if shown.startswith("builtins."):
        shown = shown[len("builtins.") :]
    return UnpicklingError(
        f"Unsupported global: GLOBAL {shown} was not an allowed global by default. "
        f"Please use `torch.serialization.add_safe_globals([{shown}])` or the "
        f"`torch.serialization.safe_globals([{shown}])` context manager to allowlist this "
        "global if you trust this class/function."
    )


class _Mark:
    """Stands on the stack where MARK put it (never a value)."""


_MARK = _Mark()


class Unpickler:
    """Interprets one pickle from ``data`` (bytes) starting at ``pos``.

    ``allowed`` maps ``"module.name"`` to the object a GLOBAL of that name gives; ``buildable``
    holds the types whose instances ``BUILD`` may set state on; ``persistent_load`` is called
    with each persistent id (a tuple whose first item is ``"storage"``). ``pos`` after
    :meth:`load` is where the pickle ended.
    """

    def __init__(self, data, allowed, buildable, persistent_load, pos=0, encoding="utf-8"):
        self.data = memoryview(data)
        self.pos = pos
        self.allowed = allowed
        self.buildable = buildable
        self.persistent_load = persistent_load
        self.encoding = encoding

    def _read(self, n):
        end = self.pos + n
        if n < 0 or end > len(self.data):
            raise EOFError("the pickle data ends in the middle of an instruction (truncated?)")
        out = self.data[self.pos : end]
        self.pos = end
        return out.tobytes()

    def _readline(self):
        data = self.data
        end = self.pos
        while end < len(data) and data[end] != 0x0A:
            end += 1
        if end >= len(data):
            raise EOFError("the pickle data ends in the middle of an instruction (truncated?)")
        line = data[self.pos : end].tobytes()
        self.pos = end + 1
        return line

    def _global(self, module, name):
        if (module, name) in _NAME_MAPPING:
            module, name = _NAME_MAPPING[(module, name)]
        module = _IMPORT_MAPPING.get(module, module)
        full_path = f"{module}.{name}"
        if module in _BLOCKED_MODULES:
            raise UnpicklingError(
                f"Trying to load unsupported GLOBAL {full_path} whose module {module} is blocked."
            )
        if full_path in self.allowed:
            return self.allowed[full_path]
        user = user_allowed_globals()
        if full_path in user:
            return user[full_path]
        raise _unsupported_global(full_path)

    def _callable(self, f):
        user = user_allowed_globals().values()
        return any(f is g for g in self.allowed.values()) or any(f is g for g in user)

    def _pop_mark(self):
        stack = self.stack
        for i in range(len(stack) - 1, -1, -1):
            if stack[i] is _MARK:
                items = stack[i + 1 :]
                del stack[i:]
                return items
        raise UnpicklingError("could not find MARK")

    def _build(self, inst, state):
        user_types = tuple(t for t in user_allowed_globals().values() if isinstance(t, type))
        if type(inst) is OrderedDict or type(inst) is Counter:
            if not isinstance(state, dict):
                raise UnpicklingError("an OrderedDict's state must be a dict")
            inst.__dict__.update(state)
        elif isinstance(inst, self.buildable) or type(inst) in user_types:
            if hasattr(inst, "__setstate__") and type(inst) in user_types:
                inst.__setstate__(state)
                return
            slotstate = None
            if isinstance(state, tuple) and len(state) == 2:
                state, slotstate = state
            for part in (state, slotstate):
                if part is not None and not isinstance(part, dict):
                    raise UnpicklingError("an object's state must be a dict")
                for k, v in (part or {}).items():
                    if type(k) is not str or k.startswith("__"):
                        raise UnpicklingError(f"cannot set the attribute {k!r} while loading")
                    setattr(inst, k, v)
        else:
            raise UnpicklingError(
                "Can only build Tensor, Parameter, OrderedDict or types allowlisted via "
                f"`add_safe_globals`, but got {type(inst)}"
            )

    def load(self):  # noqa: C901 - one arm per opcode, as pickle's own loop
        self.stack = stack = []
        memo = {}
        read = self._read
        while True:
            op = read(1)[0]
            if op == 0x63:  # GLOBAL
                module = self._readline().decode("utf-8")
                name = self._readline().decode("utf-8")
                stack.append(self._global(module, name))
            elif op == 0x93:  # STACK_GLOBAL
                name = stack.pop()
                module = stack.pop()
                if type(module) is not str or type(name) is not str:
                    raise UnpicklingError("STACK_GLOBAL requires str")
                stack.append(self._global(module, name))
            elif op == 0x52:  # REDUCE
                args = stack.pop()
                func = stack[-1]
                if not self._callable(func) or type(args) is not tuple:
                    raise UnpicklingError(f"Trying to call reduce for unrecognized function {func}")
                stack[-1] = func(*args)
            elif op == 0x81:  # NEWOBJ
                args = stack.pop()
                cls = stack.pop()
                if not isinstance(cls, type) or not self._callable(cls) or type(args) is not tuple:
                    raise UnpicklingError(
                        "Can only create new object for nn.Parameter or classes allowlisted via "
                        f"`add_safe_globals` but got {cls}"
                    )
                stack.append(cls(*args) if cls in self.buildable else cls.__new__(cls, *args))
            elif op == 0x62:  # BUILD
                state = stack.pop()
                self._build(stack[-1], state)
            elif op == 0x61:  # APPEND
                item = stack.pop()
                if type(stack[-1]) is not list:
                    raise UnpicklingError(f"Can only append to lists, but got {type(stack[-1])}")
                stack[-1].append(item)
            elif op == 0x65:  # APPENDS
                items = self._pop_mark()
                if type(stack[-1]) is not list:
                    raise UnpicklingError(f"Can only extend lists, but got {type(stack[-1])}")
                stack[-1].extend(items)
            elif op == 0x73:  # SETITEM
                v = stack.pop()
                k = stack.pop()
                self._check_dict("SETITEM")
                stack[-1][k] = v
            elif op == 0x75:  # SETITEMS
                items = self._pop_mark()
                self._check_dict("SETITEMS")
                if len(items) % 2:
                    raise UnpicklingError("SETITEMS needs pairs")
                for i in range(0, len(items), 2):
                    stack[-1][items[i]] = items[i + 1]
            elif op == 0x90:  # ADDITEMS
                items = self._pop_mark()
                if type(stack[-1]) is not set:
                    raise UnpicklingError(f"Can only add to sets, but got {type(stack[-1])}")
                stack[-1].update(items)
            elif op == 0x91:  # FROZENSET
                stack.append(frozenset(self._pop_mark()))
            elif op == 0x28:  # MARK
                stack.append(_MARK)
            elif op == 0x74:  # TUPLE
                stack.append(tuple(self._pop_mark()))
            elif op == 0x85:  # TUPLE1
                stack[-1] = (stack[-1],)
            elif op == 0x86:  # TUPLE2
                stack[-2:] = [(stack[-2], stack[-1])]
            elif op == 0x87:  # TUPLE3
                stack[-3:] = [(stack[-3], stack[-2], stack[-1])]
            elif op == 0x4E:  # NONE
                stack.append(None)
            elif op == 0x89:  # NEWFALSE
                stack.append(False)
            elif op == 0x88:  # NEWTRUE
                stack.append(True)
            elif op == 0x29:  # EMPTY_TUPLE
                stack.append(())
            elif op == 0x5D:  # EMPTY_LIST
                stack.append([])
            elif op == 0x7D:  # EMPTY_DICT
                stack.append({})
            elif op == 0x8F:  # EMPTY_SET
                stack.append(set())
            elif op == 0x4A:  # BININT
                stack.append(struct.unpack("<i", read(4))[0])
            elif op == 0x4B:  # BININT1
                stack.append(read(1)[0])
            elif op == 0x4D:  # BININT2
                stack.append(struct.unpack("<H", read(2))[0])
            elif op == 0x8A:  # LONG1
                n = read(1)[0]
                stack.append(int.from_bytes(read(n), "little", signed=True))
            elif op == 0x47:  # BINFLOAT
                stack.append(struct.unpack(">d", read(8))[0])
            elif op == 0x58:  # BINUNICODE
                n = struct.unpack("<I", read(4))[0]
                stack.append(read(n).decode("utf-8", "surrogatepass"))
            elif op == 0x8C:  # SHORT_BINUNICODE
                n = read(1)[0]
                stack.append(read(n).decode("utf-8", "surrogatepass"))
            elif op == 0x8D:  # BINUNICODE8
                n = struct.unpack("<Q", read(8))[0]
                stack.append(read(n).decode("utf-8", "surrogatepass"))
            elif op == 0x55:  # SHORT_BINSTRING (Python 2 str)
                n = read(1)[0]
                raw = read(n)
                stack.append(raw if self.encoding == "bytes" else raw.decode(self.encoding))
            elif op == 0x43:  # SHORT_BINBYTES
                stack.append(read(read(1)[0]))
            elif op == 0x42:  # BINBYTES
                stack.append(read(struct.unpack("<I", read(4))[0]))
            elif op == 0x51:  # BINPERSID
                pid = stack.pop()
                if type(pid) is not tuple and type(pid) is not int:
                    raise UnpicklingError(
                        f"persistent_load id must be tuple or int, but got {type(pid)}"
                    )
                if type(pid) is tuple and (not pid or _ascii(pid[0]) != "storage"):
                    raise UnpicklingError(
                        "Only persistent_load of storage is allowed, but got "
                        f"{type(pid[0]) if pid else tuple}"
                    )
                stack.append(self.persistent_load(pid))
            elif op == 0x68:  # BINGET
                stack.append(self._memo_get(memo, read(1)[0]))
            elif op == 0x6A:  # LONG_BINGET
                stack.append(self._memo_get(memo, struct.unpack("<I", read(4))[0]))
            elif op == 0x71:  # BINPUT
                memo[read(1)[0]] = stack[-1]
            elif op == 0x72:  # LONG_BINPUT
                memo[struct.unpack("<I", read(4))[0]] = stack[-1]
            elif op == 0x94:  # MEMOIZE
                memo[len(memo)] = stack[-1]
            elif op == 0x95:  # FRAME (a length hint only)
                read(8)
            elif op == 0x80:  # PROTO
                if read(1)[0] > pickle.HIGHEST_PROTOCOL:
                    raise UnpicklingError("unsupported pickle protocol")
            elif op == 0x2E:  # STOP
                if len(stack) != 1 or stack[0] is _MARK:
                    raise UnpicklingError("the pickle's stack is not one value at its end")
                return stack.pop()
            else:
                raise UnpicklingError(f"Unsupported operand {op}")

    def _memo_get(self, memo, i):
        if i not in memo:
            raise UnpicklingError(f"Memo value not found at index {i}")
        return memo[i]

    def _check_dict(self, opcode):
        if type(self.stack[-1]) not in (dict, OrderedDict, Counter):
            raise UnpicklingError(
                f"Can only {opcode} for dict, collections.OrderedDict, collections.Counter, but "
                f"got {type(self.stack[-1])}"
            )


def _ascii(s):
    return s.decode("ascii") if isinstance(s, bytes) else s


_UNSAFE_MESSAGE = (
    "In PyTorch 2.6, we changed the default value of the `weights_only` argument in `torch.load` "
    "from `False` to `True`. Re-running `torch.load` with `weights_only` set to `False` will "
    "likely succeed, but it can result in arbitrary code execution. Do it only if you got the "
    "file from a trusted source."
)
_DOCS_MESSAGE = (
    "\n\nCheck the documentation of torch.load to learn more about types accepted by default "
    "with weights_only https://pytorch.org/docs/stable/generated/torch.load.html."
)


def weights_only_message(message):
    """PyTorch's wording around an error of the restricted unpickler (same text, so the advice
    found for it applies)."""
    if "was not an allowed global by default." in message:
        return (
            "Weights only load failed. This file can still be loaded, to do so you have two "
            "options, \033[1mdo those steps only if you trust the source of the checkpoint"
            f"\033[0m. \n\t(1) {_UNSAFE_MESSAGE}\n\t(2) Alternatively, to load with "
            "`weights_only=True` please check the recommended steps in the following error "
            "message.\n\tWeightsUnpickler error: " + message + _DOCS_MESSAGE
        )
    out = f"Weights only load failed. {_UNSAFE_MESSAGE}\n"
    if "is blocked" not in message:
        out += (
            "Please file an issue with the following so that we can make `weights_only=True` "
            "compatible with your use case: WeightsUnpickler error: "
        )
    return out + "\n\n" + message + _DOCS_MESSAGE
