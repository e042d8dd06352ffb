"""Reading and writing the file formats of ``torch.save``.

The zip format (PyTorch >= 1.6): a stored (uncompressed) zip archive whose records sit under
one folder (``archive/`` or the file's stem): ``data.pkl`` (the object, pickled with each
storage as a persistent id ``("storage", torch.FloatStorage, key, location, numel)``),
``data/<key>`` (each storage's little-endian bytes, aligned to 64 bytes), ``byteorder``,
``version``, ``.format_version``, ``.storage_alignment`` and ``.data/serialization_id``.

The legacy format (``_use_new_zipfile_serialization=False``): five pickles one after the other
(a magic number, the protocol version 1001, system info, the object, the sorted storage keys),
then each storage as its element count (int64) and bytes.
"""

import hashlib
import io
import pickle
import pickletools
import struct
import zipfile
import zlib
from collections import OrderedDict

from rgrad import _rgrad
from rgrad._rgrad import Tensor
from rgrad._size import Size
from rgrad._torch_globals import (
    STORAGE_OF_DTYPE,
    STORAGE_TYPE_OBJECTS,
    Storage,
    StorageType,
    buildable_types,
    torch_globals,
)
from rgrad._weights_unpickler import Unpickler, UnpicklingError, weights_only_message
from rgrad.nn.modules._registry import Registry

MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
PROTOCOL_VERSION = 1001
_ALIGNMENT = 64


def is_zip(head):
    return head.startswith(b"PK\x03\x04")


def is_legacy(head):
    # A pickle (protocol 2..5); a safetensors header's JSON has '{' at byte 8.
    return len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5 and head[8:9] != b"{"


class _Corrupt(RuntimeError):
    pass


def _corrupt(what):
    return _Corrupt(
        f"rgrad.load: {what}. If you are seeing this error, the checkpoint file is likely "
        "corrupted: it was not saved completely, was transferred incorrectly, or was modified "
        "after saving."
    )


class _FullUnpickler(pickle.Unpickler):
    """``weights_only=False``: everything is unpickled, except that PyTorch's own names map to
    rgrad's counterparts (and those rgrad has none for fail clearly)."""

    def __init__(self, file, persistent_load, **kwargs):
        super().__init__(file, **kwargs)
        self._persistent = persistent_load

    def persistent_load(self, pid):
        return self._persistent(pid)

    def find_class(self, module, name):
        full = f"{module}.{name}"
        table = torch_globals()
        if full in table:
            return table[full]
        if module == "torch" or module.startswith("torch."):
            raise RuntimeError(
                f"rgrad.load cannot build {full}: the checkpoint pickles a PyTorch object rgrad "
                "has no counterpart for (rgrad builds tensors, storages, Parameters, dtypes, "
                "Size and device). Save its state_dict() with PyTorch and load that instead."
            )
        return super().find_class(module, name)


def _unpickle(data, pos, weights_only, persistent_load):
    """The object of the pickle at ``data[pos:]`` and where it ended."""
    if weights_only:
        vm = Unpickler(data, torch_globals(), buildable_types(), persistent_load, pos=pos)
        try:
            return vm.load(), vm.pos
        except UnpicklingError as e:
            raise UnpicklingError(weights_only_message(str(e))) from None
        except (EOFError, IndexError, ValueError, struct.error) as e:
            raise _corrupt(f"the checkpoint's pickle data is corrupted ({e})") from None
    stream = io.BytesIO(data)
    stream.seek(pos)
    try:
        obj = _FullUnpickler(stream, persistent_load, encoding="utf-8").load()
    except (EOFError, pickle.UnpicklingError, IndexError, struct.error) as e:
        raise _corrupt(f"the checkpoint's pickle data is corrupted ({e})") from None
    return obj, stream.tell()


