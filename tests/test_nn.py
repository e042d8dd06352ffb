"""``rgrad.nn.Module`` and ``nn.Parameter``: the module reprs and errors of
tests/data/printing.json, registration and traversal, state_dict round trips and strict-load
errors. (Conversion, hooks, containers and the seed example: test_nn_module.py.)"""

import copy
import json
import pathlib
import pickle
import re
from collections import OrderedDict

import pytest

import rgrad
import rgrad.nn as nn
import rgrad.nn.functional as F

DATA = pathlib.Path(__file__).parent / "data"
PRINTING = json.loads((DATA / "printing.json").read_text())["cases"]
TIER3 = ("MaxPool2d", "LSTM", "GRU")  # tier-3 layers: not built yet
NN_CASES = [
    c
    for c in PRINTING
    if re.search(r"\b(nn|F)\.", c["setup"] + c["expr"])
    and "optim" not in c["expr"]
    and not any(name in c["expr"] for name in TIER3)
]


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(2, 4)
        self.act = nn.Sigmoid()
        self.fc2 = nn.Linear(4, 1)
        self.register_buffer("steps", rgrad.zeros(1))
        self.register_buffer("scratch", rgrad.zeros(2), persistent=False)

    def forward(self, x):
        return self.act(self.fc2(self.act(self.fc1(x))))


# ---- printing.json: module reprs, keys, the errors users search for -------------------------


def test_printing_nn_cases_selected():
    exprs = {c["expr"] for c in NN_CASES}
    assert len(NN_CASES) == 22  # the two Conv2d reprs included
    assert {"Net()", "nn.Linear(2, 3)(torch.ones(4, 5))", "nn.BatchNorm1d(4)"} <= exprs


@pytest.mark.parametrize("case", NN_CASES, ids=lambda c: c["expr"][:50])
def test_printing_case(case):
    env = {"torch": rgrad, "nn": nn, "F": F}
    exec(case["setup"], env)
    if "raises" in case:
        with pytest.raises(Exception) as info:
            eval(case["expr"], env)
        assert (type(info.value).__name__, str(info.value)) == (case["raises"], case["message"])
    else:
        assert str(eval(case["expr"], env)) == case["str"].replace("torch.", "rgrad.")


def test_nested_repr_indents_children_and_extra_lines():
    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(nn.Linear(2, 2), nn.ReLU())

        def extra_repr(self):
            return "first\nsecond"

    assert repr(Block()) == (
        "Block(\n  first\n  second\n  (body): Sequential(\n"
        "    (0): Linear(in_features=2, out_features=2, bias=True)\n    (1): ReLU()\n  )\n)"
    )


def test_module_list_repr_compresses_runs():
    ml = nn.ModuleList([nn.Linear(2, 3), nn.Linear(2, 3), nn.ReLU(), nn.Linear(2, 3)])
    assert repr(ml) == (
        "ModuleList(\n  (0-1): 2 x Linear(in_features=2, out_features=3, bias=True)\n"
        "  (2): ReLU()\n  (3): Linear(in_features=2, out_features=3, bias=True)\n)"
    )
    assert repr(nn.ModuleList()) == "ModuleList()"


