"""Recognise a model file by its bytes, without importing torch or onnx.

A user who brings a model file can bring the wrong one: an empty or truncated copy, a Git LFS
pointer instead of the weights, a PNG, a ``torch.save()`` state dict where TorchScript is
expected, a TorchScript archive where ONNX is expected, or an ONNX model whose weights live in
external data files. :func:`sniff` tells these apart from the first bytes, the zip directory
and the protobuf structure, and :func:`onnx_file_problems` / :func:`torchscript_file_problems`
turn what it found into one sentence each, naming the user's file and the fix.

Nothing here imports torch, onnx or onnxruntime (validation runs at ``cdk synth``, where a cached
model must not pay for them), and nothing reads a whole model: an ONNX file is walked field by
field with seeks over the weight bytes, so a multi-GB file costs a few thousand small reads.
A ``torch.save()`` archive's ``data.pkl`` is read as pickle opcodes (``pickletools.genops``),
which never executes it.

Format facts used (checked against torch 2.13 and onnx 1.23 output):

* TorchScript (``torch.jit.save``): a zip with ``<stem>/code/…`` and ``<stem>/constants.pkl``;
* ``torch.save`` (zip format, torch >= 1.6): a zip with ``<stem>/data.pkl`` and no ``code/``;
  the legacy format is a pickle starting with ``torch.serialization.MAGIC_NUMBER``;
* ``torch.export.save`` (``.pt2``): a zip with ``<stem>/archive_format`` and ``models/``;
* ONNX: a protobuf ``ModelProto`` (``onnx/onnx.proto``): ``ir_version`` (field 1), ``graph``
  (7); the graph's ``initializer`` (5), ``input`` (11), ``output`` (12); a tensor's
  ``data_location`` (14) is 1 (EXTERNAL) when its bytes live in another file.
"""

from __future__ import annotations

import pickletools
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from model_build.dtypes import ONNX_TO_TRITON

# How much of a file's head decides text vs binary and the magic numbers.
HEAD_BYTES = 8192
# torch.serialization.MAGIC_NUMBER (0x1950a86a20f9469cfc6c) as the legacy format pickles it:
# PROTO 2, then LONG1 with 10 little-endian bytes.
_TORCH_LEGACY_MAGIC = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19"
# data.pkl of a torch.save() archive is small (tensor bytes live in data/N); above this the
# pickle is not inspected and the file is described generically.
_MAX_PICKLE_BYTES = 32 << 20
# Members of a TorchScript archive whose CRC is checked: the code and the pickles, not the weights.
_MAX_CHECKED_MEMBER_BYTES = 4 << 20
_MAGIC: tuple[tuple[bytes, str, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "png", "a PNG image"),
    (b"\xff\xd8\xff", "jpeg", "a JPEG image"),
    (b"GIF8", "gif", "a GIF image"),
    (b"%PDF", "pdf", "a PDF document"),
    (b"\x1f\x8b", "gzip", "a gzip archive (a model.tar.gz?)"),
    (b"\x89HDF\r\n\x1a\n", "hdf5", "an HDF5 file (Keras .h5?)"),
    (b"\x93NUMPY", "numpy", "a NumPy .npy array"),
    (b"\x7fELF", "elf", "a compiled program or shared library"),
)
_ONNX_MODEL_FIELDS = {1: 0, 2: 2, 3: 2, 4: 2, 5: 0, 6: 2, 7: 2, 8: 2, 14: 2, 20: 2, 25: 2, 26: 2}
_ONNX_EXTERNAL = 1  # TensorProto.DataLocation.EXTERNAL


@dataclass(frozen=True)
class TensorSignature:
    """One graph input or output as the ONNX file declares it.

    Attributes:
        name: Tensor name.
        elem_type: ``onnx.TensorProto`` element type; None when the value is not a tensor.
        dims: One entry per dimension: its size, or None when symbolic or unknown.
    """

    name: str
    elem_type: int | None
    dims: tuple[int | None, ...]


@dataclass(frozen=True)
class OnnxSummary:
    """What :func:`sniff` read from an ONNX file's structure.

    Attributes:
        ir_version: The model's IR version.
        inputs: Graph inputs that are not initializers.
        outputs: Graph outputs.
        external_data: The ``location`` of every initializer stored outside the file.
    """

    ir_version: int
    inputs: tuple[TensorSignature, ...]
    outputs: tuple[TensorSignature, ...]
    external_data: tuple[str, ...]