def _storage_pid(pid, with_view):
    if type(pid) is not tuple or len(pid) != (6 if with_view else 5):
        raise _corrupt(f"a persistent id of the pickle is not a storage: {pid!r}"[:200])
    kind, storage_type, key, location, numel = pid[:5]
    kind = kind.decode("ascii") if isinstance(kind, bytes) else kind
    location = location.decode("ascii") if isinstance(location, bytes) else location
    if kind != "storage" or not isinstance(storage_type, StorageType):
        raise _corrupt(f"a persistent id of the pickle is not a storage: {pid!r}"[:200])
    if type(numel) is not int or numel < 0 or not isinstance(location, str):
        raise _corrupt("a storage's size or location is not valid")
    return storage_type, str(key), location, numel, (pid[5] if with_view else None)


def load_zip(source, place, weights_only):
    try:
        zf = zipfile.ZipFile(source)
        names = zf.namelist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as e:
        raise _corrupt(f"cannot read the zip archive ({e})") from None
    pkl = [n for n in names if n.endswith("data.pkl") and n.count("/") == 1]
    if not pkl:
        raise _corrupt("the zip archive has no data.pkl record (not a torch.save file?)")
    prefix = pkl[0][: -len("data.pkl")]

    def record(name):
        try:
            return zf.read(prefix + name)
        except KeyError:
            raise _corrupt(f"the archive has no record '{prefix + name}'") from None
        except (zipfile.BadZipFile, OSError, ValueError, EOFError, zlib.error) as e:
            raise _corrupt(f"cannot read record '{prefix + name}' ({e})") from None

    byteorder = b"little"
    if prefix + "byteorder" in names:
        byteorder = record("byteorder").strip()
    if byteorder != b"little":
        raise RuntimeError(
            "rgrad.load: the checkpoint was written on a big-endian machine; rgrad reads "
            "little-endian checkpoints only"
        )
    storages = {}

    def persistent_load(pid):
        storage_type, key, location, numel, _ = _storage_pid(pid, with_view=False)
        if key not in storages:
            storage = Storage(storage_type, numel, location, place)
            storage.set_data(record(f"data/{key}"))
            storages[key] = storage
        return storages[key]

    obj, _ = _unpickle(record("data.pkl"), 0, weights_only, persistent_load)
    return obj


def _pickle_end(data, pos):
    """Where the pickle at ``data[pos:]`` ends, found without running it."""
    stream = io.BytesIO(data)
    stream.seek(pos)
    try:
        for op, _, _ in pickletools.genops(stream):
            if op.name == "STOP":
                return stream.tell()
    except (ValueError, EOFError, struct.error) as e:
        raise _corrupt(f"the checkpoint's pickle data is corrupted ({e})") from None
    raise _corrupt("the checkpoint's pickle data has no end")


def _plain(data, pos):
    """A pickle of plain values only (the legacy header and key list): no global is allowed."""
    vm = Unpickler(data, {}, (), _refuse_pid, pos=pos)
    try:
        return vm.load(), vm.pos
    except (UnpicklingError, EOFError, IndexError, ValueError, struct.error) as e:
        raise _corrupt(f"the checkpoint's header is corrupted ({e})") from None


def _refuse_pid(pid):
    raise UnpicklingError("unsupported persistent id encountered")


def load_legacy(data, place, weights_only):
    magic, pos = _plain(data, 0)
    if magic != MAGIC_NUMBER:
        raise RuntimeError("rgrad.load: Invalid magic number; corrupt file?")
    version, pos = _plain(data, pos)
    if version != PROTOCOL_VERSION:
        raise RuntimeError(f"rgrad.load: Invalid protocol version: {version}")
    sys_info, pos = _plain(data, pos)
    if isinstance(sys_info, dict) and sys_info.get("little_endian") is False:
        raise RuntimeError(
            "rgrad.load: the checkpoint was written on a big-endian machine; rgrad reads "
            "little-endian checkpoints only"
        )
    main_start, main_end = pos, _pickle_end(data, pos)
    keys, pos = _plain(data, main_end)
    if not isinstance(keys, list):
        raise _corrupt("the checkpoint's storage key list is missing")
    storages = {}

    def persistent_load(pid):
        storage_type, key, location, numel, view = _storage_pid(pid, with_view=True)
        if key not in storages:
            storages[key] = Storage(storage_type, numel, location, place)
        if view is not None:  # files of PyTorch < 0.4: a storage that is a slice of another
            raise RuntimeError("rgrad.load: the checkpoint holds storage views (PyTorch < 0.4)")
        return storages[key]

    obj, _ = _unpickle(data, main_start, weights_only, persistent_load)
    for key in keys:
        key = str(key)
        if pos + 8 > len(data):
            raise _corrupt("the file ends before all its storages (truncated?)")
        (numel,) = struct.unpack_from("<q", data, pos)
        pos += 8
        storage = storages.get(key)
        if storage is None:
            raise _corrupt(f"the storage key {key!r} is not used by the pickle")
        if numel != storage.numel:
            raise _corrupt(f"storage {key!r} has {numel} elements, the pickle says {storage.numel}")
        nbytes = numel * storage.type.itemsize
        if pos + nbytes > len(data):
            raise _corrupt("the file ends before all its storages (truncated?)")
        if storage.base is None:
            storage.allocate()
        storage.set_data(memoryview(data)[pos : pos + nbytes])
        pos += nbytes
    return obj


