"""Reliability of rgrad.save / rgrad.load on hostile files (issue 11, items 10 and 13): reserved
names round-trip, PyTorch checkpoints are recognised, corrupted files raise RuntimeError (never
RecursionError, TypeError, a panic or a huge allocation), ``map_location`` is honoured."""

import base64
import json
import pickle
import random
import struct
import zlib
from collections import OrderedDict

import numpy as np
import pytest

import rgrad

# Files written by PyTorch 2.15's torch.save({"w": torch.ones(2)}, f): the zip format and
# the legacy one (_use_new_zipfile_serialization=False), zlib-compressed and base64-encoded so
# the test needs no PyTorch.
TORCH_ZIP = (
    "eNqlVM+L00AUniRt2qb14Moq9bDnCtptkv5cVipRcsnBdkUoXkI2ma3BbLOTTHfZBWFBingRL4InD569K/4XCt48"
    "6cmT4NWLM5lak3QbYX0wDEne973v5X0zA0PIAVAsgqUogysAn2w6FrbqB488XbsEHizHKf8YgRFH8o8QZ2M/sB/W"
    "zSl2vVAyA7g7dT3HxHAS+oF5qEiIr9VGBZIckkxrDJHAIJLu+Ra+x15KKBcRNlB+JJDdPpgi0eAxKgwNYPAzVDS4"
    "GSo9s23f86CNXX8SSncDBwbQuePaWELStR1Uxqiygy6E9YFRKG59uPj0DaGia7Cy4zWwQTuu7/nBvoXNQxiEhFvX"
    "rp7V+DxkSv/ux5cnVDGXSb8OtiP6ee+m5bnjyT6cYF3rZlTIjnaTCugfoe88KcFnCqiAHBWwe4yhT3+XrgHguRh7"
    "kHLMbn6riiRLzOQogdt/XLHZ0LX+uYXPA4DTPl1UwYuh+JmWLGYqkMAtqmAxne3/kqBKtPLH1+P7//5/VdCJBhg1"
    "H8LAJRM8saj/TNfRNfU8QuRWR+nKvV5LlrutZrupNpR2o6V2W6ra6zZVWW73OkpHVajKl89/fa0RHbVIJUfFLnTG"
    "HV5eUh47x2lg3LtrCdBPBkwdhzQ+br31BH7IgbP9nqaIO6+SoPjEKBaOTSPjjiklkJd58NenaVh83FIC9orBVvQa"
    "H0A1eXUIYLU1BoYoXp8nbgg3FqBCan/Lsf29wHaCiz45efbMrpe8yDCFKJ/l/gbwKDHH"
)
TORCH_LEGACY = (
    "eNptTz1LA0EQvdu7GF2N2NpZnk2IkphY2Uiaw6/YbCPLubckK8ttZncuohBIE1B/gz/Av+ZPECycGOwcmIF58+bN"
    "mwV74/b7ffh18PBxvd9esIvPhOocokzsRVE09Q6dclbOtA/GVRATQbRoYg2i1VJXpSkqYC+CE4hPUy2DedYBkjmk"
    "mWgQGCbOIzRyJhLqTIWwkaciXWm4agzNPK3r9U0RE/gIsULn1aQtazQ2cOn1fW1sKVFXwXk5O+bAskw0V9rELMYa"
    "kvUKH1pX4O0a5JCKXeKcdvud/tGg1+30B70TaPzaUNOabLBLhOZNHuVsCZt5vIStV0XfWq2Qng38ypfa6/LcKOTA"
    "D0ewjbAzglYgv3fk9x/5uGiz6C8WZ6v8ATHxZFA="
)


def torch_file(blob):
    return zlib.decompress(base64.b64decode(blob))


def safetensors_bytes(header, data=b""):
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + data


def raises_runtime(path, match=None):
    """load(path) raises RuntimeError (matching `match`); anything else (a panic is a
    BaseException) fails the test with what it was."""
    try:
        rgrad.load(path)
    except RecursionError as e:  # a RuntimeError subclass, but not the documented error
        pytest.fail(f"load raised RecursionError: {e}")
    except RuntimeError as e:
        if match is not None:
            assert match in str(e), str(e)
        return str(e)
    except BaseException as e:  # noqa: BLE001 - the point is to see every other kind
        pytest.fail(f"load raised {type(e).__name__}: {e}")
    pytest.fail("load accepted a corrupted file")


