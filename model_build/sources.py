"""Model sources: where a model comes from, how it is fingerprinted and how it is loaded.

Every source is a small frozen dataclass with:

* ``fingerprint() -> bytes`` — what the cache key hashes. It reads files and JSON only and
  never imports torch, so a cache hit (and ``cdk synth``) stays light.
* ``load() -> LoadedModel`` — the torch module (or ``None`` for an ONNX file) plus named
  tensor specs, example inputs and output names. torch/transformers are imported here.
* ``describe() -> dict`` — a JSON description for the build manifest.
* ``problems() -> list[str]`` — validation problems, merged into ``ModelSpec.validate()``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from model_build.dtypes import TRITON_DTYPES, is_float

# Size used for dynamic (-1) non-batch dims when example or verification inputs are made.
DYNAMIC_DIM_EXAMPLE = 8
# Batch size of the example inputs given to the exporter: 2, not 1, so that no exporter can
# mistake the batch dimension for a broadcastable constant 1.
EXPORT_BATCH_SIZE = 2

ARCHITECTURES: tuple[str, ...] = ("bert-sequence-classification", "resnet-image-classification")


@dataclass(frozen=True)
class TensorSpec:
    """One named input or output tensor, without the batch dimension (as Triton lists it).

    Attributes:
        name: Tensor name in the ONNX graph and the Triton config.
        dtype: Triton data type name without ``TYPE_``: "FP32", "INT64", ...
        dims: Dimensions after the batch dimension; -1 marks a dynamic dimension.
        value_range: ``[low, high)`` for generated test data. Defaults to None: standard
            normal for floats, ``[0, 2)`` for integers (safe for ids and masks).
    """

    name: str
    dtype: str
    dims: tuple[int, ...]
    value_range: tuple[float, float] | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the spec as JSON-able data."""
        return {"name": self.name, "dtype": self.dtype, "dims": list(self.dims)}


@dataclass(frozen=True)
class LoadedModel:
    """A loaded source, ready for export and verification.

    Attributes:
        module: The torch module in eval mode whose ``forward`` takes the inputs positionally
            in ``inputs`` order and returns a tensor or tuple of tensors; None for ONNX files.
        inputs: Input tensor specs, in ``forward`` argument order.
        output_names: Output names, in ``forward`` return order.
        onnx_path: The ONNX file, for sources that already are ONNX.
    """

    module: Any
    inputs: tuple[TensorSpec, ...]
    output_names: tuple[str, ...]
    onnx_path: Path | None = None


@runtime_checkable
class ModelSource(Protocol):
    """What every model source provides (see the module docstring)."""

    def fingerprint(self) -> bytes:
        """Return the bytes the cache key hashes (no torch import)."""
        ...

    def describe(self) -> dict[str, Any]:
        """Return a JSON description for the manifest."""
        ...

    def problems(self) -> list[str]:
        """Return validation problems (empty when valid)."""
        ...

    def load(self) -> LoadedModel:
        """Load the model (imports torch where needed)."""
        ...


def random_inputs(specs: tuple[TensorSpec, ...], batch_size: int, seed: int) -> dict[str, Any]:
    """Return seeded numpy inputs of shape ``[batch_size, *dims]`` for each spec.

    Dynamic dims become :data:`DYNAMIC_DIM_EXAMPLE`.
    """
    import numpy as np

    from model_build.dtypes import TRITON_TO_NUMPY

    rng = np.random.default_rng(seed)
    out: dict[str, Any] = {}
    for spec in specs:
        shape = (batch_size, *(DYNAMIC_DIM_EXAMPLE if d < 0 else d for d in spec.dims))
        np_dtype = np.dtype(TRITON_TO_NUMPY[spec.dtype])
        arr: Any
        if is_float(spec.dtype):
            if spec.value_range is None:
                arr = rng.standard_normal(shape)
            else:
                arr = rng.uniform(spec.value_range[0], spec.value_range[1], shape)
        elif spec.dtype == "BOOL":
            arr = rng.integers(0, 2, shape).astype(bool)
        else:
            low, high = spec.value_range if spec.value_range is not None else (0, 2)
            arr = rng.integers(int(low), int(high), shape)
        out[spec.name] = arr.astype(np_dtype)
    return out


