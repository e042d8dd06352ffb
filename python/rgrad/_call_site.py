"""How the call being made passed its arguments, read from the calling frame's bytecode.

PyTorch's argument errors say "(position 2)" only for an argument passed positionally and
print "got (Tensor, min=str)" from the call as written; a function only sees the values. When
an argument error is raised (never on the fast path), the binding asks :func:`keywords` for
the keyword names of the call. Compiled functions push no frame, so for them the frame one
level up is the Python code that made the call.
"""

import dis
import sys

_PLAIN_CALLS = {"CALL", "CALL_FUNCTION", "CALL_METHOD"}

# The file name of the generated argument wrappers (rgrad._errors.pytorch_errors): they pass
# every argument on positionally, so the call that matters is their caller's.
WRAPPER_FILENAME = "<rgrad argument wrapper>"


def call_shape(depth=1):
    """(number of arguments, keyword names) of the call the frame ``depth`` levels above the
    caller is making, or None when the call cannot be read (``f(*args, **kw)``, a call made
    from C, an unknown bytecode)."""
    try:
        frame = sys._getframe(depth + 1)
    except ValueError:
        return None
    while frame is not None and frame.f_code.co_filename == WRAPPER_FILENAME:
        frame = frame.f_back
    if frame is None:
        return None
    code = frame.f_code
    instructions = list(dis.get_instructions(code))
    # The instruction that contains f_lasti: a Python callee called from 3.11's inlined path
    # leaves it on the last inline cache entry of the CALL, past the instruction's offset.
    at = None
    for k, ins in enumerate(instructions):
        if ins.offset > frame.f_lasti:
            break
        at = k
    if at is None:
        return None
    ins = instructions[at]
    if ins.opname in ("CALL_KW", "CALL_FUNCTION_KW"):
        # 3.13 / 3.9-3.10: the names are the constant loaded just before the call.
        before = instructions[at - 1] if at else None
        names = before.argval if before is not None and before.opname == "LOAD_CONST" else None
        return (ins.arg, names) if isinstance(names, tuple) else None
    if ins.opname in _PLAIN_CALLS:
        # 3.11: KW_NAMES, PRECALL, CALL; 3.12: KW_NAMES, CALL.
        k = at - 1
        while k >= 0 and instructions[k].opname == "PRECALL":
            k -= 1
        if k >= 0 and instructions[k].opname == "KW_NAMES":
            names = code.co_consts[instructions[k].arg]
            return (ins.arg, names) if isinstance(names, tuple) else None
        return ins.arg, ()
    return None


def keywords():
    """The keyword names of the call a compiled function is running for (``()`` for
    positional arguments only), or None when unknown."""
    shape = call_shape(1)
    return None if shape is None else shape[1]


def check_int(func, name, value, index):
    """PyTorch's TypeError for a Python composite's int argument ``name`` (parameter
    ``index`` of the function form, ``input`` being 0) that is not an int."""
    if isinstance(value, int) and not isinstance(value, bool):
        return
    raise argument_error(func, name, "int", value, index, depth=3)


def argument_error(func, name, expected, value, index, depth=2):
    """PyTorch's ``func(): argument 'name' (position N) must be expected, not type`` for the
    call made ``depth`` frames above this one; the position only when it was passed
    positionally."""
    shape = call_shape(depth)
    where = ""
    if shape is not None and name not in shape[1]:
        positional = shape[0] - len(shape[1])
        # The method form passes one argument fewer (the tensor is `self`).
        where = f" (position {index + 1 if positional > index else index})"
    return TypeError(
        f"{func}(): argument '{name}'{where} must be {expected}, not {type(value).__name__}"
    )
