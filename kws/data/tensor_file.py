"""Read what ``torch.save`` wrote without importing torch: each tensor's dtype, shape and storage,
and its values as a numpy array.

The grader's own process never imports torch: torch alone takes 220 MB (the CPU build) to 520 MB
(the CUDA build) of the 768 MB Gradescope's default container gives a whole grading. Yet it reads
torch files: the HW4 test utterances (``uttr-*.pt``, one float32 tensor each) it streams to the
grading child, and a student's checkpoint (``model.pt``, a state dict) whose encoder block it
counts. Both of torch's formats are read: the zip archive torch writes since 1.6 (``data.pkl``
and one file per storage) and the older single stream (``_use_new_zipfile_serialization=False``).

As ``torch.load(weights_only=True)`` does, the pickle is read with an allow-list: dicts, lists,
tuples, strings and numbers, ``collections.OrderedDict``, tensors, parameters and storages.
Anything else (another class, a function, code to run) raises `TensorFileError` before it is
built, so reading a file never runs code it carries.

    tensors = read_tensor_file(path)                 # {key: StoredTensor} for a state dict
    tensors["encoder.0.weight"].shape, .numel, .is_floating_point()
    values = read_tensor_file(path, values=True).numpy()   # a file holding one tensor
"""

from __future__ import annotations

import _compat_pickle
import io
import math
import pickle
import struct
import zipfile
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MAX_PICKLE_BYTES = 16 * 2**20  # data.pkl of a state dict of thousands of tensors is ~1 MB
_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C  # the first value of torch's pre-1.6 stream format

# torch's storage classes, by the name the pickle gives them: (dtype name, numpy dtype). numpy
# has no bfloat16: its values are read as the upper half of a float32 (`StoredTensor.numpy`).
_STORAGES = {
    "DoubleStorage": ("float64", "<f8"),
    "FloatStorage": ("float32", "<f4"),
    "HalfStorage": ("float16", "<f2"),
    "BFloat16Storage": ("bfloat16", "<u2"),
    "LongStorage": ("int64", "<i8"),
    "IntStorage": ("int32", "<i4"),
    "ShortStorage": ("int16", "<i2"),
    "CharStorage": ("int8", "i1"),
    "ByteStorage": ("uint8", "u1"),
    "BoolStorage": ("bool", "?"),
    "ComplexFloatStorage": ("complex64", "<c8"),
    "ComplexDoubleStorage": ("complex128", "<c16"),
}
_NUMPY = dict(_STORAGES.values())
FLOATING = ("float64", "float32", "float16", "bfloat16")


class TensorFileError(ValueError):
    """A file that is not a torch file this reader may read; the message says why."""


@dataclass(frozen=True)
class Storage:
    """One storage of the file: `key` (its name in the file), `dtype` (torch's name), `numel`."""

    key: str
    dtype: str
    numel: int


@dataclass(frozen=True, eq=False)
class StoredTensor:
    """A tensor as the file stores it: a view of `storage` (`offset`, `shape`, `stride`, in
    elements); `values` holds the storage's values (a flat numpy array) when they were read."""

    storage: Storage
    offset: int
    shape: tuple[int, ...]
    stride: tuple[int, ...]
    values: np.ndarray | None = None

    @property
    def dtype(self) -> str:
        return self.storage.dtype

    @property
    def numel(self) -> int:
        return math.prod(self.shape)

    def dim(self) -> int:
        return len(self.shape)

    def is_floating_point(self) -> bool:
        """As ``torch.Tensor.is_floating_point``: float64, float32, float16 or bfloat16."""
        return self.dtype in FLOATING

    def numpy(self) -> np.ndarray:
        """The tensor's values (a new array of `shape`; bfloat16 becomes float32)."""
        if self.values is None:
            raise TensorFileError("the file was read without its values (values=False)")
        flat = self.values
        if self.dtype == "bfloat16":
            flat = (flat.astype(np.uint32) << 16).view(np.float32)
        itemsize = flat.dtype.itemsize
        view = np.lib.stride_tricks.as_strided(
            flat[self.offset :],
            shape=self.shape,
            strides=tuple(itemsize * s for s in self.stride),
            writeable=False,
        )
        return np.array(view)