def _tensor_spec_problems(label: str, specs: tuple[TensorSpec, ...]) -> list[str]:
    problems = []
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        problems.append(f"{label} names must be unique (got {names})")
    for s in specs:
        if s.dtype not in TRITON_DTYPES:
            problems.append(
                f"{label} {s.name!r} dtype must be one of {', '.join(sorted(TRITON_DTYPES))} (got {s.dtype!r})"
            )
        if any(d == 0 or d < -1 for d in s.dims):
            problems.append(
                f"{label} {s.name!r} dims must be positive or -1 for dynamic (got {list(s.dims)})"
            )
    return problems


def _file_digest(path: Path) -> bytes:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.digest()


def _dir_digest(path: Path) -> bytes:
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(file.relative_to(path).as_posix().encode() + b"\0")
        digest.update(_file_digest(file))
    return digest.digest()


def _json_bytes(data: Any) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":")).encode()


@dataclass(frozen=True)
class OnnxFile:
    """An existing ONNX model; the export stage copies it.

    There is no torch reference, so verification checks that ONNX Runtime runs it at several
    batch sizes with finite outputs of the declared shapes, and reports "no reference".

    Attributes:
        path: The ``.onnx`` file (weights must be embedded, not external data).
    """

    path: Path

    def fingerprint(self) -> bytes:
        """Return the sha256 of the file bytes."""
        return b"onnx-file:" + _file_digest(Path(self.path))

    def describe(self) -> dict[str, Any]:
        """Return a JSON description for the manifest."""
        return {"kind": "onnx-file", "path": str(self.path)}

    def problems(self) -> list[str]:
        """Return validation problems."""
        if not Path(self.path).is_file():
            return [f"source.path must be an existing ONNX file (got {str(self.path)!r})"]
        return []

    def load(self) -> LoadedModel:
        """Read the tensor specs from the ONNX graph (imports onnx, not torch)."""
        from model_build.triton_config import onnx_io

        inputs, outputs = onnx_io(Path(self.path))
        return LoadedModel(
            module=None, inputs=inputs, output_names=tuple(o.name for o in outputs), onnx_path=Path(self.path)
        )


@dataclass(frozen=True)
class TorchScriptFile:
    """A TorchScript file (``torch.jit.save``) with declared input specs.

    Attributes:
        path: The ``.pt`` file.
        inputs: Input specs in ``forward`` argument order (batch dimension excluded).
        output_names: Output names in ``forward`` return order. Defaults to ``("output",)``.
    """

    path: Path
    inputs: tuple[TensorSpec, ...]
    output_names: tuple[str, ...] = ("output",)

    def fingerprint(self) -> bytes:
        """Return the file digest plus the declared tensor specs."""
        meta = {"inputs": [s.to_dict() for s in self.inputs], "outputs": list(self.output_names)}
        return b"torchscript:" + _file_digest(Path(self.path)) + _json_bytes(meta)

    def describe(self) -> dict[str, Any]:
        """Return a JSON description for the manifest."""
        return {"kind": "torchscript-file", "path": str(self.path)}

    def problems(self) -> list[str]:
        """Return validation problems."""
        problems = _tensor_spec_problems("source.inputs", tuple(self.inputs))
        if not Path(self.path).is_file():
            problems.append(f"source.path must be an existing TorchScript file (got {str(self.path)!r})")
        if not self.inputs:
            problems.append("source.inputs must list at least one TensorSpec")
        return problems

    def load(self) -> LoadedModel:
        """Load the scripted module with ``torch.jit.load`` on the CPU."""
        import torch

        module = torch.jit.load(str(self.path), map_location="cpu").eval()
        return LoadedModel(module=module, inputs=tuple(self.inputs), output_names=tuple(self.output_names))


