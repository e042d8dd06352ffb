"""``rgrad.save`` / ``rgrad.load``: PyTorch's checkpoint files, and safetensors.

``load`` tells the formats apart by their first bytes: a zip archive or a pickle is a file of
``torch.save`` (the zip format, or the legacy one of ``_use_new_zipfile_serialization=False``),
read by ``_torch_format``; anything else is a safetensors file, as every earlier rgrad version
wrote (tensors as safetensors entries, the structure around them as a JSON skeleton in the
metadata), so nothing saved before is lost.

Unpickling follows PyTorch >= 2.6: ``weights_only=True`` (the default) builds tensors,
storages, Parameters, OrderedDicts, plain containers and the globals allowed with
``add_safe_globals`` / ``safe_globals`` only, and raises ``pickle.UnpicklingError`` (with
PyTorch's wording) on anything else before it is called; ``weights_only=False`` unpickles
everything. A corrupted or truncated file raises ``RuntimeError`` saying so.

``save`` writes PyTorch's zip format (``torch.load`` reads it), the legacy format with
``_use_new_zipfile_serialization=False``, and a safetensors file with ``format="safetensors"``
or for a path ending in ``.safetensors``.

``map_location`` works as in PyTorch: a device (``"cpu"``, ``"wgpu"``, ``torch.device``), a
dict from saved location to target (``{"wgpu": "cpu"}``), or a callable ``f(storage,
location)``, given each storage (as a 1-D tensor on the CPU; for safetensors files each
tensor) and the location it was saved from; what it returns is used, ``None`` means the
default. Without it tensors go back to the device they were saved from.
"""

import base64
import io
import json
import os
import pickle
import tempfile
from collections import OrderedDict

from rgrad import _rgrad, _torch_format
from rgrad._rgrad import Tensor
from rgrad._weights_unpickler import (
    add_safe_globals,
    clear_safe_globals,
    get_safe_globals,
    safe_globals,
)

__all__ = [
    "add_safe_globals",
    "clear_safe_globals",
    "get_safe_globals",
    "load",
    "safe_globals",
    "save",
]

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
    if target.startswith("cuda"):
        # A checkpoint saved on a GPU by PyTorch: its message, as on a CPU-only machine.
        raise RuntimeError(
            "Attempting to deserialize object on a CUDA device but torch.cuda.is_available() is "
            "False. If you are running on a CPU-only machine, please use torch.load with "
            "map_location=torch.device('cpu') to map your storages to the CPU."
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


def _save_safetensors(obj, f):
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


_FORMATS = ("torch", "safetensors")


def save(
    obj,
    f,
    pickle_module=pickle,
    pickle_protocol=2,
    _use_new_zipfile_serialization=True,
    _disable_byteorder_record=False,
    *,
    format=None,  # noqa: A002 - the natural name of the choice
):
    """Saves ``obj`` (tensors, state dicts, optimizer state dicts, nested containers; other
    objects are pickled) to ``f``, a path or a binary file object.

    ``format="torch"`` writes PyTorch's zip format, which ``torch.load`` reads (the legacy
    format with ``_use_new_zipfile_serialization=False``); ``format="safetensors"`` writes a
    safetensors file with a JSON skeleton for the structure. The default is ``"torch"``, as
    ``torch.save``, except for a path ending in ``.safetensors``.
    """
    if format is None:
        named = isinstance(f, (str, os.PathLike)) and os.fspath(f).endswith(".safetensors")
        format = "safetensors" if named else "torch"  # noqa: A001
    if format not in _FORMATS:
        raise ValueError(f"rgrad.save: format must be one of {_FORMATS}, got {format!r}")
    if format == "safetensors":
        _save_safetensors(obj, f)
        return
    if pickle_module is not pickle:
        raise ValueError("rgrad.save: only the pickle module is supported as pickle_module")
    buf = io.BytesIO()
    if _use_new_zipfile_serialization:
        name = "archive"
        if isinstance(f, (str, os.PathLike)):
            name = os.path.splitext(os.path.basename(os.fspath(f)))[0] or "archive"
        _torch_format.save_zip(obj, buf, name, pickle_protocol)
    else:
        _torch_format.save_legacy(obj, buf, pickle_protocol)
    if isinstance(f, (str, os.PathLike)):
        with open(f, "wb") as out:
            out.write(buf.getvalue())
    else:
        f.write(buf.getvalue())


def _read_stream(f):
    """The file's bytes, read whole only when its first 8 look like a sane safetensors header
    length (the limit is the loader's): ``open("/dev/zero", "rb")`` stops there."""
    head = f.read(9)
    if len(head) >= 8 and 2 <= int.from_bytes(head[:8], "little") <= 100_000_000:
        return head + f.read()
    return head  # the loader says what is wrong with it


def _sniff(f):
    """``(kind, source)``: kind "zip", "legacy" or "safetensors" by the first bytes; source a
    path or the bytes read."""
    if isinstance(f, (str, os.PathLike)):
        try:
            with open(f, "rb") as fh:
                head = fh.read(9)
                kind = _kind(head)
                if kind == "legacy":
                    return kind, head + fh.read()
        except OSError:
            return "safetensors", os.fspath(f)  # the reader says what is wrong
        return kind, os.fspath(f)
    if isinstance(f, io.IOBase) or hasattr(f, "read"):
        head = f.read(9)
        if _kind(head) != "safetensors":
            return _kind(head), head + f.read()
        f = _Prefixed(head, f)
        return "safetensors", _read_stream(f)
    data = bytes(f)
    return _kind(data[:9]), data


class _Prefixed:
    """A stream whose first bytes were already read."""

    def __init__(self, head, f):
        self.head, self.f = head, f

    def read(self, n=-1):
        if n is None or n < 0:
            out, self.head = self.head + self.f.read(), b""
            return out
        out, self.head = self.head[:n], self.head[n:]
        return out + (self.f.read(n - len(out)) if len(out) < n else b"")


def _kind(head):
    if _torch_format.is_zip(head):
        return "zip"
    if _torch_format.is_legacy(head):
        return "legacy"
    return "safetensors"


def load(f, map_location=None, pickle_module=None, *, weights_only=None, mmap=None, **_kwargs):
    """Loads a file written by ``torch.save`` (zip or legacy format) or by ``rgrad.save`` (any
    version: safetensors files too), placing tensors as ``map_location`` says (see the module
    docstring). With ``weights_only`` (``None`` means True, as in PyTorch >= 2.6) only tensors,
    containers and allow-listed globals are unpickled. ``mmap`` is accepted; the file is read
    as usual."""
    weights_only = weights_only is None or bool(weights_only)
    if pickle_module is not None and pickle_module is not pickle:
        raise ValueError("rgrad.load: only the pickle module is supported as pickle_module")
    kind, source = _sniff(f)
    if kind != "safetensors":

        def place(tensor, location):
            return _restore(tensor, location, map_location)

        if kind == "zip":
            source = source if isinstance(source, str) else io.BytesIO(source)
            return _torch_format.load_zip(source, place, weights_only)
        return _torch_format.load_legacy(source, place, weights_only)
    if isinstance(source, str):
        entries, metadata = _rgrad._load_safetensors(source)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "obj.safetensors")
            with open(path, "wb") as dst:
                dst.write(source)
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
