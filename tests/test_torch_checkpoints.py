"""rgrad.load reads files written by torch.save (zip and legacy formats) with a restricted
unpickler, and rgrad.save writes files torch.load reads. The files in tests/data/torch_ckpt/
were made by PyTorch 2.15 (tools/make_torch_checkpoints.py) with its values in expected.npz;
the rgrad_*.pt there were written by rgrad (tools/make_rgrad_checkpoints.py) and read back by
torch.load(weights_only=True) in that script, which recorded their hashes."""

import hashlib
import importlib.util
import io
import json
import os
import pathlib
import pickle
import pickletools
import struct
import zipfile
from collections import OrderedDict

import numpy as np
import pytest

import rgrad
import rgrad.nn as nn
import rgrad.nn.functional as F
from rgrad import serialization

DATA = pathlib.Path(__file__).parent / "data" / "torch_ckpt"
EXPECTED = np.load(DATA / "expected.npz")


def _tools_module():
    spec = importlib.util.spec_from_file_location(
        "make_rgrad_checkpoints",
        pathlib.Path(__file__).parent.parent / "tools" / "make_rgrad_checkpoints.py",
    )
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _cnn():
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(4, 8, 3, stride=2),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(8 * 3 * 3, 10),
    )


def test_mlp_state_dict_loads_with_pytorchs_values():
    sd = rgrad.load(DATA / "mlp_state.pt")
    assert type(sd) is OrderedDict
    assert list(sd) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    for k, v in sd.items():
        assert v.dtype == rgrad.float32 and not v.requires_grad
        np.testing.assert_array_equal(v.numpy(), EXPECTED[f"mlp/{k}"])
    # state_dict()'s _metadata (module versions) comes back as PyTorch sets it.
    assert sd._metadata[""] == {"version": 1}
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    model.load_state_dict(sd)
    np.testing.assert_array_equal(model[2].bias.detach().numpy(), EXPECTED["mlp/2.bias"])


@pytest.mark.parametrize("name", ["cnn_state.pt", "cnn_state_legacy.pt"])
def test_cnn_state_dict_gives_pytorchs_outputs(name):
    model = _cnn()
    model.load_state_dict(rgrad.load(DATA / name))
    out = model(rgrad.tensor(EXPECTED["cnn_input"]))
    np.testing.assert_allclose(out.detach().numpy(), EXPECTED["cnn_output"], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["views.pt", "views_legacy.pt"])
def test_views_offsets_and_strides(name):
    obj = rgrad.load(DATA / name)
    for k, v in obj.items():
        want = EXPECTED[f"views/{k}"]
        assert tuple(v.shape) == want.shape, k
        np.testing.assert_array_equal(v.numpy(), want, err_msg=k)
    # Views of one storage that are (permuted) contiguous blocks of it share it in rgrad too:
    # a write through the base shows in them. Other layouts (a step, a sub-block) are copies.
    obj["base"].add_(100.0)
    assert obj["t"][3, 2].item() == EXPECTED["views/base"][2, 3] + 100
    assert obj["row"][0].item() == 106.0 and obj["scalar"].item() == 115.0
    assert obj["block"][0, 0].item() == 8.0


def test_every_dtype_rgrad_has():
    obj = rgrad.load(DATA / "dtypes.pt")
    assert {k: v.dtype for k, v in obj.items()} == {
        "float32": rgrad.float32,
        "float64": rgrad.float64,
        "int64": rgrad.int64,
        "int32": rgrad.int32,
        "bool": rgrad.bool,
    }
    for k, v in obj.items():
        np.testing.assert_array_equal(v.numpy(), EXPECTED[f"dtypes/{k}"])


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "int16", "int8", "uint8"])
def test_8_and_16_bit_dtypes_load(dtype):
    # tensor([0, 1, 2, 3], dtype=...) saved by PyTorch (tests/test_dtypes_reduced.py checks bits)
    w = rgrad.load(DATA / f"dtype_{dtype}.pt")["w"]
    assert w.dtype is getattr(rgrad, dtype)
    assert w.tolist() == [0, 1, 2, 3]