def test_layer_reprs():
    layers = [
        (nn.ReLU(inplace=True), "ReLU(inplace=True)"),
        (nn.LeakyReLU(0.2, inplace=True), "LeakyReLU(negative_slope=0.2, inplace=True)"),
        (nn.ELU(alpha=0.5), "ELU(alpha=0.5)"),
        (nn.GELU("tanh"), "GELU(approximate='tanh')"),
        (nn.Softplus(2, 10), "Softplus(beta=2, threshold=10)"),
        (nn.Hardtanh(), "Hardtanh(min_val=-1.0, max_val=1.0)"),
        (nn.LogSoftmax(dim=-1), "LogSoftmax(dim=-1)"),
        (nn.Mish(), "Mish()"),
        (nn.Identity(3, x=4), "Identity()"),
        (nn.Flatten(0, 2), "Flatten(start_dim=0, end_dim=2)"),
        (nn.Unflatten(1, (2, 3)), "Unflatten(dim=1, unflattened_size=(2, 3))"),
        (
            nn.Bilinear(2, 3, 4),
            "Bilinear(in1_features=2, in2_features=3, out_features=4, bias=True)",
        ),
        (nn.Dropout(), "Dropout(p=0.5, inplace=False)"),
        (
            nn.Embedding(5, 2, padding_idx=-1, max_norm=1.0),
            "Embedding(5, 2, padding_idx=4, max_norm=1.0)",
        ),
        (
            nn.LayerNorm([2, 3], elementwise_affine=False),
            "LayerNorm((2, 3), eps=1e-05, elementwise_affine=False, bias=False)",
        ),
        (
            nn.BatchNorm1d(3, momentum=None, affine=False),
            "BatchNorm1d(3, eps=1e-05, momentum=None, affine=False, bias=False, "
            "track_running_stats=True)",
        ),
        (nn.KLDivLoss(reduction="batchmean"), "KLDivLoss()"),
        (nn.CrossEntropyLoss(label_smoothing=0.1), "CrossEntropyLoss()"),
    ]
    for layer, text in layers:
        assert repr(layer) == text


def test_parameter_repr_and_format():
    p = nn.Parameter(rgrad.tensor([1.0, 2.0]))
    assert str(p) == repr(p) == "Parameter containing:\ntensor([1., 2.], requires_grad=True)"
    assert f"{p}" == str(p)
    frozen = nn.Parameter(rgrad.tensor([1.0]), requires_grad=False)
    assert repr(frozen) == "Parameter containing:\ntensor([1.])"


# ---- Parameter -------------------------------------------------------------------------------


def test_parameter_is_a_leaf_sharing_data():
    data = rgrad.tensor([1.0, 2.0])
    p = nn.Parameter(data)
    assert isinstance(p, rgrad.Tensor) and isinstance(p, nn.Parameter)
    assert p.is_leaf and p.requires_grad and p.grad_fn is None
    with rgrad.no_grad():
        p.mul_(3)
    assert data.tolist() == [3.0, 6.0]
    x = rgrad.ones(2, requires_grad=True)
    q = nn.Parameter(x * 2)  # history is dropped
    assert q.is_leaf and q.grad_fn is None
    assert nn.Parameter().shape == (0,)
    with pytest.raises(RuntimeError, match="floating point"):
        nn.Parameter(rgrad.tensor([1, 2]))


def test_parameter_deepcopy_and_pickle_keep_the_type():
    p = nn.Parameter(rgrad.tensor([1.0, 2.0]))
    for q in (copy.deepcopy(p), pickle.loads(pickle.dumps(p))):
        assert type(q) is nn.Parameter and q is not p
        assert q.tolist() == [1.0, 2.0] and q.requires_grad


# ---- registration ----------------------------------------------------------------------------


def test_setattr_registers_parameters_modules_buffers():
    net = Net()
    assert list(net._parameters) == []
    assert list(net._modules) == ["fc1", "act", "fc2"]
    assert list(net._buffers) == ["steps", "scratch"]
    assert [n for n, _ in net.named_parameters()] == [
        "fc1.weight",
        "fc1.bias",
        "fc2.weight",
        "fc2.bias",
    ]
    assert [n for n, _ in net.named_buffers()] == ["steps", "scratch"]
    assert [n for n, _ in net.named_modules()] == ["", "fc1", "act", "fc2"]
    assert [n for n, _ in net.named_children()] == ["fc1", "act", "fc2"]
    assert len(list(net.modules())) == 4 and len(list(net.children())) == 3
    assert net.fc1.weight is net._modules["fc1"]._parameters["weight"]
    # Registered entries are mirrored into __dict__ so attribute reads skip __getattr__.
    assert net.__dict__["fc1"] is net._modules["fc1"]