# ---------------------------------------------------------------------------------------------
# Writing


class _Name:
    """A global written as ``GLOBAL module name`` (PyTorch's functions, which rgrad cannot
    import under those names)."""

    def __init__(self, module, name):
        self.module, self.name = module, name

    def __call__(self, *args):  # the pickler checks that a reduce function is callable
        raise TypeError(f"{self.module}.{self.name} is PyTorch's, written by name only")


_REBUILD_V2 = _Name("torch._utils", "_rebuild_tensor_v2")
_REBUILD_PARAMETER = _Name("torch._utils", "_rebuild_parameter")
_SIZE = _Name("torch", "Size")
_DEVICE = _Name("torch", "device")
_ORDERED_DICT = _Name("collections", "OrderedDict")
_STORAGE_NAMES = {n: _Name("torch", n) for n in STORAGE_TYPE_OBJECTS}
_DTYPE_NAMES = {}


def _dtype_name(dtype):
    name = repr(dtype).split(".")[-1]
    if name not in _DTYPE_NAMES:
        _DTYPE_NAMES[name] = _Name("torch", name)
    return _DTYPE_NAMES[name]


class _StorageRef:
    def __init__(self, key, tensor):
        self.key = key
        self.tensor = tensor  # contiguous, on the CPU
        self.dtype = repr(tensor.dtype).split(".")[-1]
        self.numel = tensor.numel()


class _TorchPickler(pickle._Pickler):
    """Pickles like ``torch.save``: tensors as ``_rebuild_tensor_v2`` of a storage persistent
    id, Parameters as ``_rebuild_parameter``, dtypes as ``torch.float32``, ``Size`` as
    ``torch.Size``. (The pure-Python pickler, because it lets a global be written by name.)"""

    def __init__(self, file, protocol, legacy):
        super().__init__(file, protocol=protocol)
        self.legacy = legacy
        self.storages = OrderedDict()  # key -> _StorageRef
        self.keep = []  # objects whose id() the memo holds

    def persistent_id(self, obj):
        if type(obj) is _StorageRef:
            cls = _STORAGE_NAMES[STORAGE_OF_DTYPE[obj.dtype]]
            pid = ("storage", cls, obj.key, obj.location, obj.numel)
            return pid + (None,) if self.legacy else pid
        return None

    def save(self, obj, save_persistent_id=True):
        if isinstance(obj, _rgrad.dtype):
            obj = _dtype_name(obj)
        elif type(obj) is Registry:
            # A module's parameter/buffer/submodule registry goes in as the plain dict PyTorch
            # writes (a dict literal, no `builtins.dict` global that weights-only loads refuse).
            obj = dict(obj)
            self.keep.append(obj)
        if type(obj) is _Name:
            x = self.memo.get(id(obj))
            if x is not None:
                self.write(self.get(x[0]))
                return
            self.write(pickle.GLOBAL + f"{obj.module}\n{obj.name}\n".encode())
            self.memoize(obj)
            return
        super().save(obj, save_persistent_id)

    def reducer_override(self, obj):
        from rgrad.nn import Parameter

        if isinstance(obj, Parameter):
            data = Tensor.detach(obj)
            self.keep.append(data)
            return (_REBUILD_PARAMETER, (data, obj.requires_grad, OrderedDict()))
        if isinstance(obj, Tensor):
            return self._tensor(obj)
        if isinstance(obj, Size):
            return (_SIZE, (tuple(obj),))
        if isinstance(obj, _rgrad.device):
            return (_DEVICE, (str(obj),))
        return NotImplemented

    def _tensor(self, t):
        dtype = repr(t.dtype).split(".")[-1]
        if dtype not in STORAGE_OF_DTYPE:
            raise TypeError(f"rgrad.save cannot write tensors of dtype {t.dtype}")
        location = "cpu" if t.device.type == "cpu" else str(t.device)
        data = t.detach().cpu().contiguous()
        ref = _StorageRef(str(len(self.storages)), data)
        ref.location = location
        self.storages[ref.key] = ref
        self.keep.append(ref)
        size = Size(t.shape)
        stride = tuple(data.stride())
        return (_REBUILD_V2, (ref, 0, size, stride, t.requires_grad, OrderedDict()))