def test_nested_containers_parameters_and_plain_values():
    obj = rgrad.load(DATA / "nested.pt")
    assert obj["epoch"] == 3 and obj["loss"] == 0.25 and obj["name"] == "run-1"
    assert obj["none"] is None and obj["flags"] == {True, False} and obj["raw"] == b"\x00\x01"
    assert obj["size"] == rgrad.Size([2, 3]) and obj["dtype"] is rgrad.float64
    np.testing.assert_array_equal(obj["list"][0].numpy(), [1.0, 1.0])
    assert obj["list"][1][1] == "tag" and obj["list"][1][0].dtype == rgrad.int64
    assert obj["deep"]["a"]["b"]["c"].tolist() == [[7.0, 7.0], [7.0, 7.0]]
    assert isinstance(obj["param"], nn.Parameter) and obj["param"].requires_grad
    assert obj["param"].tolist() == [1.0, -1.0]
    assert isinstance(obj["frozen"], nn.Parameter) and not obj["frozen"].requires_grad
    assert obj["grad_tensor"].requires_grad and obj["grad_tensor"].is_leaf
    for k in ("weight", "bias"):
        np.testing.assert_array_equal(
            obj["state_dict"][k].numpy(), EXPECTED[f"nested/state_dict/{k}"]
        )


@pytest.mark.parametrize(
    "name, make",
    [
        ("sgd", lambda p: rgrad.optim.SGD(p, lr=0.1, momentum=0.9)),
        ("adam", lambda p: rgrad.optim.Adam(p, lr=0.01)),
    ],
)
def test_optimizer_state_dict_continues_pytorchs_trajectory(name, make):
    ckpt = rgrad.load(DATA / f"optim_{name}.pt")
    model = nn.Linear(3, 2)
    model.load_state_dict(ckpt["model"])
    opt = make(model.parameters())
    opt.load_state_dict(ckpt["optim"])
    for _ in range(3):
        opt.zero_grad()
        F.mse_loss(model(ckpt["x"]), ckpt["y"]).backward()
        opt.step()
    for k, v in model.state_dict().items():
        want = EXPECTED[f"optim_{name}_after/{k}"]
        np.testing.assert_allclose(v.detach().numpy(), want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["evil_eval.pt", "evil_system_legacy.pt"])
def test_malicious_pickles_never_run(tmp_path, monkeypatch, name):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(pickle.UnpicklingError, match="Weights only load failed") as info:
        rgrad.load(DATA / name)
    assert not (tmp_path / "rgrad_pwned_marker").exists()
    msg = str(info.value)
    if name == "evil_eval.pt":
        assert "Unsupported global: GLOBAL eval was not an allowed global by default" in msg
    else:
        assert "GLOBAL posix.system whose module posix is blocked" in msg
    # The same bytes from a file object.
    with open(DATA / name, "rb") as f, pytest.raises(pickle.UnpicklingError):
        rgrad.load(f)
    assert not (tmp_path / "rgrad_pwned_marker").exists()


def _zip_with_pickle(tmp_path, payload):
    path = tmp_path / "crafted.pt"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("archive/data.pkl", payload)
        zf.writestr("archive/byteorder", "little")
    return path


@pytest.mark.parametrize(
    "payload",
    [
        b"cbuiltins\nexec\n(X\x10\x00\x00\x00import os; 1 + 1tR.",
        b"\x80\x02csubprocess\nPopen\n(X\x04\x00\x00\x00trueq\x00tR.",
        # BUILD on an allowed function (would overwrite its attributes): refused.
        b"\x80\x02ccollections\nOrderedDict\n}X\x01\x00\x00\x00a\x4b\x01sb.",
        b"\x80\x02ctorch._utils\n_rebuild_tensor_v2\n}X\x08\x00\x00\x00__code__Nsb.",
    ],
)
def test_crafted_pickles_are_refused(tmp_path, payload):
    with pytest.raises(pickle.UnpicklingError, match="Weights only load failed"):
        rgrad.load(_zip_with_pickle(tmp_path, payload))