@dataclass(frozen=True)
class Sniff:
    """What a file is, by its bytes.

    Attributes:
        kind: ``onnx``, ``torchscript``, ``torch-save``, ``torch-legacy``, ``torch-export``,
            ``pickle``, ``zip``, ``text``, ``git-lfs-pointer``, ``html``, ``empty``, ``missing``,
            ``folder``, ``safetensors``, ``tflite``, one of the image/archive kinds, or
            ``unknown``.
        description: The kind in words, for messages ("a torch.save() state dict …").
        damage: Why a file of this kind cannot be read (truncated, corrupt); None when sound.
        onnx: The ONNX structure, for a sound ONNX file.
    """

    kind: str
    description: str
    damage: str | None = None
    onnx: OnnxSummary | None = field(default=None, compare=False)


def sniff(path: Path) -> Sniff:
    """Return what ``path`` holds, reading only its head, zip directory or protobuf structure."""
    path = Path(path)
    if not path.exists():
        return Sniff("missing", "missing")
    if path.is_dir():
        return Sniff("folder", "a folder")
    size = path.stat().st_size
    if size == 0:
        return Sniff("empty", "empty (0 bytes)")
    with path.open("rb") as fh:
        head = fh.read(HEAD_BYTES)
        for magic, kind, description in _MAGIC:
            if head.startswith(magic):
                return Sniff(kind, description)
        if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
            return _sniff_zip(path, size)
        if head.startswith(_TORCH_LEGACY_MAGIC):
            return Sniff("torch-legacy", "a torch.save() file in the legacy (pre-1.6, non-zip) format")
        if len(head) > 1 and head[0] == 0x80 and 2 <= head[1] <= 5:
            return Sniff("pickle", "a Python pickle (joblib/pickle.dump?)")
        if len(head) >= 8 and head[4:8] == b"TFL3":
            return Sniff("tflite", "a TensorFlow Lite model")
        if _is_safetensors(head, size):
            return Sniff("safetensors", "a safetensors weights file (tensors only, no graph)")
        text = _as_text(head)
        if text is not None:
            return _sniff_text(text)
        return _sniff_onnx(fh, size)


def onnx_file_problems(path: Path, label: str) -> list[str]:
    """Return why ``path`` cannot be served as an ONNX model (empty when it can).

    Args:
        path: The user's file.
        label: What names it in the message: a spec key (``source.path``) or a flag (``--onnx``).
    """
    found = sniff(path)
    where = f"{label} {str(path)!r}"
    if found.kind == "onnx" and found.damage is None:
        assert found.onnx is not None
        return _onnx_structure_problems(where, path, found.onnx)
    if found.kind == "onnx":
        return [f"{where} is a damaged ONNX model ({found.damage}); copy or export the file again"]
    if found.kind == "missing":
        return [f"{where} does not exist{_sibling_hint(path)}; give the path of your .onnx file"]
    if found.kind == "torchscript":
        fix = (
            'use a spec file with [source] kind = "torchscript" and its inputs (see docs/your-model.md), '
            "or export the model with torch.onnx.export"
        )
    elif found.kind in _TORCH_SAVE_KINDS:
        fix = (
            'write a factory that builds the model and loads these weights, and use [source] kind = "factory" '
            "(see docs/your-model.md)"
        )
    else:
        fix = _generic_fix(found, "give the .onnx file written by torch.onnx.export or onnx.save")
    return [f"{where} is not an ONNX model: it is {_described(found)}; {fix}"]


