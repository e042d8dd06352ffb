"""``rgrad.save`` / ``rgrad.load`` in the safetensors format.

Tensors are stored as safetensors entries (a flat dict of tensors keeps its own key names, so
other safetensors tools read the file as is). Anything else around them — nested dicts, lists,
numbers, strings — is kept as a JSON skeleton in the file's metadata. Loading parses data only:
it never runs code, and a truncated or corrupted file raises an error that says so.

``map_location`` works as in PyTorch: a device (``"cpu"``, ``"wgpu"``, ``torch.device``), a
dict from saved location to target (``{"wgpu": "cpu"}``), or a callable ``f(storage,
location)`` given each tensor (on the CPU) and the location it was saved from; what it returns
is used, ``None`` means the default. Without it tensors go back to the device they were saved
from.

A corrupted or truncated file, or one of another kind (a PyTorch ``torch.save`` checkpoint),
raises ``RuntimeError`` saying so.

Other objects (``torch.save(model, path)`` of a whole module, an ``argparse.Namespace``) are
pickled into the skeleton, as PyTorch pickles everything; like PyTorch since 2.6, ``load``
refuses to unpickle them unless called with ``weights_only=False``.
"""

import base64
import io
import json
import os
import pickle
import tempfile
from collections import OrderedDict

from rgrad import _rgrad
from rgrad._rgrad import Tensor

__all__ = ["save", "load"]

_STRUCTURE = "rgrad.structure"
# safetensors keeps the file's metadata under this key; a tensor stored under that name gets
# another one (the structure maps it back to its key).
_RESERVED = "__metadata__"
# What json and the decoder raise on a structure that is not one save() wrote.
_CORRUPT = (ValueError, KeyError, TypeError, IndexError, AttributeError, RecursionError)


def _encode(obj, tensors, path):
    if isinstance(obj, Tensor):
        name = path or "tensor"
        if name == _RESERVED:
            name += ".tensor"
        while name in tensors:
            name += "_"
        tensors[name] = obj.detach()
        device = str(obj.device)
        return {"__tensor__": name} if device == "cpu" else {"__tensor__": name, "device": device}
    if isinstance(obj, dict):
        items = []
        for k, v in obj.items():
            if not isinstance(k, (str, int, float, bool)) and k is not None:
                kind = type(k).__name__
                raise TypeError(f"rgrad.save: dict keys must be str or numbers, got {kind}")
            child = f"{path}.{k}" if path else str(k)
            items.append([k, _encode(v, tensors, child)])
        # state_dict() is an OrderedDict and prints as one: loading gives it back as such.
        return (
            {"__dict__": items, "ordered": True}
            if isinstance(obj, OrderedDict)
            else {"__dict__": items}
        )
    if isinstance(obj, (list, tuple)):
        kind = "__list__" if isinstance(obj, list) else "__tuple__"
        names = [f"{path}.{i}" if path else str(i) for i in range(len(obj))]
        return {kind: [_encode(v, tensors, n) for v, n in zip(obj, names)]}
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return obj
    try:
        blob = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, TypeError, AttributeError) as e:
        raise TypeError(f"rgrad.save cannot store objects of type {type(obj).__name__}") from e
    return {"__pickle__": base64.b64encode(blob).decode("ascii"), "type": type(obj).__name__}


def _unpickle(node, weights_only):
    if weights_only:
        # The wording follows PyTorch's, so the usual advice found for it applies here too.
        raise pickle.UnpicklingError(
            "Weights only load failed. This file can still be loaded, to do so you have two "
            "options, do those steps only if you trust the source of the checkpoint. Re-running "
            "`torch.load` with `weights_only` set to `False` will likely succeed, but it can "
            "result in arbitrary code execution. The file holds a pickled object of type "
            f"{node.get('type', '?')}, which weights_only=True does not load."
        )
    return pickle.loads(base64.b64decode(node["__pickle__"]))


class _PlacementError(Exception):
    """Carries an error of ``map_location`` past the handler for corrupted structures."""

    def __init__(self, error):
        super().__init__(str(error))
        self.error = error