def test_allowed_globals_cannot_allocate_by_size(tmp_path):
    # bytearray(2**30) would allocate a GiB from a 30-byte file.
    payload = b"\x80\x02cbuiltins\nbytearray\nJ\x00\x00\x00\x40\x85R."
    with pytest.raises(RuntimeError, match="bytearray of a size is not loaded"):
        rgrad.load(_zip_with_pickle(tmp_path, payload))


def test_safe_globals_allow_a_class(tmp_path):
    point = Point(1, 2)
    rgrad.save({"p": point, "w": rgrad.ones(1)}, tmp_path / "p.pt")
    with pytest.raises(pickle.UnpicklingError, match="Point"):
        rgrad.load(tmp_path / "p.pt")
    with serialization.safe_globals([Point]):
        assert serialization.get_safe_globals() == [Point]
        assert rgrad.load(tmp_path / "p.pt")["p"] == point
    assert serialization.get_safe_globals() == []
    serialization.add_safe_globals([(Point, f"{__name__}.Point")])
    try:
        assert rgrad.load(tmp_path / "p.pt")["p"] == point
    finally:
        serialization.clear_safe_globals()
    assert serialization.get_safe_globals() == []
    assert rgrad.load(tmp_path / "p.pt", weights_only=False)["p"] == point


class Point:
    def __init__(self, x, y):
        self.x, self.y = x, y

    def __eq__(self, other):
        return (self.x, self.y) == (other.x, other.y)


def test_weights_only_false_loads_objects_but_not_unknown_torch_classes(tmp_path):
    model = nn.Sequential(nn.Linear(2, 3), nn.ReLU())
    rgrad.save(model, tmp_path / "whole.pt")
    back = rgrad.load(tmp_path / "whole.pt", weights_only=False)
    x = rgrad.randn(4, 2)
    assert rgrad.equal(back(x), model(x))
    payload = b"\x80\x02ctorch.nn.modules.linear\nLinear\n)\x81."
    with pytest.raises(RuntimeError, match="cannot build torch.nn.modules.linear.Linear"):
        rgrad.load(_zip_with_pickle(tmp_path, payload), weights_only=False)