def torchscript_file_problems(path: Path, label: str) -> list[str]:
    """Return why ``path`` cannot be loaded with ``torch.jit.load`` (empty when it can).

    Args:
        path: The user's file.
        label: What names it in the message (``source.path``).
    """
    found = sniff(path)
    where = f"{label} {str(path)!r}"
    if found.kind == "torchscript" and found.damage is None:
        return []
    if found.kind == "torchscript":
        return [f"{where} is a damaged TorchScript archive ({found.damage}); save or copy the file again"]
    if found.kind == "missing":
        return [f"{where} does not exist{_sibling_hint(path)}; give the path of your TorchScript file"]
    if found.kind == "onnx" and found.damage is None:
        return [
            f'{where} is an ONNX model, not TorchScript: use [source] kind = "onnx" (its inputs '
            "come from the graph; no [[source.inputs]] needed)"
        ]
    if found.kind in _TORCH_SAVE_KINDS:
        fix = (
            "save TorchScript instead with torch.jit.save(torch.jit.script(model), path) (or torch.jit.trace), "
            'or keep this file and use [source] kind = "factory" with a function that builds the model '
            "and loads it (see docs/your-model.md)"
        )
    else:
        fix = _generic_fix(found, "give the file written by torch.jit.save")
    return [f"{where} is not a TorchScript archive (torch.jit.load cannot read it): it is {_described(found)}; {fix}"]


@dataclass(frozen=True)
class ForwardSignature:
    """The arguments of a TorchScript module's ``forward``, read from the archive's code.

    Attributes:
        names: Argument names after ``self``.
        required: How many of them have no default.
    """

    names: tuple[str, ...]
    required: int


def torchscript_forward(path: Path) -> ForwardSignature | None:
    """Return the root module's ``forward`` arguments, read from the archive (None when unreadable).

    The root module's class is the first ``GLOBAL`` of ``data.pkl`` (``__torch__.Net`` or a
    mangled ``__torch__.___torch_mangle_1 Net``); its serialized code in
    ``code/<module path>.py`` is Python syntax, parsed with :mod:`ast` (never executed).
    """
    import ast

    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            stem = names[0].split("/", 1)[0]
            info = archive.getinfo(f"{stem}/data.pkl")
            if info.file_size > _MAX_PICKLE_BYTES:
                return None
            root = next(
                (a for op, a, _ in pickletools.genops(archive.read(info)) if op.name == "GLOBAL"), None
            )
            if not isinstance(root, str) or " " not in root:
                return None
            module, class_name = root.split(" ", 1)
            code = archive.read(f"{stem}/code/{module.replace('.', '/')}.py").decode("utf-8")
        tree = ast.parse(code)
    except Exception:  # a shape this reader does not know: no opinion
        return None
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == class_name:
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and item.name == "forward":
                    args = [a.arg for a in item.args.args[1:]]
                    return ForwardSignature(tuple(args), len(args) - len(item.args.defaults))
    return None


# -- internals ------------------------------------------------------------------------------------

_FIXES = {
    "empty": "the copy or download did not finish: copy the model file again",
    "git-lfs-pointer": "run `git lfs pull` to fetch the real file",
    "html": "download the model file again (check the URL and your credentials)",
    "gzip": "extract it (tar -xzf) and give the model file inside",
    "folder": "give the model file inside it, not the folder",
}


# Files torch.save() or torch.export.save() wrote: weights or programs, never a servable model.
_TORCH_SAVE_KINDS = frozenset({"torch-save", "torch-legacy", "torch-export"})


def _generic_fix(found: Sniff, default: str) -> str:
    """Return the fix for a file that is no model: copy a damaged one again, else by kind, else ``default``."""
    return "copy or save the file again" if found.damage is not None else _FIXES.get(found.kind, default)


# Files next to a model that are never the model: not offered as the near match of a missing one
# (a missing classifier.pt is not "did you mean 'classifier_net.py'?").
_NOT_MODEL_SUFFIXES = frozenset({".py", ".toml", ".md", ".txt", ".json", ".yaml", ".yml", ".cfg", ".ini", ".log"})


def _described(found: Sniff) -> str:
    return found.description if found.damage is None else f"{found.description} that is {found.damage}"


def _sibling_hint(path: Path) -> str:
    """Return ``" (did you mean 'x'?)"`` for a near-named file in the same folder, or ``""``."""
    from model_build.user_errors import did_you_mean

    folder = path.parent
    if not folder.is_dir():
        return f" (no folder {str(folder)!r} either)"
    siblings = [p.name for p in folder.iterdir() if p.is_file() and p.suffix.lower() not in _NOT_MODEL_SUFFIXES]
    return did_you_mean(path.name, siblings)