@dataclass(frozen=True)
class TransformersConfig:
    """A Hugging Face ``transformers`` architecture built offline from its config.

    Weights are random (seeded) unless ``weights_dir`` points at a local checkpoint;
    nothing is ever downloaded.

    Attributes:
        architecture: "bert-sequence-classification" (inputs ``input_ids``, ``attention_mask``
            INT64 ``[sequence_length]`` → ``logits``) or "resnet-image-classification"
            (``pixel_values`` FP32 ``[C, image_size, image_size]`` → ``logits``).
        config: Keyword arguments of ``BertConfig`` / ``ResNetConfig``.
        seed: torch seed for the random initialisation. Defaults to 0.
        weights_dir: Local ``save_pretrained`` folder to load instead. Defaults to None.
        sequence_length: BERT inputs are padded/truncated to this length. Defaults to 128.
        image_size: ResNet input height and width. Defaults to 224.
    """

    architecture: str
    config: Mapping[str, Any] = field(default_factory=dict)
    seed: int = 0
    weights_dir: Path | None = None
    sequence_length: int = 128
    image_size: int = 224

    def __hash__(self) -> int:
        # The config dict would make the generated hash fail; specs are used as dict keys.
        return hash(self.fingerprint_key())

    def fingerprint_key(self) -> bytes:
        """Return the canonical JSON of the fields (weights folder by path, not content)."""
        return _json_bytes(
            {**self._meta(), "weights_dir": None if self.weights_dir is None else str(self.weights_dir)}
        )

    def _meta(self) -> dict[str, Any]:
        return {
            "architecture": self.architecture,
            "config": dict(self.config),
            "seed": self.seed,
            "sequence_length": self.sequence_length,
            "image_size": self.image_size,
        }

    def fingerprint(self) -> bytes:
        """Return the canonical config JSON, seed and shapes, plus the weights' digest."""
        weights = b"" if self.weights_dir is None else _dir_digest(Path(self.weights_dir))
        return b"transformers:" + _json_bytes(self._meta()) + b"weights:" + weights

    def describe(self) -> dict[str, Any]:
        """Return a JSON description for the manifest."""
        return {
            "kind": "transformers-config",
            **self._meta(),
            "weights_dir": None if self.weights_dir is None else str(self.weights_dir),
        }

    def problems(self) -> list[str]:
        """Return validation problems."""
        problems = []
        if self.architecture not in ARCHITECTURES:
            problems.append(
                f"source.architecture must be one of {', '.join(ARCHITECTURES)} (got {self.architecture!r})"
            )
        try:
            _json_bytes(dict(self.config))
        except TypeError as exc:
            problems.append(f"source.config must be JSON-serialisable ({exc})")
        if self.sequence_length < 1:
            problems.append(f"source.sequence_length must be >= 1 (got {self.sequence_length})")
        max_pos = dict(self.config).get("max_position_embeddings", 512)
        if self.architecture == ARCHITECTURES[0] and self.sequence_length > max_pos:
            problems.append(
                f"source.sequence_length must be <= config max_position_embeddings {max_pos} "
                f"(got {self.sequence_length})"
            )
        if self.image_size < 1:
            problems.append(f"source.image_size must be >= 1 (got {self.image_size})")
        if self.weights_dir is not None and not Path(self.weights_dir).is_dir():
            problems.append(f"source.weights_dir must be an existing folder (got {str(self.weights_dir)!r})")
        return problems

    def load(self) -> LoadedModel:
        """Build the architecture with seeded random weights (or local weights)."""
        import torch

        torch.manual_seed(self.seed)
        if self.architecture == "bert-sequence-classification":
            from transformers import BertConfig, BertForSequenceClassification

            cfg = BertConfig(**dict(self.config))
            if self.weights_dir is not None:
                bert = BertForSequenceClassification.from_pretrained(
                    str(self.weights_dir), local_files_only=True
                )
            else:
                bert = BertForSequenceClassification(cfg)
            inputs = (
                TensorSpec("input_ids", "INT64", (self.sequence_length,), (0, cfg.vocab_size)),
                # All-ones masks: the realistic case, and it keeps verification away from
                # fully-masked rows whose softmax is numerically arbitrary.
                TensorSpec("attention_mask", "INT64", (self.sequence_length,), (1, 2)),
            )
            return LoadedModel(
                module=_logits_only(bert.eval(), ("input_ids", "attention_mask")),
                inputs=inputs,
                output_names=("logits",),
            )
        from transformers import ResNetConfig, ResNetForImageClassification

        rcfg = ResNetConfig(**dict(self.config))
        if self.weights_dir is not None:
            resnet = ResNetForImageClassification.from_pretrained(
                str(self.weights_dir), local_files_only=True
            )
        else:
            resnet = ResNetForImageClassification(rcfg)
        pixel = TensorSpec("pixel_values", "FP32", (rcfg.num_channels, self.image_size, self.image_size))
        return LoadedModel(
            module=_logits_only(resnet.eval(), ("pixel_values",)), inputs=(pixel,), output_names=("logits",)
        )