def test_registry_mirror_follows_every_change():
    import copy
    import pickle

    m = nn.Linear(2, 3)
    w = m.weight
    del m._parameters["weight"]  # what torch.nn.utils.prune does before setattr
    with pytest.raises(AttributeError):
        m.weight  # noqa: B018
    m.weight = w.detach() * 2  # a plain attribute now
    assert "weight" not in m._parameters and m.weight.tolist() == (w * 2).tolist()
    del m.weight
    m._parameters["weight"] = w  # straight into the registry
    assert m.weight is w
    assert m._parameters.pop("bias") is not None and not hasattr(m, "bias")
    m._parameters.setdefault("bias", None)
    assert m.bias is None
    m._parameters.update(extra=nn.Parameter(rgrad.ones(1)))
    assert m.extra is m._parameters["extra"]
    m._parameters.clear()
    assert not hasattr(m, "weight") and not hasattr(m, "extra")

    seq = nn.Sequential(nn.Linear(1, 1), nn.ReLU(), nn.Tanh())
    del seq[0]  # renumbers by replacing _modules
    assert getattr(seq, "0") is seq[0] and isinstance(seq[0], nn.ReLU)
    assert not hasattr(seq, "2")

    for copied in (copy.deepcopy(seq), pickle.loads(pickle.dumps(seq)), copy.copy(seq)):
        copied.add_module("extra", nn.Identity())  # the copy's registry mirrors into the copy
        assert copied.extra is copied._modules["extra"] and not hasattr(seq, "extra")
        assert getattr(copied, "0") is copied._modules["0"]


def test_reassignment_moves_between_registries():
    m = nn.Module()
    m.x = nn.Linear(1, 1)
    m.x = nn.Parameter(rgrad.ones(1))  # a parameter replaces the module
    assert "x" in m._parameters and "x" not in m._modules
    with pytest.raises(TypeError, match="cannot assign 'rgrad.nn.modules.linear.Linear' as"):
        m.x = nn.Linear(1, 1)  # but nothing but a Parameter or None replaces a parameter
    m.register_buffer("b", rgrad.ones(1))
    m.b = rgrad.zeros(2)  # still a buffer
    assert m._buffers["b"].tolist() == [0.0, 0.0]
    m.b = None
    assert m.b is None and "b" not in m.state_dict()
    m.plain = 3
    assert m.__dict__["plain"] == 3