def _onnx_structure_problems(where: str, path: Path, summary: OnnxSummary) -> list[str]:
    problems = []
    if summary.external_data:
        locations = sorted(set(summary.external_data))
        problems.append(
            f"{where} keeps {len(summary.external_data)} weight tensors in external data files "
            f"({', '.join(locations[:3])}{', …' if len(locations) > 3 else ''}), and model_build "
            "packages one self-contained file: re-save it with onnx.save(onnx.load(path), "
            f"'{path.stem}-single.onnx', save_as_external_data=False) (possible below protobuf's 2 GiB limit)"
        )
    if not summary.inputs:
        problems.append(f"{where} has no graph inputs; export the model with its inputs")
    for kind, tensors in (("input", summary.inputs), ("output", summary.outputs)):
        for t in tensors:
            if t.elem_type is None:
                problems.append(
                    f"{where} graph {kind} {t.name!r} is not a tensor (a sequence, map or optional); "
                    "Triton's ONNX Runtime backend serves tensors only: return tensors from forward"
                )
            elif t.elem_type not in ONNX_TO_TRITON:
                problems.append(
                    f"{where} graph {kind} {t.name!r} has ONNX element type {t.elem_type}, which Triton "
                    f"cannot serve; cast it to one of {', '.join(sorted(set(ONNX_TO_TRITON.values())))}"
                )
            elif not t.dims:
                problems.append(
                    f"{where} graph {kind} {t.name!r} is a scalar; Triton needs a leading batch dimension: "
                    "re-export with a batch axis"
                )
            elif t.dims[0] is not None:
                problems.append(
                    f"{where} graph {kind} {t.name!r} has a fixed first dimension {t.dims[0]}, and Triton's "
                    "max_batch_size >= 1 needs a dynamic batch dimension: re-export with "
                    f"torch.onnx.export(..., dynamic_axes={{{t.name!r}: {{0: 'batch'}}}})"
                )
    return problems


def _as_text(head: bytes) -> str | None:
    """Return the head as text when it looks like text (UTF-8, no NUL, few control chars)."""
    if b"\0" in head:
        return None
    try:
        # A multi-byte character may be cut at the end of the head.
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:
            return None
        text = head[: exc.start].decode("utf-8")
    controls = sum(1 for ch in text if ord(ch) < 32 and ch not in "\t\n\r\f\v\x1b")
    return text if controls <= len(text) // 100 else None


def _sniff_text(text: str) -> Sniff:
    stripped = text.lstrip().lower()
    if stripped.startswith("version https://git-lfs.github.com/spec"):
        return Sniff("git-lfs-pointer", "a Git LFS pointer (a small text file that stands in for the model)")
    if stripped.startswith(("<!doctype html", "<html")):
        return Sniff("html", "an HTML page (a login or error page saved instead of the model?)")
    return Sniff("text", "a text file")


def _is_safetensors(head: bytes, size: int) -> bool:
    if len(head) < 9:
        return False
    header_len = int.from_bytes(head[:8], "little")
    return 0 < header_len <= size - 8 and head[8:9] == b"{"


def _sniff_zip(path: Path, size: int) -> Sniff:
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            if any(re.search(r"(^|/)code/", n) for n in names) or any(
                n.endswith("/constants.pkl") for n in names
            ):
                return Sniff("torchscript", "a TorchScript archive", damage=_zip_member_damage(archive))
            if any(n.endswith("/archive_format") or "serialized_exported_program" in n for n in names):
                return Sniff("torch-export", "a torch.export program (.pt2)")
            pickles = [n for n in names if n.endswith("data.pkl")]
            if pickles:
                return Sniff("torch-save", _torch_save_description(archive, pickles[0]))
            if names and all(n.endswith(".npy") for n in names):
                return Sniff("numpy", "a NumPy .npz archive")
            if any(n.endswith("model.weights.h5") for n in names):
                return Sniff("keras", "a Keras .keras archive")
            return Sniff("zip", "a zip archive")
    except zipfile.BadZipFile:
        return Sniff(
            "zip",
            "a zip archive (the container of TorchScript and torch.save files)",
            damage=f"truncated or corrupt: its directory at the end is missing or damaged ({size} bytes)",
        )


