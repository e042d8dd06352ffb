"""rgrad.vision.models against torchvision: state_dict keys, shapes and dtypes
(tests/data/vision_models.json), initialisation, forward shapes, and two forward passes with
torchvision's weights and outputs (tests/data/vision_model_forward.npz); both files are
written by tools/make_vision_listing.py."""

import json
import math
import os
import pathlib

import numpy as np
import pytest

import rgrad
from rgrad import nn

_NEEDED = ("MaxPool2d", "AdaptiveAvgPool2d", "BatchNorm2d")
_MISSING = [n for n in _NEEDED if not hasattr(nn, n)]
pytestmark = pytest.mark.skipif(
    bool(_MISSING), reason=f"the models need rgrad.nn.{', '.join(_MISSING)} (not in rgrad yet)"
)

from rgrad.vision import models as M  # noqa: E402

DATA = pathlib.Path(__file__).parent / "data"
LISTING = json.loads((DATA / "vision_models.json").read_text())
FWD = np.load(DATA / "vision_model_forward.npz")
# Building VGG-16 / AlexNet allocates and initialises 60-140M parameters (several seconds
# each on a busy machine): their full builds run with RGRAD_VISION_BIG=1; by default their
# convolutional part (make_layers) is checked.
BIG = {"vgg11", "vgg11_bn", "vgg16", "vgg16_bn", "alexnet", "vgg11_bn_c10"}
RUN_BIG = os.environ.get("RGRAD_VISION_BIG") == "1"


def layout(model):
    return [
        [k, list(v.shape), str(v.dtype).replace("rgrad.", "")]
        for k, v in model.state_dict().items()
    ]


@pytest.mark.parametrize("key", sorted(LISTING))
def test_state_dict_layout(key):
    entry = LISTING[key]
    if key in BIG and not RUN_BIG:
        pytest.skip("large model: set RGRAD_VISION_BIG=1 (test_vgg_features_layout covers VGG)")
    model = getattr(M, entry["builder"])(weights=None, **entry["kwargs"])
    assert layout(model) == entry["state"]
    assert sum(p.numel() for p in model.parameters()) == entry["num_params"]


@pytest.mark.parametrize(
    ("key", "cfg", "bn"),
    [
        ("vgg11", "A", False),
        ("vgg11_bn", "A", True),
        ("vgg16", "D", False),
        ("vgg16_bn", "D", True),
    ],
)
def test_vgg_features_layout(key, cfg, bn):
    from rgrad.vision.models.vgg import cfgs, make_layers

    want = [e for e in LISTING[key]["state"] if e[0].startswith("features.")]
    got = [["features." + k, s, d] for k, s, d in layout(make_layers(cfgs[cfg], batch_norm=bn))]
    assert got == want
    classifier = [e[:2] for e in LISTING[key]["state"] if e[0].startswith("classifier.")]
    assert classifier == [
        ["classifier.0.weight", [4096, 25088]],
        ["classifier.0.bias", [4096]],
        ["classifier.3.weight", [4096, 4096]],
        ["classifier.3.bias", [4096]],
        ["classifier.6.weight", [1000, 4096]],
        ["classifier.6.bias", [1000]],
    ]


def test_resnet_init():
    rgrad.manual_seed(0)
    m = M.resnet18(num_classes=7)
    w = m.layer1[0].conv1.weight.detach().numpy()
    fan_out = 64 * 3 * 3
    assert abs(w.std() - math.sqrt(2.0 / fan_out)) < 0.1 * math.sqrt(2.0 / fan_out)
    assert abs(w.mean()) < 0.01
    assert np.all(m.bn1.weight.detach().numpy() == 1) and np.all(m.bn1.bias.detach().numpy() == 0)
    assert np.all(m.layer1[0].bn2.weight.detach().numpy() == 1)
    z = M.resnet18(num_classes=7, zero_init_residual=True)
    assert np.all(z.layer1[0].bn2.weight.detach().numpy() == 0)
    assert np.all(z.layer1[0].bn1.weight.detach().numpy() == 1)
    z50 = M.resnet50(num_classes=3, zero_init_residual=True)
    assert np.all(z50.layer2[1].bn3.weight.detach().numpy() == 0)
    assert tuple(m.fc.weight.shape) == (7, 512)