def test_shared_parameters_and_modules_are_deduplicated():
    shared = nn.Linear(2, 2)
    seq = nn.Sequential(shared, nn.ReLU(), shared)
    assert len(list(seq.parameters())) == 2
    assert [n for n, _ in seq.named_parameters()] == ["0.weight", "0.bias"]
    names = [n for n, _ in seq.named_parameters(remove_duplicate=False)]
    assert names == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert [n for n, _ in seq.named_modules()] == ["", "0", "1"]
    assert list(seq.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert len(list(seq[0].parameters(recurse=False))) == 2
    assert list(seq.parameters(recurse=False)) == []


def test_registration_errors_match_pytorch():
    lin = nn.Linear(2, 3)
    cases = [
        (
            lambda: lin.register_buffer("weight", rgrad.ones(1)),
            KeyError,
            "\"attribute 'weight' already exists\"",
        ),
        (
            lambda: lin.register_parameter("x.y", None),
            KeyError,
            "'parameter name can\\'t contain \".\"'",
        ),
        (
            lambda: lin.register_parameter("", None),
            KeyError,
            "'parameter name can\\'t be empty string \"\"'",
        ),
        (
            lambda: setattr(lin, "weight", rgrad.ones(1)),
            TypeError,
            "cannot assign 'rgrad.FloatTensor' as parameter 'weight' "
            "(torch.nn.Parameter or None expected)",
        ),
        (
            lambda: lin.register_parameter("p", rgrad.ones(1)),
            TypeError,
            "cannot assign 'rgrad.FloatTensor' object to parameter 'p' "
            "(torch.nn.Parameter or None required)",
        ),
        (
            lambda: lin.register_buffer("q", 3),
            TypeError,
            "cannot assign 'int' object to buffer 'q' (torch Tensor or None required)",
        ),
        (lambda: lin.add_module("m", 3), TypeError, "int is not a Module subclass"),
        (
            lambda: nn.Sequential().add_module("a.b", nn.ReLU()),
            KeyError,
            "'module name can\\'t contain \".\", got: a.b'",
        ),
        (lambda: lin.foo, AttributeError, "'Linear' object has no attribute 'foo'"),
        (
            lambda: nn.Module()(1),
            NotImplementedError,
            'Module [Module] is missing the required "forward" function',
        ),
        (
            lambda: nn.Module(3),
            TypeError,
            "Module.__init__() takes 1 positional argument but 2 were given",
        ),
        (
            lambda: nn.Module(x=3),
            TypeError,
            "Module.__init__() got an unexpected keyword argument 'x'",
        ),
        (lambda: lin.train(3), ValueError, "training mode is expected to be boolean"),
    ]
    for fn, exc, message in cases:
        with pytest.raises(exc) as info:
            fn()
        assert str(info.value) == message


def test_delattr_and_dir():
    lin = nn.Linear(2, 2)
    del lin.weight
    assert not hasattr(lin, "weight") and list(lin.state_dict()) == ["bias"]
    lin = nn.Linear(2, 2)
    lin.weight = None  # a None placeholder stays registered but is left out of state_dict
    assert "weight" in lin._parameters and list(lin.state_dict()) == ["bias"]
    seq = nn.Sequential(nn.Linear(2, 2))
    names = dir(seq)
    assert "append" in names and "state_dict" in names and "0" not in names
    assert {"weight", "bias", "in_features"} <= set(dir(nn.Linear(1, 1)))


def test_get_submodule_parameter_buffer():
    net = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
    assert net.get_submodule("") is net
    assert net.get_submodule("1") is net[1]
    assert net.get_parameter("0.weight") is net[0].weight
    assert net.get_buffer("1.running_mean") is net[1].running_mean
    for fn, message in [
        (lambda: net.get_submodule("0.b"), "Linear has no attribute `b`"),
        (lambda: net.get_submodule("0.weight"), "`weight` is not an nn.Module"),
        (lambda: net.get_buffer("1.weight"), "`weight` is not a buffer"),
    ]:
        with pytest.raises(AttributeError) as info:
            fn()
        assert str(info.value) == message


# ---- state_dict ------------------------------------------------------------------------------


def test_state_dict_keys_values_and_sharing():
    net = Net()
    sd = net.state_dict()
    assert isinstance(sd, OrderedDict)
    assert list(sd) == ["steps", "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]
    assert not sd["fc1.weight"].requires_grad and type(sd["fc1.weight"]) is rgrad.Tensor
    assert type(net.state_dict(keep_vars=True)["fc1.weight"]) is nn.Parameter
    sd["fc1.bias"].zero_()  # detached views share the data
    assert net.fc1.bias.tolist() == [0.0] * 4
    assert sd._metadata[""] == {"version": 1}
    bn = nn.BatchNorm1d(2)
    assert list(bn.state_dict()) == [
        "weight",
        "bias",
        "running_mean",
        "running_var",
        "num_batches_tracked",
    ]


def test_state_dict_round_trip():
    rgrad.manual_seed(0)
    a, b = Net(), Net()
    x = rgrad.randn(5, 2)
    assert a(x).tolist() != b(x).tolist()
    result = b.load_state_dict(a.state_dict())
    assert repr(result) == "<All keys matched successfully>"
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert b(x).tolist() == a(x).tolist()
    for (na, pa), (nb, pb) in zip(a.named_parameters(), b.named_parameters()):
        assert na == nb and pa.tolist() == pb.tolist() and pa is not pb


def test_load_state_dict_copies_in_place_and_converts_dtype():
    lin = nn.Linear(2, 2)
    w = lin.weight
    lin.load_state_dict({"weight": rgrad.ones(2, 2, dtype=rgrad.float64), "bias": rgrad.ones(2)})
    assert lin.weight is w and w.dtype == rgrad.float32 and w.tolist() == [[1.0, 1.0]] * 2
    new = rgrad.full((2, 2), 2.0)
    lin.load_state_dict({"weight": new, "bias": rgrad.ones(2)}, assign=True)
    assert type(lin.weight) is nn.Parameter and lin.weight.requires_grad
    assert lin.weight.tolist() == [[2.0, 2.0]] * 2


def test_strict_load_errors_as_pytorch():
    lin = nn.Linear(2, 3)
    with pytest.raises(RuntimeError) as info:
        lin.load_state_dict(
            {"weight": rgrad.ones(3, 2), "bias": rgrad.ones(2), "foo": rgrad.ones(1)}
        )
    assert str(info.value) == (
        "Error(s) in loading state_dict for Linear:\n"
        '\tUnexpected key(s) in state_dict: "foo". \n'
        "\tsize mismatch for bias: copying a param with shape rgrad.Size([2]) from checkpoint, "
        "the shape in current model is rgrad.Size([3])."
    )
    with pytest.raises(RuntimeError) as info:
        lin.load_state_dict({"weight": rgrad.ones(3, 2)})
    assert str(info.value) == (
        'Error(s) in loading state_dict for Linear:\n\tMissing key(s) in state_dict: "bias". '
    )
    with pytest.raises(RuntimeError) as info:
        lin.load_state_dict({"weight": rgrad.ones(3, 2), "bias": 3})
    assert str(info.value) == (
        "Error(s) in loading state_dict for Linear:\n"
        '\tWhile copying the parameter named "bias", expected torch.Tensor or Tensor-like '
        "object from checkpoint but received <class 'int'>"
    )
    with pytest.raises(
        TypeError, match=r"Expected state_dict to be dict-like, got <class 'list'>\."
    ):
        lin.load_state_dict([1])


def test_nested_missing_and_unexpected_keys_in_pytorch_order():
    net = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
    sd = {
        "1.foo": rgrad.ones(1),
        "bar.x": rgrad.ones(1),
        "zz": rgrad.ones(1),
        "0.weight": rgrad.ones(3, 2),
    }
    result = net.load_state_dict(sd, strict=False)
    # No metadata: an old (version 1) BatchNorm state dict may lack num_batches_tracked.
    assert result.missing_keys == [
        "0.bias",
        "1.weight",
        "1.bias",
        "1.running_mean",
        "1.running_var",
    ]
    assert result.unexpected_keys == ["bar.x", "zz", "1.foo"]
    assert repr(result) == (
        "_IncompatibleKeys(missing_keys=['0.bias', '1.weight', '1.bias', '1.running_mean', "
        "'1.running_var'], unexpected_keys=['bar.x', 'zz', '1.foo'])"
    )
    assert net[0].weight.tolist() == [[1.0, 1.0]] * 3  # the matching key was loaded
    with pytest.raises(RuntimeError) as info:
        net.load_state_dict(sd)
    assert str(info.value).splitlines() == [
        "Error(s) in loading state_dict for Sequential:",
        '\tMissing key(s) in state_dict: "0.bias", "1.weight", "1.bias", "1.running_mean", '
        '"1.running_var". ',
        '\tUnexpected key(s) in state_dict: "bar.x", "zz", "1.foo". ',
    ]
    full = nn.BatchNorm1d(3).state_dict()  # version 2 metadata: the counter is required
    del full["num_batches_tracked"]
    missing = nn.BatchNorm1d(3).load_state_dict(full, strict=False).missing_keys
    assert missing == ["num_batches_tracked"]


def test_extra_state_round_trip():
    class WithState(nn.Module):
        def __init__(self):
            super().__init__()
            self.counter = 0

        def get_extra_state(self):
            return {"counter": self.counter}

        def set_extra_state(self, state):
            self.counter = state["counter"]

    a, b = WithState(), WithState()
    a.counter = 7
    assert list(a.state_dict()) == ["_extra_state"]
    b.load_state_dict(a.state_dict())
    assert b.counter == 7