def _zip_member_damage(archive: zipfile.ZipFile) -> str | None:
    for info in archive.infolist():
        if info.file_size > _MAX_CHECKED_MEMBER_BYTES or not (
            info.filename.endswith(".pkl") or "/code/" in info.filename
        ):
            continue
        try:
            with archive.open(info) as member:
                while member.read(1 << 16):
                    pass
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            return f"member {info.filename} is corrupt ({exc})"
        except Exception as exc:  # zlib.error and friends
            return f"member {info.filename} is corrupt ({type(exc).__name__}: {exc})"
    return None


def _torch_save_description(archive: zipfile.ZipFile, member: str) -> str:
    """Describe a torch.save() archive by the names its data.pkl references (never unpickled)."""
    info = archive.getinfo(member)
    if info.file_size > _MAX_PICKLE_BYTES:
        return "a torch.save() file"
    globals_: list[str] = []
    strings: set[str] = set()
    try:
        for opcode, arg, _pos in pickletools.genops(archive.read(member)):
            if opcode.name == "GLOBAL" and isinstance(arg, str):
                globals_.append(arg.replace(" ", "."))
            elif isinstance(arg, str):
                strings.add(arg)
    except Exception:  # a damaged pickle: still a torch.save() file
        return "a torch.save() file"
    if {"_parameters", "_modules"} <= strings:
        classes = [g for g in globals_ if not g.startswith(("torch.", "collections.", "__builtin__."))]
        named = f" of class {classes[0]}" if classes else ""
        return f"a whole model pickled with torch.save(model){named} (loading it needs that class's code)"
    checkpoint_keys = sorted(strings & {"state_dict", "model_state_dict", "model", "optimizer_state_dict"})
    if checkpoint_keys:
        return f"a torch.save() training checkpoint (a dict with {', '.join(map(repr, checkpoint_keys))})"
    if globals_[:1] == ["collections.OrderedDict"]:
        return "a torch.save() state dict (parameter tensors only, no code)"
    return "a torch.save() file of tensors or Python objects (a state dict?), without the model's code"


class _Damaged(Exception):
    """The protobuf structure is broken; the message says how."""


class _Truncated(_Damaged):
    """The structure needs bytes past the end of the file."""


class _Protobuf:
    """A seek-based reader of protobuf wire format over a file: field headers, never payloads."""

    def __init__(self, fh: IO[bytes], size: int) -> None:
        self.fh = fh
        self.size = size

    def varint(self) -> int:
        start = self.fh.tell()
        data = self.fh.read(10)
        value = 0
        for i, byte in enumerate(data):
            value |= (byte & 0x7F) << (7 * i)
            if byte < 0x80:
                self.fh.seek(start + i + 1)
                return value
        if len(data) < 10:
            raise _Truncated(f"the file ends inside a number at byte {start + len(data)} of {self.size}")
        raise _Damaged(f"an over-long number at byte {start}")

    def fields(self, end: int) -> Iterator[tuple[int, int, int, int]]:
        """Yield ``(field, wire_type, value, payload_start)`` until ``end``; length fields are skipped after."""
        pos = self.fh.tell()
        while pos < end:
            self.fh.seek(pos)
            tag = self.varint()
            number, wire = tag >> 3, tag & 7
            if number == 0:
                raise _Damaged(f"field number 0 at byte {pos}")
            start = self.fh.tell()
            if wire == 0:
                value = self.varint()
                pos = self.fh.tell()
                yield number, wire, value, start
            elif wire == 2:
                length = self.varint()
                start = self.fh.tell()
                if start + length > end:
                    if start + length > self.size:
                        raise _Truncated(
                            f"a field at byte {pos} needs {length} bytes but the file ends at byte {self.size}"
                        )
                    raise _Damaged(f"a field at byte {pos} runs past its enclosing message")
                yield number, wire, length, start
                pos = start + length
            elif wire in (1, 5):
                pos = start + (8 if wire == 1 else 4)
                if pos > self.size:
                    raise _Truncated(f"the file ends inside a field at byte {start}")
                yield number, wire, 0, start
            else:
                raise _Damaged(f"invalid field type {wire} at byte {pos}")
        if pos > end:
            raise _Damaged(f"a field runs past its enclosing message at byte {end}")
        self.fh.seek(end)

    def string(self, start: int, length: int) -> str:
        self.fh.seek(start)
        return self.fh.read(min(length, 4096)).decode("utf-8", errors="replace")