def _storage_bytes(ref):
    t = ref.tensor
    # bfloat16 has no NumPy dtype: its bits, read as int16, are the storage's bytes.
    arr = (t.view(_rgrad.int16) if t.dtype == _rgrad.bfloat16 else t).numpy()
    return arr.astype(arr.dtype.newbyteorder("<"), copy=False).tobytes()


def _pickle(obj, protocol, legacy):
    buf = io.BytesIO()
    pickler = _TorchPickler(buf, protocol, legacy)
    try:
        pickler.dump(obj)
    except (pickle.PicklingError, AttributeError) as e:
        raise TypeError(f"rgrad.save cannot store this object: {e}") from e
    return buf.getvalue(), pickler.storages


class _AlignedZip:
    """Writes stored zip records whose data start at multiples of 64 bytes (as PyTorch's
    writer does, so ``torch.load(mmap=True)`` can map them)."""

    def __init__(self, stream):
        self.stream = stream
        self.zf = zipfile.ZipFile(stream, "w", zipfile.ZIP_STORED, allowZip64=True)

    def write(self, name, data):
        info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_STORED
        start = self.stream.tell() + 30 + len(name.encode("utf-8")) + 4
        pad = -start % _ALIGNMENT
        info.extra = b"FB" + struct.pack("<H", pad) + b"Z" * pad
        self.zf.writestr(info, data)

    def close(self):
        self.zf.close()


def save_zip(obj, stream, archive_name, protocol):
    data_pkl, storages = _pickle(obj, protocol, legacy=False)
    zf = _AlignedZip(stream)
    digest = hashlib.sha256(data_pkl)
    zf.write(f"{archive_name}/data.pkl", data_pkl)
    zf.write(f"{archive_name}/.format_version", b"1")
    zf.write(f"{archive_name}/.storage_alignment", b"64")
    zf.write(f"{archive_name}/byteorder", b"little")
    for key, ref in storages.items():
        raw = _storage_bytes(ref)
        digest.update(raw)
        zf.write(f"{archive_name}/data/{key}", raw)
    zf.write(f"{archive_name}/version", b"3\n")
    serial = str(int.from_bytes(digest.digest()[:16], "little")).zfill(40)
    zf.write(f"{archive_name}/.data/serialization_id", serial.encode("ascii"))
    zf.close()


def save_legacy(obj, stream, protocol):
    sys_info = {
        "protocol_version": PROTOCOL_VERSION,
        "little_endian": True,
        "type_sizes": {"short": 2, "int": 4, "long": 8},
    }
    for header in (MAGIC_NUMBER, PROTOCOL_VERSION, sys_info):
        pickle.dump(header, stream, protocol=protocol)
    data_pkl, storages = _pickle(obj, protocol, legacy=True)
    stream.write(data_pkl)
    keys = sorted(storages)
    pickle.dump(keys, stream, protocol=protocol)
    for key in keys:
        ref = storages[key]
        stream.write(struct.pack("<q", ref.numel))
        stream.write(_storage_bytes(ref))
