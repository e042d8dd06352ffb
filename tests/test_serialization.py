"""rgrad.save / rgrad.load: safetensors files, round trips, interop and corrupted files."""

import io
import json
import struct

import numpy as np
import pytest

import rgrad
import rgrad.nn as nn


def header(path):
    """The safetensors header, parsed by hand as any other safetensors reader does."""
    data = path.read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    return json.loads(data[8 : 8 + n]), data[8 + n :]


@pytest.mark.parametrize(
    "dtype", [rgrad.float32, rgrad.float64, rgrad.int64, rgrad.int32, rgrad.bool]
)
def test_tensor_round_trip_keeps_values_dtype_shape(tmp_path, dtype):
    t = (rgrad.arange(24).reshape(2, 3, 4) % 5).to(dtype)
    rgrad.save(t, tmp_path / "t.safetensors")
    back = rgrad.load(tmp_path / "t.safetensors")
    assert back.dtype == dtype and back.shape == t.shape
    np.testing.assert_array_equal(back.numpy(), t.numpy())


def test_non_contiguous_and_grad_tensors_save_their_values(tmp_path):
    x = rgrad.randn(3, 4, requires_grad=True)
    rgrad.save({"xt": x.t(), "x": x}, tmp_path / "f.safetensors")
    back = rgrad.load(tmp_path / "f.safetensors")
    np.testing.assert_array_equal(back["xt"].numpy(), x.detach().t().numpy())
    assert not back["x"].requires_grad


def test_state_dict_is_plain_safetensors_readable_by_other_tools(tmp_path):
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    path = tmp_path / "model.safetensors"
    rgrad.save(model.state_dict(), path)
    meta, body = header(path)
    names = {k for k in meta if k != "__metadata__"}
    assert names == {"0.weight", "0.bias", "2.weight", "2.bias"}
    w = meta["0.weight"]
    assert w["dtype"] == "F32" and w["shape"] == [4, 3]
    start, end = w["data_offsets"]
    raw = np.frombuffer(body[start:end], dtype="<f4").reshape(4, 3)
    np.testing.assert_array_equal(raw, model[0].weight.detach().numpy())
    fresh = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    fresh.load_state_dict(rgrad.load(path))
    x = rgrad.randn(5, 3)
    np.testing.assert_array_equal(fresh(x).detach().numpy(), model(x).detach().numpy())


def test_nested_optimizer_state_round_trips(tmp_path):
    p = nn.Parameter(rgrad.randn(3))
    opt = rgrad.optim.Adam([p], lr=0.01)
    p.sum().backward()
    opt.step()
    state = opt.state_dict()
    rgrad.save(state, tmp_path / "opt.safetensors")
    back = rgrad.load(tmp_path / "opt.safetensors")
    assert back["param_groups"] == state["param_groups"]
    for key in ("exp_avg", "exp_avg_sq", "step"):
        np.testing.assert_array_equal(back["state"][0][key].numpy(), state["state"][0][key].numpy())


def test_file_objects_work_too():
    buf = io.BytesIO()
    rgrad.save({"a": rgrad.ones(2)}, buf)
    buf.seek(0)
    assert rgrad.load(buf)["a"].tolist() == [1.0, 1.0]


def test_plain_safetensors_file_without_our_metadata_loads_as_dict(tmp_path):
    # A minimal file written by hand, as another tool would: one float64 tensor.
    values = np.array([1.5, -2.0], dtype="<f8")
    head = json.dumps({"v": {"dtype": "F64", "shape": [2], "data_offsets": [0, 16]}}).encode()
    head += b" " * (-len(head) % 8)
    path = tmp_path / "other.safetensors"
    path.write_bytes(struct.pack("<Q", len(head)) + head + values.tobytes())
    back = rgrad.load(path)
    assert list(back) == ["v"] and back["v"].dtype == rgrad.float64
    assert back["v"].tolist() == [1.5, -2.0]


@pytest.mark.parametrize("cut", [0, 4, 8, 30, -3])
def test_truncated_files_raise_a_clear_error(tmp_path, cut):
    good = tmp_path / "good.safetensors"
    rgrad.save({"w": rgrad.randn(4, 4)}, good)
    data = good.read_bytes()
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(data[:cut] if cut >= 0 else data[:cut])
    with pytest.raises(RuntimeError, match="not a valid safetensors file"):
        rgrad.load(bad)


def test_garbage_and_missing_files_raise(tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all}")
    with pytest.raises(RuntimeError, match="not a valid safetensors file"):
        rgrad.load(bad)
    with pytest.raises(RuntimeError, match="cannot read"):
        rgrad.load(tmp_path / "missing.safetensors")


def test_corrupted_structure_metadata_raises(tmp_path):
    values = np.zeros(1, dtype="<f4")
    meta = {"__metadata__": {"rgrad.structure": "{broken"}}
    meta["t"] = {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}
    head = json.dumps(meta).encode()
    head += b" " * (-len(head) % 8)
    path = tmp_path / "odd.safetensors"
    path.write_bytes(struct.pack("<Q", len(head)) + head + values.tobytes())
    with pytest.raises(RuntimeError, match="structure is corrupted"):
        rgrad.load(path)


def test_unpicklable_objects_are_rejected_on_save(tmp_path):
    with pytest.raises(TypeError):
        rgrad.save({"f": (i for i in range(3))}, tmp_path / "x.safetensors")


def test_ordered_dicts_come_back_ordered(tmp_path):
    # torch.load gives back the OrderedDict that state_dict() made (and it prints as one).
    from collections import OrderedDict

    model = nn.Linear(2, 3)
    path = tmp_path / "ckpt.pt"
    rgrad.save({"epoch": 3, "model_state_dict": model.state_dict(), "plain": {"a": 1}}, path)
    back = rgrad.load(path)
    assert type(back) is dict and type(back["plain"]) is dict
    assert type(back["model_state_dict"]) is OrderedDict
    assert list(back["model_state_dict"]) == ["weight", "bias"]
    assert repr(back["model_state_dict"]).startswith("OrderedDict([('weight', tensor(")