def _signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def _sniff_onnx(fh: IO[bytes], size: int) -> Sniff:
    pb = _Protobuf(fh, size)
    fh.seek(0)
    ir_version: int | None = None
    graph: tuple[int, int] | None = None
    try:
        for number, wire, value, start in pb.fields(size):
            expected = _ONNX_MODEL_FIELDS.get(number)
            if expected is not None and expected != wire:
                raise _Damaged(f"field {number} has the wrong type for an ONNX ModelProto")
            if number == 1:
                ir_version = value
            elif number == 7:
                graph = (start, value)
        if ir_version is None or graph is None:
            return Sniff("unknown", "binary data without the ir_version and graph of an ONNX ModelProto")
        summary = _read_graph(pb, ir_version, *graph)
    except _Truncated as exc:
        if ir_version is None:
            return Sniff("unknown", f"binary data that does not parse as ONNX ({exc})")
        return Sniff("onnx", "an ONNX model", damage=f"truncated: {exc}")
    except _Damaged as exc:
        if ir_version is None or graph is None:
            return Sniff("unknown", f"binary data that does not parse as ONNX ({exc})")
        return Sniff("onnx", "an ONNX model", damage=f"corrupt: {exc}")
    return Sniff("onnx", "an ONNX model", onnx=summary)


def _read_graph(pb: _Protobuf, ir_version: int, start: int, length: int) -> OnnxSummary:
    initializers: set[str] = set()
    external: list[str] = []
    inputs: list[tuple[int, int]] = []
    outputs: list[tuple[int, int]] = []
    pb.fh.seek(start)
    for number, wire, value, begin in pb.fields(start + length):
        if wire != 2:
            continue
        if number == 5:
            name, location = _read_initializer(pb, begin, value)
            initializers.add(name)
            if location is not None:
                external.append(location)
        elif number == 11:
            inputs.append((begin, value))
        elif number == 12:
            outputs.append((begin, value))
    ins = tuple(s for s in (_read_value_info(pb, b, n) for b, n in inputs) if s.name not in initializers)
    outs = tuple(_read_value_info(pb, b, n) for b, n in outputs)
    return OnnxSummary(ir_version=ir_version, inputs=ins, outputs=outs, external_data=tuple(external))


def _read_initializer(pb: _Protobuf, start: int, length: int) -> tuple[str, str | None]:
    name = ""
    external = False
    location = "external data"
    pb.fh.seek(start)
    for number, wire, value, begin in pb.fields(start + length):
        if number == 8 and wire == 2:
            name = pb.string(begin, value)
        elif number == 14 and wire == 0:
            external = value == _ONNX_EXTERNAL
        elif number == 13 and wire == 2:
            pb.fh.seek(begin)
            key = val = ""
            for n, w, v, b in pb.fields(begin + value):
                if w == 2 and n == 1:
                    key = pb.string(b, v)
                elif w == 2 and n == 2:
                    val = pb.string(b, v)
            if key == "location":
                location = val
    return name, (location if external else None)


def _read_value_info(pb: _Protobuf, start: int, length: int) -> TensorSignature:
    name = ""
    elem_type: int | None = None
    dims: list[int | None] = []
    pb.fh.seek(start)
    for number, wire, value, begin in pb.fields(start + length):
        if number == 1 and wire == 2:
            name = pb.string(begin, value)
        elif number == 2 and wire == 2:
            pb.fh.seek(begin)
            for n, w, v, b in pb.fields(begin + value):
                if n == 1 and w == 2:  # tensor_type
                    elem_type, dims = _read_tensor_type(pb, b, v)
    return TensorSignature(name=name, elem_type=elem_type, dims=tuple(dims))


def _read_tensor_type(pb: _Protobuf, start: int, length: int) -> tuple[int, list[int | None]]:
    elem_type = 0
    dims: list[int | None] = []
    pb.fh.seek(start)
    for number, wire, value, begin in pb.fields(start + length):
        if number == 1 and wire == 0:
            elem_type = value
        elif number == 2 and wire == 2:
            pb.fh.seek(begin)
            for n, w, v, b in pb.fields(begin + value):
                if n != 1 or w != 2:
                    continue
                size: int | None = None
                pb.fh.seek(b)
                for dn, dw, dv, _db in pb.fields(b + v):
                    if dn == 1 and dw == 0:
                        size = _signed(dv)
                dims.append(size)
    return elem_type, dims