def _tensor(storage, offset, shape, stride, *_):
    """torch._utils._rebuild_tensor(_v2): a view of a storage."""
    if not isinstance(storage, Storage):
        raise TensorFileError("a tensor is built from something other than a storage")
    shape, stride = tuple(int(n) for n in shape), tuple(int(n) for n in stride)
    if len(shape) != len(stride) or min(shape, default=1) < 0 or offset < 0:
        raise TensorFileError(f"a tensor of shape {shape} and stride {stride} is malformed")
    last = offset + sum((n - 1) * s for n, s in zip(shape, stride, strict=True))  # element
    if math.prod(shape) and (last >= storage.numel or min(stride, default=0) < 0):
        raise TensorFileError(f"a tensor of shape {shape} reaches past its storage")
    return StoredTensor(storage, int(offset), shape, stride)


def _parameter(data, *_):
    """torch._utils._rebuild_parameter(_with_state): a parameter is its tensor here."""
    return data


class _Type:
    """A class the file may name as a tensor's type (torch.Tensor, Parameter): a marker only."""


def _from_type(function, new_type, args, state):
    """torch._tensor._rebuild_from_type_v2: a tensor subclass (a Parameter with attributes)."""
    if not isinstance(new_type, _Type):
        raise TensorFileError("a tensor of a type this reader does not know")
    return function(*args)


class _Dtype:
    def __init__(self, name: str):
        self.name = name


_ALLOWED = {
    ("collections", "OrderedDict"): OrderedDict,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("builtins", "bytearray"): bytearray,
    ("_codecs", "encode"): lambda text, encoding="utf-8": text.encode(encoding),
    ("torch._utils", "_rebuild_tensor"): _tensor,
    ("torch._utils", "_rebuild_tensor_v2"): _tensor,
    ("torch._utils", "_rebuild_parameter"): _parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _parameter,
    ("torch._tensor", "_rebuild_from_type_v2"): _from_type,
    ("torch", "Tensor"): _Type(),
    ("torch.nn.parameter", "Parameter"): _Type(),
    ("torch", "Size"): tuple,
} | {("torch", name): _Dtype(dtype) for name, (dtype, _) in _STORAGES.items()}


class _Unpickler(pickle.Unpickler):
    """The allow-listed unpickler; `storages` collects the storages by key (shared ones once)."""

    def __init__(self, file, where: str):
        super().__init__(file)
        self.where, self.storages = where, {}

    def find_class(self, module: str, name: str):
        # Python 2's names (protocol 2 writes __builtin__), mapped as pickle's own find_class does
        module, name = _compat_pickle.NAME_MAPPING.get((module, name), (module, name))
        module = _compat_pickle.IMPORT_MAPPING.get(module, module)
        if (module, name) not in _ALLOWED:
            raise TensorFileError(f"{self.where} holds {module}.{name}, which is not tensor data")
        return _ALLOWED[(module, name)]

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"):
            raise TensorFileError(f"{self.where} refers to {str(pid)[:40]}, not to a storage")
        kind, key, numel = pid[1], str(pid[2]), pid[4]
        if not isinstance(kind, _Dtype) or not isinstance(numel, int) or numel < 0:
            raise TensorFileError(f"{self.where} has a storage of an unknown kind")
        if key not in self.storages:
            self.storages[key] = Storage(key, kind.name, numel)
        return self.storages[key]


def read_tensor_file(path: Path, *, values: bool = False):
    """What ``torch.save`` wrote to `path`, its tensors as `StoredTensor` (with their storages'
    values when `values`); TensorFileError naming the file when it is not a torch file, holds
    anything but tensors in plain containers, or ends early; OSError when it cannot be read."""
    path = Path(path)
    if zipfile.is_zipfile(path):
        return _read_zip(path, values)
    with open(path, "rb") as file:
        return _read_stream(file, path, values)