def test_metadata_key_round_trips(tmp_path):
    sd = OrderedDict([("__metadata__", rgrad.arange(3.0)), ("w", rgrad.ones(2))])
    rgrad.save(sd, tmp_path / "m.safetensors")
    back = rgrad.load(tmp_path / "m.safetensors")
    assert list(back) == ["__metadata__", "w"]
    np.testing.assert_array_equal(back["__metadata__"].numpy(), [0.0, 1.0, 2.0])
    # A single tensor saved under that path name too.
    rgrad.save({"__metadata__": {"__metadata__": rgrad.ones(1)}}, tmp_path / "n.safetensors")
    assert rgrad.load(tmp_path / "n.safetensors")["__metadata__"]["__metadata__"].item() == 1.0


@pytest.mark.parametrize("blob", [TORCH_ZIP, TORCH_LEGACY], ids=["zip", "legacy"])
def test_pytorch_checkpoint_loads(tmp_path, blob):
    # Sniffed by its first bytes (a zip archive or a pickle), read by the torch-format reader.
    path = tmp_path / "model.pt"
    path.write_bytes(torch_file(blob))
    assert rgrad.load(path)["w"].tolist() == [1.0, 1.0]
    with open(path, "rb") as f:  # the file-object path too
        assert rgrad.load(f)["w"].tolist() == [1.0, 1.0]


def test_safetensors_header_that_starts_like_a_pickle_still_loads(tmp_path):
    # A header of 640 bytes has the length bytes 80 02 00 ..: a pickle's first two bytes.
    base = {"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}
    raw = json.dumps(base).encode()
    raw += b" " * (640 - len(raw))
    path = tmp_path / "p.safetensors"
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + struct.pack("<f", 2.5))
    assert rgrad.load(path)["w"].item() == 2.5


def test_dev_zero_stops_at_the_header():
    raises_runtime("/dev/zero", "header length")
    with open("/dev/zero", "rb") as f, pytest.raises(RuntimeError, match="header length"):
        rgrad.load(f)


@pytest.mark.parametrize(
    "header, data",
    [
        ({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}, b"\0" * 4),  # short
        ({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 80]}}, b"\0" * 8),
        ({"w": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}, b"\0" * 12),
        (
            {
                "a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]},
            },
            b"\0" * 12,
        ),  # overlapping
        ({"w": {"dtype": "F32", "shape": [2**62, 8], "data_offsets": [0, 8]}}, b"\0" * 8),
        ({"w": {"dtype": "F32", "shape": "2", "data_offsets": [0, 8]}}, b"\0" * 8),
        ({"w": {"dtype": 5, "shape": [2], "data_offsets": [0, 8]}}, b"\0" * 8),
        ({"w": {"dtype": "F32", "shape": [2], "data_offsets": "x"}}, b"\0" * 8),
        ({"w": [1, 2]}, b""),
        ({"w": {"dtype": "BOOL", "shape": [2], "data_offsets": [0, 2]}}, b"\x07\x01"),
        ({"__metadata__": {"rgrad.structure": "[" * 100000}}, b""),
        ({"__metadata__": {"rgrad.structure": '{"__dict__": 5}'}}, b""),
        ({"__metadata__": {"rgrad.structure": '{"__dict__": [[["k"], 1]]}'}}, b""),
        ({"__metadata__": {"rgrad.structure": '{"__tensor__": ["x"]}'}}, b""),
        ({"__metadata__": {"rgrad.structure": '{"__tensor__": "nope"}'}}, b""),
        (
            {
                "__metadata__": {
                    "rgrad.structure": '{"__list__": [{"__tensor__": "w", "device": 3}]}'
                }
            },
            b"",
        ),  # noqa: E501
        ({"__metadata__": {"rgrad.structure": '{"__tuple__": 7}'}}, b""),
        ({"__metadata__": {"rgrad.structure": "[[1], 2]"}}, b""),
        ({"__metadata__": {"rgrad.structure": 5}}, b""),
    ],
)
def test_corrupted_structures_raise_runtime_error(tmp_path, header, data):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(safetensors_bytes(header, data))
    raises_runtime(path)


@pytest.mark.parametrize("length", [0, 1, 2**40, 2**64 - 1])
def test_bogus_header_length_is_refused_without_reading(tmp_path, length):
    path = tmp_path / "len.safetensors"
    path.write_bytes(struct.pack("<Q", length) + b'{"a": 1}')
    raises_runtime(path)


def test_a_pickle_inside_is_not_run(tmp_path):
    # A pickle (of anything) that is not a torch.save file is refused, not loaded.
    path = tmp_path / "obj.pkl"
    path.write_bytes(pickle.dumps({"w": [1.0, 2.0]}, protocol=4))
    raises_runtime(path, "Invalid magic number")