def test_mobilenet_and_squeezenet_init():
    rgrad.manual_seed(1)
    m = M.mobilenet_v2(num_classes=10)
    lin = m.classifier[1].weight.detach().numpy()
    assert abs(lin.std() - 0.01) < 0.001 and np.all(m.classifier[1].bias.detach().numpy() == 0)
    conv = m.features[18][0].weight.detach().numpy()  # 1x1, 320 -> 1280: fan_out 1280
    assert abs(conv.std() - math.sqrt(2.0 / 1280)) < 0.05 * math.sqrt(2.0 / 1280)
    s = M.squeezenet1_1(num_classes=10)
    final = s.classifier[1].weight.detach().numpy()
    assert abs(final.std() - 0.01) < 0.002
    assert np.all(s.features[3].squeeze.bias.detach().numpy() == 0)
    # kaiming_uniform_ with a=0: bound sqrt(6 / fan_in)
    sq = s.features[3].squeeze.weight.detach().numpy()
    assert np.abs(sq).max() <= math.sqrt(6.0 / 64) + 1e-6


@pytest.mark.parametrize(
    ("builder", "kwargs", "shape"),
    [
        ("resnet18", {"num_classes": 5}, (2, 3, 32, 32)),
        ("resnet50", {"num_classes": 4}, (2, 3, 32, 32)),
        ("mobilenet_v2", {"num_classes": 6, "width_mult": 0.5}, (2, 3, 32, 32)),
        ("squeezenet1_1", {"num_classes": 3}, (2, 3, 48, 48)),
    ],
)
def test_forward_shapes(builder, kwargs, shape):
    model = getattr(M, builder)(**kwargs)
    out = model(rgrad.rand(*shape))
    assert tuple(out.shape) == (shape[0], kwargs["num_classes"])
    model.eval()
    with rgrad.no_grad():
        assert tuple(model(rgrad.rand(*shape)).shape) == (shape[0], kwargs["num_classes"])


def test_backward_through_resnet():
    model = M.resnet18(num_classes=3)
    x = rgrad.rand(2, 3, 32, 32)
    model(x).sum().backward()
    assert model.conv1.weight.grad is not None and model.fc.bias.grad is not None
    assert tuple(model.conv1.weight.grad.shape) == (64, 3, 7, 7)


def _state(tag):
    prefix = f"{tag}/"
    out = {}
    for k in FWD.files:
        if k.startswith(prefix):
            v = FWD[k]
            v = v.astype(np.float32) if v.dtype == np.float16 else v
            out[k[len(prefix) :]] = rgrad.from_numpy(np.ascontiguousarray(v))
    return out


@pytest.mark.parametrize(
    ("tag", "builder", "kwargs"),
    [
        ("squeezenet", "squeezenet1_1", {"num_classes": 10}),
        ("mobilenet", "mobilenet_v2", {"num_classes": 10, "width_mult": 0.25}),
    ],
)
def test_forward_matches_torchvision(tag, builder, kwargs):
    state = _state(tag)
    model = getattr(M, builder)(weights=state, **kwargs)
    model.eval()
    with rgrad.no_grad():
        out = model(rgrad.from_numpy(FWD["input"])).numpy()
    want = FWD[f"{tag}_out"]
    np.testing.assert_allclose(out, want, rtol=1e-4, atol=1e-4 * np.abs(want).max())


def test_weights_from_a_checkpoint_file(tmp_path):
    state = _state("squeezenet")
    path = tmp_path / "squeezenet.pt"
    rgrad.save(state, path)
    model = M.squeezenet1_1(weights=str(path), num_classes=10, progress=False)
    got = model.state_dict()
    for k, v in state.items():
        np.testing.assert_array_equal(got[k].numpy(), v.numpy())
    rgrad.save({"state_dict": state}, tmp_path / "wrapped.pt")
    M.squeezenet1_1(weights=tmp_path / "wrapped.pt", num_classes=10)
    with pytest.raises(RuntimeError):
        M.squeezenet1_1(weights=str(path))  # 1000 classes: the classifier shapes differ
    with pytest.raises(TypeError, match="weights should be None, the path"):
        M.resnet18(weights=3)


def _reads_torch_files(path):
    try:
        rgrad.load(path)
    except RuntimeError as e:
        if "PyTorch checkpoint" in str(e):
            return False
        raise
    return True


def test_weights_from_a_torch_save_file():
    path = DATA / "vision_mobilenet_v2_w025_c10.pt"
    if not _reads_torch_files(path):
        pytest.skip("rgrad.load does not read torch.save files yet")
    model = M.mobilenet_v2(weights=str(path), num_classes=10, width_mult=0.25)
    want = _state("mobilenet")
    got = model.state_dict()
    assert list(got) == list(want)
    for k, v in want.items():
        np.testing.assert_array_equal(got[k].numpy(), v.numpy(), err_msg=k)
    model.eval()
    with rgrad.no_grad():
        out = model(rgrad.from_numpy(FWD["input"])).numpy()
    want_out = FWD["mobilenet_out"]
    np.testing.assert_allclose(out, want_out, rtol=1e-4, atol=1e-4 * np.abs(want_out).max())