def _restore(tensor, location, map_location):
    """``tensor`` (read on the CPU) placed as ``map_location`` says, PyTorch's rules."""
    if callable(map_location):
        result = map_location(tensor, location)
        if result is not None:
            return result
        target = location
    elif isinstance(map_location, dict):
        target = map_location.get(location, location)
    elif map_location is None:
        target = location
    else:
        target = map_location
    target = str(target)
    if target == "cpu":
        return tensor
    if target.startswith("wgpu") and not _rgrad._wgpu_is_available():
        raise RuntimeError(
            "Attempting to deserialize object on a wgpu device but torch.wgpu.is_available() is "
            "False. If you are running on a machine without a GPU adapter, please use torch.load "
            "with map_location=torch.device('cpu') to map your storages to the CPU."
        )
    return tensor.to(target)


def _decode(node, tensors, weights_only, restore):
    if isinstance(node, dict):
        if "__tensor__" in node:
            return restore(node["__tensor__"], node.get("device", "cpu"))
        if "__dict__" in node:
            kind = OrderedDict if node.get("ordered") else dict
            return kind(
                (k, _decode(v, tensors, weights_only, restore)) for k, v in node["__dict__"]
            )
        if "__list__" in node:
            return [_decode(v, tensors, weights_only, restore) for v in node["__list__"]]
        if "__tuple__" in node:
            return tuple(_decode(v, tensors, weights_only, restore) for v in node["__tuple__"])
        if "__pickle__" in node:
            return _unpickle(node, weights_only)
        raise RuntimeError("rgrad.load: unknown entry in the file's structure")
    if isinstance(node, (list, tuple)):
        raise RuntimeError("rgrad.load: unknown entry in the file's structure")
    return node


def save(obj, f):
    """Saves a tensor, or a (nested) dict/list of tensors and plain values, to ``f``; other
    objects inside are pickled (see the module docstring)."""
    tensors = {}
    structure = _encode(obj, tensors, "")
    metadata = {"format": "pt", _STRUCTURE: json.dumps(structure)}
    if isinstance(f, (str, os.PathLike)):
        _rgrad._save_safetensors(os.fspath(f), list(tensors.items()), metadata)
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "obj.safetensors")
        _rgrad._save_safetensors(path, list(tensors.items()), metadata)
        with open(path, "rb") as src:
            f.write(src.read())


def _read_stream(f):
    """The file's bytes, read whole only when its first 8 look like a sane safetensors header
    length (the limit is the loader's): ``open("/dev/zero", "rb")`` stops there."""
    head = f.read(9)
    if len(head) >= 8 and 2 <= int.from_bytes(head[:8], "little") <= 100_000_000:
        return head + f.read()
    return head  # the loader says what is wrong with it


def load(f, map_location=None, weights_only=None, **_ignored):
    """Loads what ``save`` wrote (or any safetensors file, as a dict of tensors), placing
    tensors as ``map_location`` says (see the module docstring). Pickled objects are loaded
    only with ``weights_only=False``; ``None`` means True, as in PyTorch."""
    weights_only = weights_only is None or bool(weights_only)
    if isinstance(f, (str, os.PathLike)):
        entries, metadata = _rgrad._load_safetensors(os.fspath(f))
    else:
        data = _read_stream(f) if isinstance(f, io.IOBase) or hasattr(f, "read") else bytes(f)
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "obj.safetensors")
            with open(path, "wb") as dst:
                dst.write(data)
            entries, metadata = _rgrad._load_safetensors(path)
    tensors = dict(entries)
    placed = {}

    def restore(name, location):
        if not isinstance(location, str):
            raise TypeError(f"a tensor's location is {type(location).__name__}, not str")
        # One object per stored tensor, however many places refer to it.
        key = (name, location)
        if key not in placed:
            tensor = tensors[name]
            try:
                placed[key] = _restore(tensor, location, map_location)
            except Exception as e:  # the user's map_location failed: not a corrupted file
                raise _PlacementError(e) from e
        return placed[key]

    try:
        if _STRUCTURE not in metadata:
            return {name: restore(name, "cpu") for name in tensors}
        structure = json.loads(metadata[_STRUCTURE])
        return _decode(structure, tensors, weights_only, restore)
    except _PlacementError as e:
        raise e.error from None
    except _CORRUPT as e:
        kind = type(e).__name__
        raise RuntimeError(f"rgrad.load: the file's structure is corrupted ({kind}: {e})") from None