def mutate_structure(original, rng, deep):
    """A valid safetensors file whose rgrad structure (the JSON skeleton in its metadata) is
    mutated: characters replaced or inserted, or a deep nest spliced in."""
    (hlen,) = struct.unpack("<Q", original[:8])
    header = json.loads(original[8 : 8 + hlen])
    text = header["__metadata__"]["rgrad.structure"]
    if deep:
        i = rng.randrange(len(text))
        depth = rng.choice([50, 5000, 200000])
        opener = rng.choice(["[", '{"__list__": ', '{"__dict__": [["k", '])
        text = text[:i] + opener * depth + text[i:]
    else:
        chars = list(text)
        for _ in range(rng.randint(1, 3)):
            i = rng.randrange(len(chars))
            chars[i : i + rng.randint(0, 1)] = rng.choice('0123456789[]{}",:- ') * rng.randint(1, 2)
        text = "".join(chars)
    header["__metadata__"]["rgrad.structure"] = text
    raw = json.dumps(header).encode()
    return bytearray(struct.pack("<Q", len(raw)) + raw + original[8 + hlen :])


def test_corruption_fuzz(tmp_path):
    """Seeded mutations of a valid file: each load gives the data back or raises RuntimeError
    (UnpicklingError for a pickled node refused by weights_only, as PyTorch)."""
    good = tmp_path / "good.safetensors"
    rgrad.save(
        {
            "state": OrderedDict([("w", rgrad.randn(3, 2)), ("b", rgrad.arange(4))]),
            "step": 7,
            "names": ["a", ("b", 2.5)],
            "mask": rgrad.tensor([True, False]),
        },
        good,
    )
    original = good.read_bytes()
    (hlen,) = struct.unpack("<Q", original[:8])
    rng = random.Random(1234)
    path = tmp_path / "mut.safetensors"
    outcomes = {"loaded": 0, "refused": 0}
    for _ in range(400):
        data = bytearray(original)
        kind = rng.randrange(8)
        if kind == 0:
            data = data[: rng.randrange(len(data))]
        elif kind == 1:
            for _ in range(rng.randint(1, 8)):
                data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        elif kind == 2:
            data[:8] = struct.pack("<Q", rng.choice([0, hlen - 1, hlen + 1, rng.getrandbits(64)]))
        elif kind == 3:
            # Swap characters of the header JSON: digits, brackets, quotes.
            for _ in range(rng.randint(1, 4)):
                i = rng.randrange(8, 8 + hlen)
                data[i] = ord(rng.choice('0123456789[]{}",:-e. '))
        elif kind == 4:
            data += bytes(rng.randrange(256) for _ in range(rng.randint(1, 64)))
        elif kind in (6, 7):
            data = mutate_structure(original, rng, deep=kind == 7)
        else:
            i = rng.randrange(8, 8 + hlen)
            data[i:i] = rng.choice([b"[", b"{", b"-1", b"99999999999999999999", b'"'])
        path.write_bytes(bytes(data))
        try:
            rgrad.load(path)
            outcomes["loaded"] += 1
        except RecursionError as e:
            pytest.fail(f"mutation {kind} gave RecursionError: {e}")
        except RuntimeError:
            outcomes["refused"] += 1
        except pickle.UnpicklingError:
            outcomes["refused"] += 1
        except BaseException as e:  # noqa: BLE001
            pytest.fail(f"mutation {kind} gave {type(e).__name__}: {e}")
    assert outcomes["refused"] > 250, outcomes


def test_map_location_forms(tmp_path):
    path = tmp_path / "m.safetensors"
    rgrad.save({"w": rgrad.ones(2), "nested": [rgrad.zeros(1)]}, path)
    seen = []

    def keep(storage, location):
        seen.append(location)
        return storage

    out = rgrad.load(path, map_location=keep)
    assert seen == ["cpu", "cpu"] and out["w"].device.type == "cpu"
    assert rgrad.load(path, map_location=lambda s, loc: None)["w"].device.type == "cpu"
    for where in ["cpu", rgrad.device("cpu"), {"cpu": "cpu"}]:
        assert rgrad.load(path, map_location=where)["nested"][0].device.type == "cpu"

    class Marker(Exception):
        pass

    def broken(storage, location):
        raise Marker("from map_location")

    with pytest.raises(Marker):  # the callable's own error, not "corrupted file"
        rgrad.load(path, map_location=broken)


def test_map_location_callable_result_is_used(tmp_path):
    path = tmp_path / "m.safetensors"
    rgrad.save({"w": rgrad.ones(2)}, path)
    out = rgrad.load(path, map_location=lambda storage, loc: storage * 3)
    np.testing.assert_array_equal(out["w"].numpy(), [3.0, 3.0])
    flat = tmp_path / "flat.safetensors"
    rgrad._rgrad._save_safetensors(str(flat), [("a", rgrad.ones(1))], None)
    assert rgrad.load(flat, map_location=lambda s, loc: s + 1)["a"].item() == 2.0