def _with_values(tree, values: dict[str, np.ndarray] | None):
    """`tree` with every tensor given its storage's values (`values`: by storage key; None: as
    read, without values)."""
    if values is None:
        return tree

    def fill(node):
        if isinstance(node, StoredTensor):
            storage = values[node.storage.key]
            return StoredTensor(node.storage, node.offset, node.shape, node.stride, storage)
        if isinstance(node, dict):
            return type(node)((key, fill(value)) for key, value in node.items())
        if isinstance(node, list | tuple):
            return type(node)(fill(value) for value in node)
        return node

    return fill(tree)


def _read_zip(path: Path, values: bool):
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            pickles = [n for n in names if n.endswith("/data.pkl") or n == "data.pkl"]
            if len(pickles) != 1:
                raise TensorFileError(f"{path} is a zip archive but not a torch.save file")
            prefix = pickles[0][: -len("data.pkl")]
            if archive.getinfo(pickles[0]).file_size > MAX_PICKLE_BYTES:
                raise TensorFileError(f"{path}: its data.pkl is larger than a tensor file's")
            unpickler = _Unpickler(io.BytesIO(archive.read(pickles[0])), str(path))
            tree = _load(unpickler, path)
            byteorder = "little"
            if f"{prefix}byteorder" in names:
                byteorder = archive.read(f"{prefix}byteorder").decode().strip()
            read = None
            if values:
                read = {}
                for key, storage in unpickler.storages.items():
                    raw = archive.read(f"{prefix}data/{key}")
                    read[key] = _values(raw, storage, byteorder, path)
    except (zipfile.BadZipFile, KeyError, EOFError, OSError) as error:
        if isinstance(error, FileNotFoundError):
            raise
        raise TensorFileError(f"{path} is truncated or corrupt ({error})") from None
    return _with_values(tree, read)


def _values(raw: bytes, storage: Storage, byteorder: str, path: Path) -> np.ndarray:
    dtype = np.dtype(_NUMPY[storage.dtype]).newbyteorder("<" if byteorder == "little" else ">")
    if len(raw) < storage.numel * dtype.itemsize:
        raise TensorFileError(f"{path}: storage {storage.key} is shorter than its tensors")
    return np.frombuffer(raw, dtype=dtype, count=storage.numel).astype(dtype.newbyteorder("="))


def _load(unpickler: _Unpickler, path: Path):
    try:
        return unpickler.load()
    except TensorFileError:
        raise
    except Exception as error:  # a malformed pickle: anything the pickle machinery raises
        raise TensorFileError(f"{path} is not a readable torch.save file ({error})") from None


def _read_stream(file, path: Path, values: bool):
    """torch's stream format: magic number, protocol, system info, the pickle, the storage keys,
    then each storage's element count (8 bytes) and values, in the keys' order."""
    header = _Unpickler(file, str(path))
    try:
        magic = header.load()
    except Exception:
        raise TensorFileError(f"{path} is not a torch.save file, or is truncated") from None
    if magic != _LEGACY_MAGIC:
        raise TensorFileError(f"{path} is not a torch.save file, or is truncated")
    _load(header, path)  # protocol version
    info = _load(header, path)
    little = not isinstance(info, dict) or info.get("little_endian", True)
    unpickler = _Unpickler(file, str(path))
    tree = _load(unpickler, path)
    keys = _load(_Unpickler(file, str(path)), path)
    read = None
    if values:
        read = {}
        for key in keys:
            storage = unpickler.storages.get(str(key))
            if storage is None:
                raise TensorFileError(f"{path} lists a storage {key} that no tensor uses")
            (count,) = struct.unpack("<q" if little else ">q", file.read(8) or b"\0" * 8)
            size = count * np.dtype(_NUMPY[storage.dtype]).itemsize
            raw = file.read(size)
            if count != storage.numel or len(raw) != size:
                raise TensorFileError(f"{path} is truncated or corrupt")
            read[storage.key] = _values(raw, storage, "little" if little else "big", path)
    return _with_values(tree, read)
