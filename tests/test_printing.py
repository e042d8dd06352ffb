"""PyTorch's printed strings and error messages (tests/data/printing.json, recorded with
PyTorch; see tests/data/CONFORMANCE.md): each case runs `setup`, then compares str(eval(expr))
with the recorded string (``torch.`` read as ``rgrad.``) or the raised exception's type and
message, exactly. Object addresses (0x...) are masked on both sides."""

import ast
import importlib
import json
import pathlib
import re

import pytest

import rgrad

DATA = pathlib.Path(__file__).parent / "data"
CASES = json.loads((DATA / "printing.json").read_text())["cases"]
ADDRESS = re.compile(r"0x[0-9a-fA-F]+")

# Cases that need what is not built yet (nn, F, optim), by expr. test_gap_is_real keeps this
# list honest: a listed case that starts passing fails there until it is removed from the list.
NOT_YET: set = set()


def namespace():
    """`torch` is rgrad; `nn` and `F` are bound once rgrad has them."""
    env = {"torch": rgrad}
    for name, module in (("nn", "rgrad.nn"), ("F", "rgrad.nn.functional")):
        try:
            env[name] = importlib.import_module(module)
        except ImportError:
            pass
    return env


def mask(s):
    return ADDRESS.sub("0x…", s)


def expected_str(case):
    return mask(case["str"].replace("torch.", "rgrad."))


def run(case):
    """(kind, text): ("str", masked str of the result) or (exception type name, message)."""
    env = namespace()
    exec(case["setup"], env)
    try:
        value = eval(case["expr"], env)
    except Exception as e:
        return type(e).__name__, str(e)
    return "str", mask(str(value))


def check(case):
    got = run(case)
    if "raises" in case:
        assert got == (case["raises"], case["message"])
    else:
        assert got == ("str", expected_str(case))


def case_id(item):
    i, case = item
    return f"{i:03d}:{case['expr'][:50]}"


SUPPORTED = [(i, c) for i, c in enumerate(CASES) if c["expr"] not in NOT_YET]
GAP = [(i, c) for i, c in enumerate(CASES) if c["expr"] in NOT_YET]


@pytest.mark.parametrize("item", SUPPORTED, ids=case_id)
def test_printing_case(item):
    check(item[1])


@pytest.mark.parametrize("item", GAP, ids=case_id)
def test_gap_is_real(item):
    """Each case in NOT_YET must still fail; remove it from the list once it passes."""
    with pytest.raises(Exception):  # noqa: B017 - any failure keeps it on the list
        check(item[1])


def test_gap_is_listed():
    exprs = {c["expr"] for c in CASES}
    assert NOT_YET <= exprs, NOT_YET - exprs
    assert len(SUPPORTED) + len(GAP) == len(CASES)
    print(f"printing coverage: {len(SUPPORTED)}/{len(CASES)}")


def test_masking_is_needed_and_applied():
    """The recorded next_functions string holds an address; masking makes it comparable."""
    case = next(c for c in CASES if c["expr"] == "(x * 2).grad_fn.next_functions")
    assert ADDRESS.search(case["str"])
    kind, text = run(case)
    assert kind == "str"
    assert "0x…" in text and not ADDRESS.search(text)


# ---- grad_fn names, entry by entry (a failure names the op) ------------------------------


def grad_fn_entries():
    """Split the `[type(e.grad_fn).__name__ for e in [...]]` cases into (setup, expr, name)."""
    out = []
    for case in CASES:
        tree = ast.parse(case["expr"], mode="eval").body
        if not (isinstance(tree, ast.ListComp) and "grad_fn" in case["expr"]):
            continue
        elts = tree.generators[0].iter.elts
        names = ast.literal_eval(case["str"])
        assert len(elts) == len(names)
        for elt, name in zip(elts, names):
            out.append((case["setup"], ast.get_source_segment(case["expr"], elt), name))
    return out


GRAD_FN_ENTRIES = grad_fn_entries()


def grad_fn_name(setup, expr):
    env = namespace()
    exec(setup, env)
    return type(eval(expr, env).grad_fn).__name__


@pytest.mark.parametrize(
    "setup, expr, name", GRAD_FN_ENTRIES, ids=[f"{e[1]}->{e[2]}" for e in GRAD_FN_ENTRIES]
)
def test_grad_fn_name(setup, expr, name):
    assert grad_fn_name(setup, expr) == name


def test_grad_fn_entries_found():
    assert len(GRAD_FN_ENTRIES) == 28 + 12