def _cut_and_flip(data, how):
    if how == "truncated":
        return data[: len(data) // 2]
    if how == "tail":
        return data[:-10]
    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 0xFF
    return bytes(flipped)


@pytest.mark.parametrize("name", ["mlp_state.pt", "views_legacy.pt", "cnn_state_legacy.pt"])
@pytest.mark.parametrize("how", ["truncated", "tail", "flipped"])
def test_truncated_and_corrupted_files_raise_runtime_error(tmp_path, name, how):
    bad = tmp_path / name
    bad.write_bytes(_cut_and_flip((DATA / name).read_bytes(), how))
    try:
        rgrad.load(bad)
    except RuntimeError as e:
        assert "rgrad.load" in str(e) or "corrupt" in str(e)
    except BaseException as e:  # noqa: BLE001 - any other kind fails the test
        pytest.fail(f"{type(e).__name__}: {e}")
    else:
        # A flipped byte may fall where no check covers it (a float's bytes in a legacy file,
        # a zip record's padding), as in PyTorch; a cut file never loads.
        assert how == "flipped"


def test_storage_past_its_data_is_refused(tmp_path):
    data = bytearray((DATA / "views_legacy.pt").read_bytes())
    path = tmp_path / "short.pt"
    path.write_bytes(bytes(data[:-8]))
    with pytest.raises(RuntimeError, match="truncated"):
        rgrad.load(path)


def test_map_location_and_mmap(tmp_path):
    seen = []
    sd = rgrad.load(DATA / "mlp_state.pt", map_location=lambda s, loc: seen.append(loc))
    assert seen and set(seen) == {"cpu"} and sd["0.weight"].device.type == "cpu"
    assert rgrad.load(DATA / "mlp_state.pt", map_location="cpu", mmap=True)["0.bias"].shape == (8,)
    assert rgrad.load(DATA / "mlp_state.pt", map_location={"cpu": "cpu"})["2.bias"].numel() == 3


def test_cuda_checkpoint_needs_map_location(tmp_path):
    # A file whose storages were saved from "cuda:0" (PyTorch on a GPU): the same bytes with
    # the location string changed.
    src = zipfile.ZipFile(DATA / "mlp_state.pt")
    path = tmp_path / "cuda.pt"
    with zipfile.ZipFile(path, "w") as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename.endswith("data.pkl"):
                data = data.replace(b"X\x03\x00\x00\x00cpu", b"X\x06\x00\x00\x00cuda:0")
            dst.writestr(info.filename, data)
    with pytest.raises(RuntimeError, match="torch.cuda.is_available\\(\\) is False"):
        rgrad.load(path)
    seen = []
    sd = rgrad.load(path, map_location=lambda s, loc: seen.append(loc) or s)
    assert set(seen) == {"cuda:0"} and sd["0.weight"].device.type == "cpu"
    sd = rgrad.load(path, map_location="cpu")
    np.testing.assert_array_equal(sd["0.weight"].numpy(), EXPECTED["mlp/0.weight"])


def _sha(path):
    return hashlib.sha256(pathlib.Path(path).read_bytes()).hexdigest()


def test_rgrad_writes_the_files_pytorch_read(tmp_path):
    verified = json.loads((DATA / "rgrad_verified.json").read_text())
    tools = _tools_module()
    objects = tools.objects()
    assert sorted(verified) == sorted(objects)
    for name, (obj, kwargs) in objects.items():
        rgrad.save(obj, tmp_path / name, **kwargs)
        assert _sha(tmp_path / name) == verified[name], (
            f"{name}: rgrad.save writes other bytes than PyTorch verified; rerun "
            "tools/make_rgrad_checkpoints.py and tools/make_torch_checkpoints.py"
        )
        back = rgrad.load(tmp_path / name)
        want = np.load(DATA / name.replace(".pt", ".npz"))
        got = tools.flatten("", back, {})
        assert sorted(got) == sorted(want.files)
        for k in want.files:
            np.testing.assert_array_equal(got[k], want[k])


def test_round_trip_keeps_structure_and_sharing(tmp_path):
    model = nn.Linear(3, 2)
    opt = rgrad.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(rgrad.randn(4, 3)).sum().backward()
    opt.step()
    obj = {"model": model.state_dict(), "optim": opt.state_dict(), "tied": [model.weight] * 2}
    for kwargs in ({}, {"_use_new_zipfile_serialization": False}):
        buf = io.BytesIO()
        rgrad.save(obj, buf, **kwargs)
        back = rgrad.load(io.BytesIO(buf.getvalue()))
        assert back["tied"][0] is back["tied"][1] and isinstance(back["tied"][0], nn.Parameter)
        assert back["optim"]["param_groups"] == opt.state_dict()["param_groups"]
        np.testing.assert_array_equal(
            back["optim"]["state"][0]["momentum_buffer"].numpy(),
            opt.state_dict()["state"][0]["momentum_buffer"].numpy(),
        )
        assert rgrad.equal(back["model"]["weight"], model.weight.detach())


def test_formats_by_name_and_choice(tmp_path):
    t = {"w": rgrad.arange(3.0)}
    rgrad.save(t, tmp_path / "a.pt")
    assert (tmp_path / "a.pt").read_bytes()[:4] == b"PK\x03\x04"
    rgrad.save(t, tmp_path / "a.safetensors")
    (n,) = struct.unpack("<Q", (tmp_path / "a.safetensors").read_bytes()[:8])
    assert n < 1000
    rgrad.save(t, tmp_path / "b.bin", format="safetensors")
    for name in ("a.pt", "a.safetensors", "b.bin"):
        assert rgrad.load(tmp_path / name)["w"].tolist() == [0.0, 1.0, 2.0]
    with pytest.raises(ValueError, match="format must be one of"):
        rgrad.save(t, tmp_path / "c", format="onnx")


def test_archive_records_as_pytorch_writes_them(tmp_path):
    rgrad.save({"w": rgrad.ones(2)}, tmp_path / "model.pt")
    with zipfile.ZipFile(tmp_path / "model.pt") as zf:
        names = zf.namelist()
        assert names[0] == "model/data.pkl"
        assert {"model/byteorder", "model/version", "model/.data/serialization_id"} <= set(names)
        assert zf.read("model/byteorder") == b"little"
        for info in zf.infolist():
            if info.filename.startswith("model/data/"):
                start = info.header_offset + 30 + len(info.filename) + len(info.extra)
                assert start % 64 == 0


def test_files_of_earlier_rgrad_versions_still_load():
    # Written by rgrad.save of e5e4cb1, before it wrote PyTorch's format (safetensors + JSON).
    back = rgrad.load(DATA / "rgrad_safetensors_v1.safetensors")
    assert back["epoch"] == 2 and back["w"].tolist() == [[1.0, 2.0], [3.0, 4.0]]
    assert type(back["sd"]) is OrderedDict and back["sd"]["b"].dtype == rgrad.int64


def test_raw_pickle_is_not_a_checkpoint(tmp_path):
    path = tmp_path / "obj.pkl"
    path.write_bytes(pickle.dumps({"w": [1.0, 2.0]}, protocol=4))
    with pytest.raises(RuntimeError, match="Invalid magic number"):
        rgrad.load(path)
    assert os.path.exists(path)


@pytest.mark.wgpu
@pytest.mark.parametrize("name", ["views.pt", "views_legacy.pt"])
def test_map_location_wgpu_puts_views_on_the_device(name):
    obj = rgrad.load(DATA / name, map_location="wgpu")
    for k, v in obj.items():
        assert v.device.type == "wgpu", k
        np.testing.assert_array_equal(v.cpu().numpy(), EXPECTED[f"views/{k}"], err_msg=k)
    out = rgrad.load(DATA / "cnn_state.pt", map_location={"cpu": "wgpu"})
    assert out["0.weight"].device.type == "wgpu"


class _LM(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(5, 3)
        self.rnn = nn.LSTM(3, 4)
        self.head = nn.Linear(4, 5)


def test_whole_module_loads_weights_only_with_its_classes_allowlisted(tmp_path):
    # pytorch/examples' word_language_model: torch.save(model) and, in PyTorch >= 2.6,
    # torch.load inside safe_globals([the model's classes]). The module registries must go in
    # as plain dicts, as PyTorch writes them: no `builtins.dict` global, which such loads refuse.
    model = _LM()
    rgrad.save(model, tmp_path / "m.pt")
    with zipfile.ZipFile(tmp_path / "m.pt") as z:
        pkl = z.read(next(n for n in z.namelist() if n.endswith("data.pkl")))
    globals_ = [a for op, a, _ in pickletools.genops(pkl) if op.name == "GLOBAL"]
    assert not any(g.endswith(" dict") for g in globals_), globals_
    with pytest.raises(pickle.UnpicklingError, match="_LM"):
        rgrad.load(tmp_path / "m.pt")
    with serialization.safe_globals([_LM, nn.Embedding, nn.LSTM, nn.Linear]):
        loaded = rgrad.load(tmp_path / "m.pt")
    assert list(loaded.state_dict()) == list(model.state_dict())
    for k, v in model.state_dict().items():
        assert rgrad.equal(loaded.state_dict()[k], v)
    assert loaded.rnn.weight_ih_l0 is loaded._modules["rnn"]._parameters["weight_ih_l0"]