@dataclass(frozen=True)
class Factory:
    """A Python function that returns a :class:`LoadedModel`.

    Attributes:
        target: ``"package.module:function"``.
        kwargs: JSON-serialisable keyword arguments for the function. Defaults to none.
    """

    target: str
    kwargs: Mapping[str, Any] = field(default_factory=dict)

    def __hash__(self) -> int:
        # The kwargs dict would make the generated hash fail; specs are used as dict keys.
        return hash((self.target, _json_bytes(dict(self.kwargs))))

    def _module_file(self) -> Path | None:
        module_name = self.target.partition(":")[0]
        try:
            found = importlib.util.find_spec(module_name)
        except (ImportError, ValueError):
            return None
        return Path(found.origin) if found is not None and found.origin else None

    def fingerprint(self) -> bytes:
        """Return the bytes of the function's module file plus the kwargs JSON.

        Only the module file itself is hashed, not what it imports: keep a factory's model
        definition in its own module, or bump a kwarg when a dependency changes.
        """
        module_file = self._module_file()
        body = module_file.read_bytes() if module_file is not None else b""
        return b"factory:" + self.target.encode() + b"\0" + body + _json_bytes(dict(self.kwargs))

    def describe(self) -> dict[str, Any]:
        """Return a JSON description for the manifest."""
        return {"kind": "factory", "target": self.target, "kwargs": dict(self.kwargs)}

    def problems(self) -> list[str]:
        """Return validation problems."""
        problems = []
        module_name, sep, func = self.target.partition(":")
        if not sep or not module_name or not func:
            problems.append(f"source.target must look like 'package.module:function' (got {self.target!r})")
        elif self._module_file() is None:
            problems.append(f"source.target module {module_name!r} cannot be found on sys.path")
        try:
            _json_bytes(dict(self.kwargs))
        except TypeError as exc:
            problems.append(f"source.kwargs must be JSON-serialisable ({exc})")
        return problems

    def load(self) -> LoadedModel:
        """Import the module and call the function."""
        import importlib

        module_name, _, func = self.target.partition(":")
        loaded = getattr(importlib.import_module(module_name), func)(**dict(self.kwargs))
        if not isinstance(loaded, LoadedModel):
            raise TypeError(
                f"{self.target} must return model_build.sources.LoadedModel (got {type(loaded).__name__})"
            )
        return loaded


def _logits_only(model: Any, input_names: tuple[str, ...]) -> Any:
    """Wrap a transformers classifier so ``forward(*inputs)`` returns the logits tensor only.

    The exporters and the verification call ``forward`` positionally; transformers models take
    keyword arguments and return a ``ModelOutput``, which would export as extra outputs.
    """
    import torch

    class LogitsOnly(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, *args: Any) -> Any:
            return self.inner(**dict(zip(input_names, args, strict=True)), return_dict=False)[0]

    return LogitsOnly(model).eval()
